"""Cutout: injected boxes, the `[cy - s//2, cy + s//2)` box convention, fraction sizes, fills, errors."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from tfaug.layers import Cutout

SEED = tf.constant([3, 7], tf.int64)


def _draw_boxes(layer, shape, seed=SEED):
    """The layer's `[B, 4]` boxes for images of `shape` (no pixels needed to draw them)."""
    transformation = layer.get_random_transformation({"images": tf.zeros(shape, tf.uint8)}, seed)
    return transformation["boxes"].numpy()[:, 0]


def _all_centred_boxes(size, height, width):
    """Every box the convention allows: `[c - size//2, c + size//2)` clipped, for every centre pixel."""
    half = size // 2
    return {
        (max(cy - half, 0), max(cx - half, 0), min(cy + half, height), min(cx + half, width))
        for cy in range(height)
        for cx in range(width)
    }


def test_injected_box_and_fill_exact_pixels(small_photos):
    layer = Cutout()
    transformation = {
        "boxes": tf.constant([[[2, 3, 10, 30]], [[0, 0, 0, 0]], [[20, 35, 24, 40]], [[0, 0, 24, 40]]]),
        "fill": tf.constant(np.tile(np.array([7.0, 8.0, 9.0], np.float32), [4, 1, 1])),
    }
    out = layer.transform_images(tf.constant(small_photos), transformation).numpy()
    expected = small_photos.copy()
    expected[0, 2:10, 3:30] = [7, 8, 9]
    expected[2, 20:24, 35:40] = [7, 8, 9]
    expected[3] = [7, 8, 9]
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("size", [4, 5, 2])
def test_box_convention_centre_anywhere_clipped(size):
    height, width = 8, 12
    boxes = _draw_boxes(Cutout(size=size, seed=0), [3000, height, width, 1])
    drawn = set(map(tuple, boxes.tolist()))
    # Every drawn box follows the convention, and every centre (border pixels included) occurs.
    assert drawn == _all_centred_boxes(size, height, width)
    # Odd sizes lose a pixel, as in the reference code: interior boxes are 2 * (size // 2) pixels wide.
    interior = (boxes[:, 0] > 0) & (boxes[:, 2] < height) & (boxes[:, 1] > 0) & (boxes[:, 3] < width)
    assert interior.any()
    assert (boxes[interior, 2] - boxes[interior, 0] == 2 * (size // 2)).all()
    assert (boxes[interior, 3] - boxes[interior, 1] == 2 * (size // 2)).all()
    # The centre row is uniform over the image rows.
    half = size // 2
    cy = np.where(boxes[:, 0] > 0, boxes[:, 0] + half, boxes[:, 2] - half)
    counts = np.bincount(cy, minlength=height)
    assert stats.chisquare(counts).pvalue > 1e-3


@pytest.mark.parametrize("size, sides", [(0.5, (12, 20)), (0.25, (6, 10)), (0.3, (6, 12)), (1.0, (24, 40))])
def test_fraction_size_uses_each_side_on_non_square_images(size, sides):
    # sides round(H * size) x round(W * size), then the `s//2` convention: 0.3 -> 7 x 12 -> 6 x 12 drawn.
    boxes = _draw_boxes(Cutout(size=size, seed=1), [2000, 24, 40, 3])
    heights, widths = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    assert heights.max() == sides[0] and widths.max() == sides[1]
    assert heights.min() >= sides[0] // 2 and widths.min() >= sides[1] // 2


def test_layer_output_is_the_drawn_box_filled(small_photos):
    layer = Cutout(size=0.5, seed=5)
    out = layer.augment(small_photos, seed=SEED).numpy()
    boxes = _draw_boxes(layer, small_photos.shape)
    for image, result, (y1, x1, y2, x2) in zip(small_photos, out, boxes):
        expected = image.copy()
        expected[y1:y2, x1:x2] = 0
        np.testing.assert_array_equal(result, expected)
        assert (y2 - y1) * (x2 - x1) > 0


@pytest.mark.parametrize(
    "dtype, value_range, fill_value",
    [(np.uint8, (0, 255), (10, 20, 250)), (np.float32, (0, 1), (0.1, 0.5, 0.9))],
)
def test_per_channel_fill_keeps_dtype(small_photos, dtype, value_range, fill_value):
    images = small_photos if dtype == np.uint8 else (small_photos / 255).astype(dtype)
    layer = Cutout(size=6, fill_value=fill_value, value_range=value_range, seed=2)
    out = layer(images).numpy()
    assert out.dtype == dtype and out.shape == images.shape
    changed = (out != images).any(-1)
    assert changed.any(axis=(1, 2)).all()
    np.testing.assert_array_equal(out[changed], np.broadcast_to(np.array(fill_value, dtype), out[changed].shape))
    np.testing.assert_array_equal(out[~changed], images[~changed])


def test_integer_fill_is_rounded_half_to_even():
    images = np.full([2, 8, 12, 3], 100, np.uint8)
    for fill_value, expected in [(12.5, 12), (13.5, 14), (254.7, 255)]:
        out = Cutout(size=4, fill_value=fill_value, seed=0)(images).numpy()
        assert set(np.unique(out)) == {100, expected}


def test_probability_zero_one_and_realised_rate():
    images = np.full([4000, 8, 12, 1], 100, np.uint8)
    never = Cutout(size=4, probability=0.0, seed=0)(images).numpy()
    np.testing.assert_array_equal(never, images)
    always = Cutout(size=4, probability=1.0, seed=0)(images).numpy()
    assert (always != images).any(axis=(1, 2, 3)).all()
    half = Cutout(size=4, probability=0.5, seed=0)(images).numpy()
    rate = (half != images).any(axis=(1, 2, 3)).mean()
    # Binomial(4000, 0.5): standard deviation 0.0079; 4.5 sigma.
    assert abs(rate - 0.5) < 0.036


def test_batchwise_gives_every_image_the_same_box():
    boxes = _draw_boxes(Cutout(size=4, batchwise=True, seed=0), [16, 8, 12, 3])
    assert (boxes == boxes[0]).all()
    per_image = _draw_boxes(Cutout(size=4, seed=0), [16, 8, 12, 3])
    assert len(set(map(tuple, per_image.tolist()))) > 1


def test_same_seed_same_output_and_calls_differ(small_photos):
    a, b = Cutout(seed=11), Cutout(seed=11)
    first = a(small_photos).numpy()
    np.testing.assert_array_equal(first, b(small_photos).numpy())
    assert not np.array_equal(first, a(small_photos).numpy())


def test_labels_masks_and_boxes_pass_through(small_photos, rng):
    labels = rng.integers(0, 10, [4]).astype(np.int32)
    masks = rng.integers(0, 5, [4, 24, 40, 1]).astype(np.int32)
    bounding_boxes = {"boxes": rng.uniform(0, 20, [4, 2, 4]).astype(np.float32), "labels": np.ones([4, 2], np.int32)}
    layer = Cutout(seed=0)
    out = layer(
        {"images": small_photos, "labels": labels, "segmentation_masks": masks, "bounding_boxes": bounding_boxes}
    )
    assert set(out) == {"images", "labels", "segmentation_masks", "bounding_boxes"}
    np.testing.assert_array_equal(out["labels"], labels)
    np.testing.assert_array_equal(out["segmentation_masks"], masks)
    assert out["segmentation_masks"].dtype == tf.int32
    np.testing.assert_array_equal(out["bounding_boxes"]["boxes"], bounding_boxes["boxes"])
    np.testing.assert_array_equal(out["bounding_boxes"]["labels"], bounding_boxes["labels"])
    assert not np.array_equal(out["images"], small_photos)
    images, same_labels = layer((small_photos, labels))
    np.testing.assert_array_equal(same_labels, labels)
    assert images.shape == small_photos.shape


def test_unbatched_image_returned_unbatched(small_photos):
    out = Cutout(size=8, seed=0)(small_photos[0])
    assert out.shape == (24, 40, 3) and out.dtype == tf.uint8
    assert not np.array_equal(out, small_photos[0])
    image, label = Cutout(size=8, seed=0)((small_photos[0], np.int32(3)))
    assert image.shape == (24, 40, 3) and int(label) == 3


@pytest.mark.parametrize("batch_size", [0, 1, 3])
def test_batch_sizes(small_photos, batch_size):
    images = np.resize(small_photos, [batch_size, 24, 40, 3])
    out = Cutout(size=8, seed=0)(images).numpy()
    assert out.shape == images.shape and out.dtype == np.uint8
    assert (out != images).any(axis=(1, 2, 3)).all()


def test_training_false_is_identity(small_photos):
    out = Cutout(seed=0)(small_photos, training=False)
    np.testing.assert_array_equal(out, small_photos)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"size": 0}, "size"),
        ({"size": -3}, "size"),
        ({"size": 0.0}, "size"),
        ({"size": 1.5}, "size"),
        ({"size": "half"}, "size"),
        ({"size": True}, "size"),
        ({"probability": 1.5}, "probability"),
        ({"probability": -0.1}, "probability"),
        ({"fill_value": 256}, "fill_value"),
        ({"fill_value": (0, 0, -1)}, "fill_value"),
        ({"fill_value": 2.0, "value_range": (0, 1)}, "fill_value"),
        ({"value_range": (1, 0)}, "value_range"),
        ({"batchwise": "yes"}, "batchwise"),
        ({"num_classes": 0}, "num_classes"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Cutout(**kwargs)


def test_bad_images_raise(small_photos):
    layer = Cutout(seed=0)
    with pytest.raises(ValueError, match="value_range"):
        layer(small_photos.astype(np.float32) * 2.0)
    with pytest.raises(ValueError, match="value_range"):
        Cutout(value_range=(0, 1))(small_photos.astype(np.float32))
    with pytest.raises(ValueError, match="images"):
        layer(small_photos[0, :, :, 0])
    with pytest.raises(ValueError, match="images"):
        layer(small_photos[None])
    with pytest.raises(TypeError, match="images"):
        layer(small_photos > 100)
    with pytest.raises(ValueError, match="fill_value"):
        Cutout(fill_value=(1, 2, 3))(small_photos[..., :2])


def test_one_image_and_its_scalar_label_in_a_list_read_as_a_pair():
    image = np.full((4, 5, 3), 7, np.uint8)
    layer = Cutout(seed=0)
    seed = tf.constant([1, 2], tf.int64)
    as_tuple = layer.augment((image, np.int32(2)), seed=seed)
    as_list = layer.augment([image, np.int32(2)], seed=seed)
    np.testing.assert_array_equal(as_list[0], as_tuple[0])
    assert int(as_list[1]) == 2
