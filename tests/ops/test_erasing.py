"""Erasing kernels: exact pixels for hand-written boxes, overlap order, dtype rounding and clipping."""

import numpy as np
import pytest
import tensorflow as tf

from tfaug import ops


def _boxes(*per_image):
    """int32 `[B, N, 4]` from per-image lists of `(y1, x1, y2, x2)`."""
    return tf.constant(per_image, tf.int32)


def _expected_fill(images, boxes, fill):
    """NumPy reference: paint the boxes in order, later over earlier."""
    out = np.array(images, copy=True)
    for i, image_boxes in enumerate(np.asarray(boxes)):
        for n, (y1, x1, y2, x2) in enumerate(image_boxes):
            y1, x1 = max(y1, 0), max(x1, 0)
            out[i, y1 : max(y2, y1), x1 : max(x2, x1)] = fill[i][n]
    return out


def test_fill_boxes_exact_pixels_non_square(small_photos):
    images = small_photos[:2]
    boxes = _boxes([[2, 3, 10, 30]], [[0, 0, 24, 1]])
    fill = np.array([[[10, 20, 30]], [[255, 0, 7]]], np.float32)
    out = ops.fill_boxes(images, boxes, fill).numpy()
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, _expected_fill(images, boxes, fill))
    # Half-open: rows 2..9 and columns 3..29 of image 0 only.
    assert (out[0, 2:10, 3:30] == [10, 20, 30]).all()
    np.testing.assert_array_equal(out[0, :2], images[0, :2])
    np.testing.assert_array_equal(out[0, 10:], images[0, 10:])
    np.testing.assert_array_equal(out[0, :, 30:], images[0, :, 30:])
    np.testing.assert_array_equal(out[1, :, 1:], images[1, :, 1:])


def test_fill_boxes_later_box_drawn_over_earlier(small_photos):
    images = small_photos[:1]
    boxes = _boxes([[0, 0, 10, 10], [5, 5, 15, 15], [3, 3, 3, 20]])  # the third box is empty
    fill = np.array([[[1, 1, 1], [2, 2, 2], [3, 3, 3]]], np.float32)
    out = ops.fill_boxes(images, boxes, fill).numpy()
    np.testing.assert_array_equal(out, _expected_fill(images, boxes, fill))
    assert (out[0, 5:15, 5:15] == 2).all()
    assert (out[0, 0:5, 0:10] == 1).all() and (out[0, 5:10, 0:5] == 1).all()
    np.testing.assert_array_equal(out[0, 3, 15:20], images[0, 3, 15:20])  # the empty box drew nothing


def test_fill_boxes_partly_outside_and_empty_boxes_change_nothing_outside(small_photos):
    images = small_photos[:2]
    boxes = _boxes([[-3, 35, 4, 45]], [[0, 0, 0, 0]])
    fill = np.zeros([2, 1, 3], np.float32)
    out = ops.fill_boxes(images, boxes, fill).numpy()
    assert (out[0, 0:4, 35:40] == 0).all()
    np.testing.assert_array_equal(out[0, 4:], images[0, 4:])
    np.testing.assert_array_equal(out[0, :, :35], images[0, :, :35])
    np.testing.assert_array_equal(out[1], images[1])


@pytest.mark.parametrize(
    "dtype, fill, expected",
    [
        (np.uint8, [2.5, 3.5, -7.0], [2, 4, 0]),  # half-to-even, clipped at 0
        (np.uint8, [300.0, 255.4, 254.6], [255, 255, 255]),  # clipped, never wrapped
        (np.int8, [-200.0, 127.6, -0.5], [-128, 127, 0]),
        (np.int32, [1e10, -1e10, 0.5], [2**31 - 1, -(2**31), 0]),
        (np.float32, [0.25, -1.5, 3e5], [0.25, -1.5, 3e5]),
        (np.float64, [0.1, 1 / 3, 2.0], [np.float32(0.1), np.float32(1 / 3), 2.0]),
    ],
)
def test_fill_boxes_casts_fill_like_the_images(dtype, fill, expected):
    images = np.full([1, 4, 6, 3], 9, dtype)
    out = ops.fill_boxes(images, _boxes([[1, 1, 3, 4]]), np.array([[fill]], np.float32)).numpy()
    assert out.dtype == dtype
    np.testing.assert_array_equal(out[0, 1:3, 1:4], np.broadcast_to(np.array(expected, dtype), [2, 3, 3]))
    assert (out[0, 0] == 9).all() and (out[0, 3] == 9).all()


def test_fill_boxes_from_copies_source_pixels_inside_any_box(small_photos, rng):
    images = small_photos[:2]
    source = rng.uniform(0, 255, images.shape).astype(np.float32)
    boxes = _boxes([[0, 0, 5, 5], [20, 30, 24, 40]], [[2, 2, 2, 9], [10, 10, 12, 11]])
    out = ops.fill_boxes_from(images, boxes, source).numpy()
    inside = np.zeros(images.shape[:3], bool)
    inside[0, 0:5, 0:5] = inside[0, 20:24, 30:40] = inside[1, 10:12, 10:11] = True
    expected = np.where(inside[..., None], np.round(source).astype(np.uint8), images)
    np.testing.assert_array_equal(out, expected)


def test_fill_boxes_from_float64_exact(rng):
    images = rng.uniform(0, 1, [1, 6, 8, 2])
    source = rng.uniform(0, 1, [1, 6, 8, 2])
    out = ops.fill_boxes_from(images, _boxes([[1, 2, 4, 8]]), source).numpy()
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out[0, 1:4, 2:8], source[0, 1:4, 2:8])
    np.testing.assert_array_equal(out[0, :1], images[0, :1])


def test_box_count_may_change_between_calls(small_photos):
    # The fused kernels are traced with relaxed shapes after two box counts: the count must not be needed
    # at trace time (it once was, and RandomErasing(count=2) then failed after a Cutout).
    images = small_photos[:1]
    for num_boxes in (1, 2, 3, 1):
        boxes = tf.constant([[[n, n, n + 2, n + 2] for n in range(num_boxes)]], tf.int32)
        fill = tf.fill([1, num_boxes, 3], 0.0)
        diagonal = np.arange(num_boxes + 1)
        out = ops.fill_boxes(images, boxes, fill).numpy()
        assert (out[0, diagonal, diagonal] == 0).all()
        np.testing.assert_array_equal(out[0, num_boxes + 1 :], images[0, num_boxes + 1 :])
        out = ops.fill_boxes_from(images, boxes, tf.zeros(images.shape)).numpy()
        assert (out[0, diagonal, diagonal] == 0).all()
        np.testing.assert_array_equal(out[0, num_boxes + 1 :], images[0, num_boxes + 1 :])


def test_empty_batch():
    out = ops.fill_boxes(np.zeros([0, 4, 6, 3], np.uint8), tf.zeros([0, 2, 4], tf.int32), tf.zeros([0, 2, 3]))
    assert out.shape == (0, 4, 6, 3) and out.dtype == tf.uint8


def test_fused_and_plain_tensorflow_paths_agree(small_photos, rng):
    images = small_photos
    boxes = tf.constant(rng.integers(-5, 45, [4, 3, 4]), tf.int32)
    fill = tf.constant(rng.uniform(-10, 300, [4, 3, 3]), tf.float32)
    source = tf.constant(rng.normal(128, 64, images.shape), tf.float32)
    np.testing.assert_array_equal(
        ops.fill_boxes(images, boxes, fill), ops.fill_boxes.python_function(tf.constant(images), boxes, fill)
    )
    np.testing.assert_array_equal(
        ops.fill_boxes_from(images, boxes, source),
        ops.fill_boxes_from.python_function(tf.constant(images), boxes, source),
    )
