"""Shared fixtures. TensorFlow is imported once for the whole session (the suite runs in one process)."""

import os

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
