"""Shared fixtures. TensorFlow is imported once for the whole session (the suite runs in one process)."""

import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Two logical CPU devices, so MirroredStrategy tests can run two replicas in this one process. This must
# happen before TensorFlow initialises its devices, hence here, at collection time.
_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(_cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)

PHOTO_NAMES = ("astronaut", "coffee", "chelsea", "rocket")


@pytest.fixture(scope="session")
def photos():
    """The real RGB uint8 photos that ship with scikit-image, full size, keyed by name."""
    from skimage import data

    return {name: getattr(data, name)() for name in PHOTO_NAMES}


@pytest.fixture(scope="session")
def small_photos(photos):
    """The same photos resized to a non-square 24x40 uint8 batch `[4, 24, 40, 3]`."""
    from skimage.transform import resize

    batch = [resize(img, (24, 40), preserve_range=True, anti_aliasing=True) for img in photos.values()]
    return np.round(np.stack(batch)).astype(np.uint8)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


#: Modules whose tests run for tens of seconds each (notebook kernels, fresh interpreters, train runs of the
#: command line): collected first. `pytest-xdist --dist worksteal` hands each worker a contiguous share of the
#: collection and lets an idle worker take queued tests, never a running one; a long test near the end of a share
#: leaves the other worker idle while it runs.
LONG_MODULES_FIRST = ("test_notebooks.py", "test_package.py", "test_cli.py")
TESTS = pathlib.Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    def rank(item):
        path = pathlib.Path(item.path).resolve()
        first = path.parent == TESTS and path.name in LONG_MODULES_FIRST
        return LONG_MODULES_FIRST.index(path.name) if first else len(LONG_MODULES_FIRST)

    items.sort(key=rank)  # stable: the order within modules, and of the other modules, is kept
