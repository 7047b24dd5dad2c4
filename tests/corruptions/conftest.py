"""Fixtures shared by the corruption tests."""

import numpy as np
import pytest

from tfaug.corruptions import corrupt

#: One photo per severity.
SHAPE = (5, 64, 96, 3)


@pytest.fixture(scope="module")
def five_photos():
    """astronaut, chelsea, coffee, astronaut, chelsea as a uint8 `[5, 64, 96, 3]` batch: one per severity.

    Tests draw for batches of this shape (or its gray version), so the kernels are compiled for few sizes."""
    from skimage import data
    from skimage.transform import resize

    images = [
        resize(f(), SHAPE[1:3], anti_aliasing=True, preserve_range=True)
        for f in (data.astronaut, data.chelsea, data.coffee)
    ]
    return np.round(np.stack(images + images[:2])).astype(np.uint8)


@pytest.fixture
def severity_per_image():
    """A check: each image of a batch with mixed severities equals that image of the batch at its severity
    throughout (parameters are per image, draws independent of the severities)."""

    def check(name, photos):
        mixed = corrupt(photos, name, [1, 5, 1, 5, 1], seed=6, table="imagenet").numpy()
        for severity in (1, 5):
            alone = corrupt(photos, name, severity, seed=6, table="imagenet").numpy()
            chosen = np.array([1, 5, 1, 5, 1]) == severity
            np.testing.assert_array_equal(mixed[chosen], alone[chosen])

    return check
