"""Recipe datasets: digits (shapes, stratified seeded splits, few labels), TFDS (mocked, offline error), folders."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from recipes.data import DatasetInfo
from recipes.data import few_labels
from recipes.data import info
from recipes.data import load
from recipes.data import unreadable_images

NUM_DIGITS = 1797


def _arrays(dataset):
    images, labels = zip(*dataset.as_numpy_iterator())
    return np.stack(images), np.array(labels)


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    return load_digits()


def test_digits_default_is_uint8_8x8_gray(digits):
    dataset = load("digits", split="all")
    assert dataset.element_spec == (
        tf.TensorSpec((8, 8, 1), tf.uint8),
        tf.TensorSpec((), tf.int64),
    )
    images, labels = _arrays(dataset)
    assert images.shape == (NUM_DIGITS, 8, 8, 1)
    # "all" keeps scikit-learn's order; 0..16 maps linearly onto 0..255.
    np.testing.assert_array_equal(labels, digits.target)
    np.testing.assert_array_equal(images[..., 0], np.round(digits.images * 255 / 16).astype(np.uint8))
    assert images.min() == 0 and images.max() == 255


def test_digits_upsampled_rgb_float():
    images, labels = _arrays(load("digits", split="test", size=32, channels=3, dtype="float32"))
    assert images.shape[1:] == (32, 32, 3) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0 and images.max() > 0.9
    np.testing.assert_array_equal(images[..., 0], images[..., 2])  # gray copied to all channels
    assert labels.dtype == np.int64


def test_digits_info():
    meta = info("digits")
    assert meta == DatasetInfo("digits", 10, tuple("0123456789"))
    assert meta.num_classes == 10


def test_digits_split_is_stratified_and_complete(digits):
    _, train = _arrays(load("digits", split="train", test_fraction=0.25))
    _, test = _arrays(load("digits", split="test", test_fraction=0.25))
    assert len(train) + len(test) == NUM_DIGITS
    assert len(test) == int(np.ceil(0.25 * NUM_DIGITS))
    totals = np.bincount(digits.target, minlength=10)
    np.testing.assert_array_equal(np.bincount(train, minlength=10) + np.bincount(test, minlength=10), totals)
    # Stratified: every class is within one example of its share.
    assert np.abs(np.bincount(test, minlength=10) - 0.25 * totals).max() <= 1


def test_digits_split_is_deterministic_given_seed():
    first_images, first_labels = _arrays(load("digits", split="train", seed=3))
    again_images, again_labels = _arrays(load("digits", split="train", seed=3))
    other_images, other_labels = _arrays(load("digits", split="train", seed=4))
    np.testing.assert_array_equal(first_images, again_images)
    np.testing.assert_array_equal(first_labels, again_labels)
    assert not np.array_equal(first_labels, other_labels)


def test_few_labels_sizes_and_unlabeled_yields_images_only():
    labeled, unlabeled = few_labels("digits", labeled_fraction=0.1, seed=1)
    num_train = NUM_DIGITS - int(np.ceil(0.2 * NUM_DIGITS))
    assert isinstance(unlabeled.element_spec, tf.TensorSpec)  # no label component
    assert unlabeled.element_spec.shape == (8, 8, 1)
    _, labels = _arrays(labeled)
    unlabeled_images = np.stack(list(unlabeled.as_numpy_iterator()))
    assert len(labels) == int(np.floor(0.1 * num_train))  # scikit-learn floors train_size
    assert len(labels) + len(unlabeled_images) == num_train
    assert set(labels.tolist()) == set(range(10))  # every class labeled
    # The two parts together are exactly the train split.
    train_images, _ = _arrays(load("digits", split="train", seed=1))
    labeled_images, _ = _arrays(labeled)
    together = np.concatenate([labeled_images, unlabeled_images]).reshape(num_train, -1)
    key = lambda a: sorted(map(bytes, a))  # noqa: E731
    assert key(together) == key(train_images.reshape(num_train, -1))


def test_tfds_through_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=8):
        dataset = load("tfds:mnist", split="train")
        assert dataset.element_spec[0].shape == (28, 28, 1)
        images, labels = _arrays(dataset)
        resized = next(iter(load("tfds:mnist", split="train", size=14, channels=3, dtype="float32")))[0]
        meta = info("tfds:mnist")
    assert images.shape == (8, 28, 28, 1) and images.dtype == np.uint8
    assert labels.shape == (8,) and ((0 <= labels) & (labels < 10)).all()
    assert resized.shape == (14, 14, 3) and resized.dtype == tf.float32
    assert meta.num_classes == 10 and meta.class_names[:2] == ("0", "1")


def test_tfds_not_prepared_offline_raises_naming_dataset(tmp_path):
    with pytest.raises(ValueError, match="'mnist' is not available offline"):
        load("tfds:mnist", split="train", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="'no_such_dataset_xyz' does not exist"):
        load("tfds:no_such_dataset_xyz", data_dir=str(tmp_path))


@pytest.fixture
def image_folder(tmp_path, rng):
    """cat/ and dog/ with 3 RGB PNGs each (non-square 10x14), plus a stray text file."""
    written = {}
    for name in ("dog", "cat"):
        (tmp_path / name).mkdir()
        for i in range(3):
            pixels = rng.integers(0, 256, size=(10, 14, 3), dtype=np.uint8)
            path = tmp_path / name / f"{i}.png"
            Image.fromarray(pixels).save(path)
            written[str(path)] = pixels
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    return tmp_path, written


def test_folder_loads_pixels_and_class_labels(image_folder):
    root, written = image_folder
    meta = info(f"folder:{root}")
    assert meta.num_classes == 2 and meta.class_names == ("cat", "dog")
    images, labels = _arrays(load(f"folder:{root}", split="all"))
    assert images.shape == (6, 10, 14, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(labels, [0, 0, 0, 1, 1, 1])  # sorted classes, sorted files
    expected = [written[str(root / c / f"{i}.png")] for c in ("cat", "dog") for i in range(3)]
    np.testing.assert_array_equal(images, np.stack(expected))


def test_folder_resize_gray_and_split(image_folder):
    root, _ = image_folder
    dataset = load(f"folder:{root}", split="test", test_fraction=0.34, size=8, channels=1)
    images, labels = _arrays(dataset)
    assert images.shape == (3, 8, 8, 1)
    assert sorted(labels.tolist())[0] == 0 and sorted(labels.tolist())[-1] == 1  # both classes in test


def test_folder_leaves_out_and_lists_images_that_do_not_decode(image_folder):
    root, _ = image_folder
    (root / "dog" / "3.png").write_bytes(b"not a png")
    images, labels = _arrays(load(f"folder:{root}", split="all"))
    assert images.shape == (6, 10, 14, 3) and labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert unreadable_images(f"folder:{root}") == [str(root / "dog" / "3.png")] and unreadable_images("digits") == []
    for file in (root / "dog").iterdir():
        file.write_bytes(b"")
    with pytest.raises(ValueError, match="dog' holds no readable images"):
        load(f"folder:{root}")


def test_folder_without_images_raises(tmp_path):
    with pytest.raises(ValueError, match="holds no images"):
        load(f"folder:{tmp_path}")
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "readme.txt").write_text("no pictures here")
    with pytest.raises(ValueError, match="holds no images"):
        load(f"folder:{tmp_path}", split="all")
    with pytest.raises(ValueError, match="does not exist"):
        load(f"folder:{tmp_path / 'missing'}")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"name": "mnist"}, "name"),
        ({"name": "digits", "split": "validation"}, "split"),
        ({"name": "tfds:mnist", "split": "unlabeled"}, "split"),
        ({"name": "digits", "channels": 2}, "channels"),
        ({"name": "digits", "dtype": "int32"}, "dtype"),
        ({"name": "digits", "size": 0}, "size"),
        ({"name": "digits", "test_fraction": 1.0}, "test_fraction"),
        ({"name": "digits", "split": "labeled", "labeled_fraction": 0.0}, "labeled_fraction"),
        ({"name": "digits", "split": "labeled", "labeled_fraction": 0.001}, "labeled_fraction"),
        ({"name": "digits", "data_dir": "/tmp"}, "data_dir"),
    ],
)
def test_invalid_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load(**kwargs)
