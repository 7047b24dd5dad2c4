"""LabelSmoothing: on/off values, sums, sparse labels, images untouched, agreement with Keras's loss."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfaug.layers import LabelSmoothing


@pytest.mark.parametrize("eps, num_classes", [(0.1, 5), (0.2, 10), (0.0, 3)])
def test_on_and_off_values(small_photos, eps, num_classes):
    ids = np.arange(4) % num_classes
    labels = np.eye(num_classes, dtype=np.float32)[ids]
    _, out = LabelSmoothing(eps)((small_photos, labels))
    out = out.numpy()
    on, off = 1 - eps + eps / num_classes, eps / num_classes
    np.testing.assert_allclose(out[np.arange(4), ids], on, rtol=1e-6)
    mask = labels == 0
    np.testing.assert_allclose(out[mask], off, rtol=1e-6)
    np.testing.assert_allclose(out.sum(-1), 1.0, rtol=1e-6)


def test_soft_labels_keep_their_sums_and_follow_the_formula(small_photos, rng):
    labels = rng.uniform(0, 2, [4, 7]).astype(np.float32)  # dense labels need not be one-hot
    _, out = LabelSmoothing(0.3)((small_photos, labels))
    np.testing.assert_allclose(out, 0.7 * labels + 0.3 / 7, rtol=1e-6)
    probabilities = labels / labels.sum(-1, keepdims=True)
    _, out = LabelSmoothing(0.3)((small_photos, probabilities))
    np.testing.assert_allclose(out.numpy().sum(-1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("shape", [(4,), (4, 1)])
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8])
def test_sparse_labels_with_num_classes(small_photos, shape, dtype):
    ids = np.array([0, 4, 2, 4], dtype).reshape(shape)
    _, out = LabelSmoothing(0.1, num_classes=5)((small_photos, ids))
    assert out.shape == (4, 5) and out.dtype == tf.float32
    expected = np.full([4, 5], 0.02, np.float32)
    expected[np.arange(4), ids.ravel()] = 0.92
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_matches_keras_categorical_crossentropy_smoothing(rng):
    labels = np.eye(6, dtype=np.float32)[rng.integers(0, 6, 8)]
    predictions = rng.dirichlet(np.ones(6), 8).astype(np.float32)
    _, smoothed = LabelSmoothing(0.15)((np.zeros([8, 2, 2, 1], np.float32), labels))
    ours = keras.losses.CategoricalCrossentropy()(smoothed, predictions)
    theirs = keras.losses.CategoricalCrossentropy(label_smoothing=0.15)(labels, predictions)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_images_unchanged(small_photos, dtype):
    images = small_photos.astype(dtype)
    out_images, _ = LabelSmoothing(0.1, num_classes=5)((images, np.arange(4)))
    assert out_images.dtype == dtype
    np.testing.assert_array_equal(out_images, images)


def test_label_dtypes():
    images = np.zeros([2, 3, 3, 1], np.float32)
    _, out = LabelSmoothing(0.1)((images, np.eye(2, dtype=np.float64)))
    assert out.dtype == tf.float64
    _, out = LabelSmoothing(0.1)((images, np.eye(2, dtype=np.int32)))  # dense integer labels
    assert out.dtype == tf.float32
    np.testing.assert_allclose(out, [[0.95, 0.05], [0.05, 0.95]], rtol=1e-6)


def test_dict_input_masks_and_boxes_pass_through(small_photos, rng):
    masks = rng.integers(0, 3, [4, 24, 40, 1]).astype(np.int32)
    boxes = {"boxes": np.ones([4, 1, 4], np.float32), "labels": np.zeros([4, 1], np.int32)}
    out = LabelSmoothing(0.1, num_classes=3)(
        {"images": small_photos, "labels": np.array([0, 1, 2, 0]), "segmentation_masks": masks, "bounding_boxes": boxes}
    )
    np.testing.assert_array_equal(out["images"], small_photos)
    np.testing.assert_array_equal(out["segmentation_masks"], masks)
    np.testing.assert_array_equal(out["bounding_boxes"]["boxes"], boxes["boxes"])
    np.testing.assert_allclose(out["labels"][1], [0.1 / 3, 1 - 0.1 + 0.1 / 3, 0.1 / 3], rtol=1e-6)


def test_unbatched(small_photos):
    image, label = LabelSmoothing(0.1, num_classes=4)((small_photos[0], np.int32(2)))
    assert image.shape == (24, 40, 3)
    np.testing.assert_allclose(label, [0.025, 0.025, 0.925, 0.025], rtol=1e-6)


@pytest.mark.parametrize("batch_size", [0, 1, 3])
def test_batch_sizes(small_photos, batch_size):
    images = np.resize(small_photos, [batch_size, 24, 40, 3])
    ids = np.arange(batch_size) % 5
    out_images, labels = LabelSmoothing(0.1, num_classes=5)((images, ids))
    assert out_images.shape == images.shape and labels.shape == (batch_size, 5)
    np.testing.assert_allclose(labels.numpy().sum(-1), 1.0, rtol=1e-6)


def test_training_false_is_identity(small_photos):
    ids = np.arange(4)
    images, labels = LabelSmoothing(0.1, num_classes=5)((small_photos, ids), training=False)
    np.testing.assert_array_equal(labels, ids)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"label_smoothing": 1.0}, "label_smoothing"),
        ({"label_smoothing": -0.1}, "label_smoothing"),
        ({"label_smoothing": 1.5}, "label_smoothing"),
        ({"label_smoothing": "0.1"}, "label_smoothing"),
        ({"num_classes": 0}, "num_classes"),
        ({"num_classes": 2.5}, "num_classes"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LabelSmoothing(**kwargs)


def test_bad_labels_raise(small_photos):
    with pytest.raises(ValueError, match="num_classes"):
        LabelSmoothing(0.1)((small_photos, np.arange(4)))
    with pytest.raises(ValueError, match="labels"):
        LabelSmoothing(0.1)(small_photos)
    with pytest.raises(ValueError, match="labels"):
        LabelSmoothing(0.1, num_classes=3)((small_photos, np.array([0, 1, 2, 3])))
    with pytest.raises(ValueError, match="num_classes"):
        LabelSmoothing(0.1, num_classes=3)((small_photos, np.eye(4, dtype=np.float32)))
    with pytest.raises(ValueError, match="batch size"):
        LabelSmoothing(0.1, num_classes=5)((small_photos, np.arange(3)))
    with pytest.raises(ValueError, match="images"):
        LabelSmoothing(0.1, num_classes=5)((small_photos[None], np.arange(4)))
