"""Box, mixing and label kernels: exact pixels for hand-written parameters, invariants over random ones.

References are written from the papers' definitions of CutMix, MixUp and their switch with NumPy slicing,
never by calling the kernel under test another way.
"""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from tfaug import ops

H, W = 24, 40
CHEAP = settings(max_examples=40, deadline=None)


def coded_images(batch, height=H, width=W, channels=3):
    """float32 images whose every value says where it came from: `((image * 100 + row) * 100 + col) * 4 + c`."""
    i, y, x, c = np.meshgrid(np.arange(batch), np.arange(height), np.arange(width), np.arange(channels), indexing="ij")
    return (((i * 100 + y) * 100 + x) * 4 + c).astype(np.float32)


def pasted_reference(images, partner, boxes):
    out = images.copy()
    for i, (y1, x1, y2, x2) in enumerate(boxes):
        out[i, y1:y2, x1:x2] = images[partner[i], y1:y2, x1:x2]
    return out


# -- boxes --------------------------------------------------------------------------------------------------


def test_centered_boxes_every_case_on_a_small_grid():
    # Every centre and every side (including sides larger than the image) on a 5x7 image.
    height, width = 5, 7
    cy, cx, h, w = np.meshgrid(np.arange(height), np.arange(width), np.arange(12), np.arange(16), indexing="ij")
    boxes = ops.centered_boxes(cy, cx, h, w, height, width).numpy()
    y1, x1, y2, x2 = np.moveaxis(boxes, -1, 0)
    np.testing.assert_array_equal(y1, np.clip(cy - h // 2, 0, height))
    np.testing.assert_array_equal(y2, np.clip(cy + h // 2, 0, height))
    np.testing.assert_array_equal(x1, np.clip(cx - w // 2, 0, width))
    np.testing.assert_array_equal(x2, np.clip(cx + w // 2, 0, width))
    assert boxes.dtype == np.int32


@CHEAP
@given(
    height=st.integers(1, 64),
    width=st.integers(1, 64),
    data=st.data(),
)
def test_centered_boxes_invariants(height, width, data):
    cy = data.draw(st.integers(0, height - 1))
    cx = data.draw(st.integers(0, width - 1))
    h = data.draw(st.integers(0, 2 * height))
    w = data.draw(st.integers(0, 2 * width))
    y1, x1, y2, x2 = ops.centered_boxes(cy, cx, h, w, height, width).numpy()
    assert 0 <= y1 <= y2 <= height and 0 <= x1 <= x2 <= width
    # Height from the height argument, width from the width argument; an odd side loses one pixel.
    assert y2 - y1 <= h - h % 2 and x2 - x1 <= w - w % 2
    if cy - h // 2 >= 0 and cy + h // 2 <= height:
        assert y2 - y1 == h - h % 2 and y1 + y2 == 2 * cy
    if cx - w // 2 >= 0 and cx + w // 2 <= width:
        assert x2 - x1 == w - w % 2 and x1 + x2 == 2 * cx
    if h >= 2 and w >= 2:
        assert y1 <= cy < y2 and x1 <= cx < x2


def test_corner_boxes():
    boxes = ops.corner_boxes([0, 3], [5, 0], [4, 2], [1, 7]).numpy()
    np.testing.assert_array_equal(boxes, [[0, 5, 4, 6], [3, 0, 5, 7]])


@CHEAP
@given(
    height=st.integers(1, 30),
    width=st.integers(1, 30),
    coords=st.lists(st.integers(-3, 33), min_size=4, max_size=4),
)
def test_box_mask_area_and_kept_fraction_agree_with_numpy(height, width, coords):
    y1, x1, y2, x2 = coords
    boxes = tf.constant([[y1, x1, y2, x2]], tf.int32)
    mask = ops.box_mask(boxes, height, width).numpy()
    reference = np.zeros([height, width], bool)
    reference[max(y1, 0) : max(y2, 0), max(x1, 0) : max(x2, 0)] = True
    assert mask.shape == (1, height, width, 1)
    np.testing.assert_array_equal(mask[0, ..., 0], reference)
    # box_area is the box's own area (boxes are clipped before use): max(0, side) products.
    assert ops.box_area(boxes).numpy()[0] == max(y2 - y1, 0) * max(x2 - x1, 0)
    if 0 <= y1 and 0 <= x1 and y2 <= height and x2 <= width:
        kept = np.sum(~reference)
        # Exactly one float32 division of two integers: what the labels must carry.
        assert ops.kept_fraction(boxes, height, width).numpy()[0] == np.float32(kept) / np.float32(height * width)


def test_kept_fraction_is_one_division_of_pixel_counts():
    boxes = [[0, 0, h, w] for h in range(1, 25) for w in range(1, 41)]
    kept = ops.kept_fraction(tf.constant(boxes), H, W).numpy()
    expected = np.array([np.float32(H * W - h * w) / np.float32(H * W) for _, _, h, w in boxes])
    np.testing.assert_array_equal(kept, expected)


# -- partners -----------------------------------------------------------------------------------------------


def test_fixed_partners():
    np.testing.assert_array_equal(ops.fixed_partner(5, "flip").numpy(), [4, 3, 2, 1, 0])
    np.testing.assert_array_equal(ops.fixed_partner(5, "roll").numpy(), [4, 0, 1, 2, 3])
    with pytest.raises(ValueError, match="`pairing`"):
        ops.fixed_partner(5, "permute")


# -- paste --------------------------------------------------------------------------------------------------

PARTNER = np.array([1, 2, 3, 0], np.int32)
BOXES = np.array(
    [
        [0, 0, H, W],  # whole image
        [5, 7, 6, 8],  # one pixel
        [9, 9, 9, 30],  # empty
        [20, 30, H, W],  # corner, non-square
    ],
    np.int32,
)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_paste_injected_boxes_exact(small_photos, dtype):
    images = small_photos.astype(dtype)
    out = ops.paste(tf.constant(images), PARTNER, BOXES).numpy()
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, pasted_reference(images, PARTNER, BOXES))
    np.testing.assert_array_equal(out[0], images[1])
    np.testing.assert_array_equal(out[2], images[2])


def test_paste_keeps_positions():
    images = coded_images(4)
    out = ops.paste(tf.constant(images), PARTNER, BOXES).numpy()
    np.testing.assert_array_equal(out, pasted_reference(images, PARTNER, BOXES))
    # Inside the box only the source image changes; row, column and channel are the pixel's own.
    np.testing.assert_array_equal(out % 40000, images % 40000)


@pytest.mark.parametrize("shape,dtype", [((4, H, W), np.int32), ((4, H, W, 1), np.uint8)])
def test_paste_segmentation_masks(shape, dtype):
    masks = np.broadcast_to(np.arange(4).reshape([4] + [1] * (len(shape) - 1)), shape).astype(dtype)
    out = ops.paste(tf.constant(masks), PARTNER, BOXES).numpy()
    assert out.dtype == dtype and out.shape == shape
    np.testing.assert_array_equal(out, pasted_reference(masks, PARTNER, BOXES))


def test_paste_keeps_working_after_calls_of_other_shapes_and_ranks():
    # The compiled kernel may relax dimensions between calls, never ranks (a mask after an image, and back).
    for shape, dtype in [
        ((4, H, W, 1), np.int32),
        ((4, 2 * H, W, 1), np.int32),
        ((4, H, W), np.int32),
        ((4, H, 2 * W), np.int32),
        ((4, H, W, 3), np.int32),
    ]:
        masks = np.broadcast_to(np.arange(4).reshape([4] + [1] * (len(shape) - 1)), shape).astype(dtype)
        boxes = np.minimum(BOXES, [shape[1], shape[2], shape[1], shape[2]]).astype(np.int32)
        out = ops.paste(tf.constant(masks), PARTNER, boxes).numpy()
        np.testing.assert_array_equal(out, pasted_reference(masks, PARTNER, boxes))


@CHEAP
@given(data=st.data())
def test_paste_random_boxes_uncompiled(data):
    # The plain-TensorFlow path (TFAUG_XLA=0) over random shapes, without one XLA compilation per shape.
    height, width = data.draw(st.integers(1, 9)), data.draw(st.integers(1, 9))
    boxes = []
    for _ in range(3):
        y1, y2 = sorted(data.draw(st.lists(st.integers(0, height), min_size=2, max_size=2)))
        x1, x2 = sorted(data.draw(st.lists(st.integers(0, width), min_size=2, max_size=2)))
        boxes.append([y1, x1, y2, x2])
    partner = np.array(data.draw(st.permutations([0, 1, 2])), np.int32)
    images = coded_images(3, height, width, 2)
    out = ops.paste.python_function(tf.constant(images), partner, np.array(boxes, np.int32)).numpy()
    np.testing.assert_array_equal(out, pasted_reference(images, partner, boxes))


# -- blend --------------------------------------------------------------------------------------------------


def test_blend_float32_is_the_convex_combination(small_photos):
    images = small_photos.astype(np.float32)
    weight = np.array([0.0, 0.25, 0.9, 1.0], np.float32)
    out = ops.blend(tf.constant(images), PARTNER, weight).numpy()
    w = weight[:, None, None, None]
    np.testing.assert_allclose(out, w * images + (1 - w) * images[PARTNER], rtol=1e-6, atol=1e-4)
    np.testing.assert_array_equal(out[0], images[1])
    np.testing.assert_array_equal(out[3], images[3])


def test_blend_uint8_rounds_half_to_even():
    # Image 1 = image 0 + 1 at every pixel, so weight 0.5 lands every pixel exactly on k + 0.5.
    values = np.arange(255, dtype=np.uint8).reshape(1, 15, 17, 1)
    images = np.concatenate([values, values + 1])
    out = ops.blend(tf.constant(images), np.array([1, 0], np.int32), np.array([0.5, 0.5], np.float32)).numpy()
    assert out.dtype == np.uint8
    k = values[0].astype(np.int64)
    expected = np.where(k % 2 == 0, k, k + 1)  # round(k + 0.5) half to even
    np.testing.assert_array_equal(out[0], expected)
    np.testing.assert_array_equal(out[1], expected)


def test_blend_uint8_matches_rounded_float(small_photos):
    weight = np.array([0.1, 0.37, 0.5, 0.83], np.float32)
    out = ops.blend(tf.constant(small_photos), PARTNER, weight).numpy().astype(np.int64)
    w = weight.astype(np.float64)[:, None, None, None]
    exact = w * small_photos + (1 - w) * small_photos[PARTNER].astype(np.float64)
    near_tie = np.abs(exact - np.floor(exact) - 0.5) < 1e-3
    np.testing.assert_array_equal(out[~near_tie], np.round(exact)[~near_tie])
    assert np.all(np.abs(out - exact)[near_tie] <= 0.5 + 1e-3)


def test_blend_float64_stays_float64():
    images = np.random.default_rng(0).uniform(0, 1, [2, 3, 5, 1])
    out = ops.blend(tf.constant(images), np.array([1, 0], np.int32), np.array([0.3, 0.6], np.float32)).numpy()
    assert out.dtype == np.float64
    w = np.float64(np.float32(0.3)), np.float64(np.float32(0.6))
    np.testing.assert_allclose(out[0], w[0] * images[0] + (1 - w[0]) * images[1], rtol=1e-12)


def test_blend_or_paste_is_blend_or_paste_per_image(small_photos):
    partner, boxes = PARTNER, BOXES
    weight = np.array([0.3, 0.6, 0.8, 0.45], np.float32)
    use_paste = np.array([True, False, True, False])
    for dtype in (np.uint8, np.float32):
        images = tf.constant(small_photos.astype(dtype))
        out = ops.blend_or_paste(images, partner, weight, boxes, use_paste).numpy()
        pasted = ops.paste(images, partner, boxes).numpy()
        blended = ops.blend(images, partner, weight).numpy()
        assert out.dtype == dtype
        # Pasted images are exact whatever the dtype (x * 1 + p * 0).
        np.testing.assert_array_equal(out[use_paste], pasted[use_paste])
        np.testing.assert_allclose(out[~use_paste].astype(np.float64), blended[~use_paste], atol=1e-4, rtol=0)


# -- labels -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [[5], [5, 1]])
def test_one_hot(shape):
    ids = np.array([0, 3, 2, 3, 1]).reshape(shape)
    np.testing.assert_array_equal(ops.one_hot(ids, 4).numpy(), np.eye(4, dtype=np.float32)[[0, 3, 2, 3, 1]])


def test_mix_labels():
    labels = np.eye(4, dtype=np.float32)
    weight = np.array([0.25, 1.0, 0.6, 0.0], np.float32)
    out = ops.mix_labels(tf.constant(labels), PARTNER, weight).numpy()
    expected = weight[:, None] * labels + (1 - weight[:, None]) * labels[PARTNER]
    np.testing.assert_allclose(out, expected, rtol=1e-7)
    np.testing.assert_allclose(out.sum(-1), 1.0, rtol=1e-6)
    assert np.all((out > 0).sum(-1) <= 2)
    # The own class carries the weight exactly: the label is the kept fraction, no rounding.
    np.testing.assert_array_equal(np.diag(out), weight)


def test_smooth_labels_on_and_off_values():
    eps, k = 0.1, 10
    out = ops.smooth_labels(tf.constant(np.eye(k, dtype=np.float32)[[3, 7]]), eps).numpy()
    np.testing.assert_allclose(out[0, 3], 1 - eps + eps / k, rtol=1e-6)
    np.testing.assert_allclose(np.delete(out[0], 3), eps / k, rtol=1e-6)
    np.testing.assert_allclose(out.sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(ops.smooth_labels(tf.constant(np.eye(3, dtype=np.float32)), 0.0).numpy(), np.eye(3))


def test_smoothing_and_mixing_commute():
    labels = tf.constant(np.eye(5, dtype=np.float32)[[0, 1, 4, 4]])
    weight = np.array([0.2, 0.5, 0.7, 1.0], np.float32)
    a = ops.smooth_labels(ops.mix_labels(labels, PARTNER, weight), 0.2).numpy()
    b = ops.mix_labels(ops.smooth_labels(labels, 0.2), PARTNER, weight).numpy()
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
