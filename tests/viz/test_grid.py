import numpy as np

from tfaug.data import samples
from tfaug.viz import augmentation_grid
from tfaug.viz import describe_label


def test_describe_label_names_the_two_largest_entries():
    assert describe_label([0.1, 0.62, 0.28], ["a", "b", "c"]) == "0.62 b + 0.28 c"
    assert describe_label([0.0, 1.0, 0.0], ["a", "b", "c"]) == "1.00 b"


def test_grid_writes_png(tmp_path):
    images = np.zeros((3, 8, 8, 3), np.uint8)
    path = tmp_path / "g.png"
    augmentation_grid(images, ["a", "b", "c"], images, np.eye(3), ["a", "b", "c"], path=path, title="t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sample_photos_are_real_and_offline():
    images, names = samples.sample_photos(size=16)
    assert images.shape == (len(samples.PHOTOS), 16, 16, 3) and images.dtype == np.uint8
    assert len(set(names)) == len(names) and "cat" in names
    assert images.std(axis=(1, 2, 3)).min() > 5  # real pictures, not blanks (the galaxy is mostly black)
