"""CutMix: the kept fraction is exact, the pasted region is the partner's box, sides come from H and W.

Images are non-square (24x40) and their pixel values name their source, so every output pixel can be
traced back: image i filled with i + 1, or "coded" float32 images whose values encode image, row, column
and channel. Labels are `eye(B)`, so row i of the output labels reads lam' at column i and the partner at
the other non-zero column.
"""

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from tfaug import random as tfr
from tfaug.layers import CutMix

H, W = 24, 40
B = 6
P_MIN = 1e-3


def filled(batch, dtype, channels=3):
    """Image i filled with the value i + 1."""
    values = np.arange(1, batch + 1).reshape(batch, 1, 1, 1)
    return np.broadcast_to(values, (batch, H, W, channels)).astype(dtype)


def coded(batch):
    """float32 images whose values encode `((image * 100 + row) * 100 + col) * 4 + channel`."""
    i, y, x, c = np.meshgrid(np.arange(batch), np.arange(H), np.arange(W), np.arange(3), indexing="ij")
    return (((i * 100 + y) * 100 + x) * 4 + c).astype(np.float32)


def box_region(box):
    y1, x1, y2, x2 = box
    region = np.zeros([H, W], bool)
    region[y1:y2, x1:x2] = True
    return region


def bounding_box(region):
    if not region.any():
        return (0, 0, 0, 0)
    rows, cols = np.flatnonzero(region.any(1)), np.flatnonzero(region.any(0))
    return (rows[0], cols[0], rows[-1] + 1, cols[-1] + 1)


def exact_kept_fraction(kept):
    return np.float32(kept) / np.float32(H * W)


def check_mixed_labels(labels, lam, partner):
    """`lam * y_i + (1 - lam) * y_partner` for one-hot `eye(B)` labels; sums to 1, at most two classes."""
    batch = len(labels)
    assert labels.dtype == np.float32
    np.testing.assert_allclose(labels.sum(-1), 1.0, rtol=1e-6)
    assert np.all((labels != 0).sum(-1) <= 2)
    expected = lam[:, None] * np.eye(batch) + (1 - lam[:, None]) * np.eye(batch)[partner]
    np.testing.assert_allclose(labels, expected, rtol=1e-6, atol=1e-7)


# -- the algorithm ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_lambda_is_the_exact_kept_fraction_and_the_box_is_from_the_partner(dtype):
    layer = CutMix(seed=1)
    images, labels = filled(B, dtype), np.eye(B, dtype=np.float32)
    clipped = inside = 0
    for _ in range(10):
        out, mixed = layer((images, labels))
        out, mixed = out.numpy(), mixed.numpy()
        assert out.dtype == dtype and out.shape == images.shape
        for i in range(B):
            source = out[i]
            assert np.all(source == source[..., :1])  # all channels from the same image
            region = source[..., 0] != i + 1
            lam = mixed[i, i]
            # lam' is the kept pixel count over H * W, one float32 division: exact, not approximately.
            assert lam == exact_kept_fraction(H * W - region.sum())
            if not region.any():
                np.testing.assert_array_equal(mixed[i], np.eye(B)[i])
                continue
            partner = int(np.flatnonzero(mixed[i] * (np.arange(B) != i))[0])
            assert partner != i
            assert np.all(source[region] == partner + 1)
            np.testing.assert_allclose(mixed[i, partner], 1 - lam, rtol=1e-6)
            # The pasted pixels form one rectangle.
            np.testing.assert_array_equal(region, box_region(bounding_box(region)))
            y1, x1, y2, x2 = bounding_box(region)
            touches = y1 == 0 or x1 == 0 or y2 == H or x2 == W
            clipped += touches
            inside += not touches
    # Both clipped and unclipped boxes were checked.
    assert clipped > 0 and inside > 0


def test_transformation_boxes_are_the_pasted_regions_at_the_same_positions():
    layer = CutMix(seed=2)
    images, labels = coded(B), np.eye(B, dtype=np.float32)
    for k in range(5):
        seed = tf.constant([7, k], tf.int64)
        t = layer.get_random_transformation({"images": tf.constant(images)}, seed=seed)
        out, mixed = layer.augment((images, labels), seed=seed)
        out, mixed = out.numpy(), mixed.numpy()
        partner, boxes, lam = t["partner"].numpy(), t["boxes"].numpy(), t["lambda"].numpy()
        assert np.all(partner != np.arange(B)) and sorted(partner) == list(range(B))
        np.testing.assert_array_equal(mixed.diagonal(), lam)
        check_mixed_labels(mixed, lam, partner)
        for i in range(B):
            region = box_region(boxes[i])
            assert lam[i] == exact_kept_fraction(H * W - region.sum())
            np.testing.assert_array_equal(out[i][region], images[partner[i]][region])
            np.testing.assert_array_equal(out[i][~region], images[i][~region])


def test_box_sides_come_from_height_and_width(monkeypatch):
    # Replay chosen lambdas: cut_h = floor(H sqrt(1 - lam)), cut_w = floor(W sqrt(1 - lam)); the box
    # [c - cut // 2, c + cut // 2) is 2 * (cut // 2) long unless clipped.
    lam = np.array([0.0, 0.19, 0.3, 0.5, 0.75, 0.9, 0.97, 0.99], np.float32)
    monkeypatch.setattr(tfr, "beta", lambda seed, shape, alpha, beta_=None: tf.constant(lam))
    side = np.sqrt(np.float32(1) - lam)
    cut_h = np.floor(np.float32(H) * side).astype(int)
    cut_w = np.floor(np.float32(W) * side).astype(int)
    full_h, full_w = cut_h - cut_h % 2, cut_w - cut_w % 2
    assert np.all(full_w[:-1] > full_h[:-1])  # so a side taken from the wrong dimension shows
    layer = CutMix(seed=0)
    images = tf.zeros([len(lam), H, W, 1])
    unclipped_y, unclipped_x = np.zeros(len(lam), int), np.zeros(len(lam), int)
    for k in range(60):
        t = layer.get_random_transformation({"images": images}, seed=tf.constant([3, k], tf.int64))
        y1, x1, y2, x2 = t["boxes"].numpy().T
        assert np.all((0 <= y1) & (y1 <= y2) & (y2 <= H) & (0 <= x1) & (x1 <= x2) & (x2 <= W))
        height, width = y2 - y1, x2 - x1
        assert np.all(height <= full_h) and np.all(width <= full_w)
        inside_y, inside_x = (y1 > 0) & (y2 < H), (x1 > 0) & (x2 < W)
        np.testing.assert_array_equal(height[inside_y], full_h[inside_y])
        np.testing.assert_array_equal(width[inside_x], full_w[inside_x])
        unclipped_y += inside_y
        unclipped_x += inside_x
        kept = H * W - height * width
        np.testing.assert_array_equal(t["lambda"].numpy(), np.float32(kept) / np.float32(H * W))
    # Every lam but 0 (a full-image cut is always clipped) produced sides of the full drawn size.
    assert np.all(unclipped_y[1:] > 0) and np.all(unclipped_x[1:] > 0)


def test_unclipped_boxes_take_both_sides_from_one_scale():
    # Without replaying lam: an unclipped box is 2 * (floor(H s) // 2) by 2 * (floor(W s) // 2) for the one
    # s = sqrt(1 - lam) of its draw, so s lies in [h / H, (h + 2) / H) and in [w / W, (w + 2) / W).
    layer = CutMix(seed=4)
    images = tf.zeros([2000, H, W, 1])
    t = layer.get_random_transformation({"images": images}, seed=tf.constant([5, 0], tf.int64))
    y1, x1, y2, x2 = t["boxes"].numpy().T
    h, w = y2 - y1, x2 - x1
    inside = (y1 > 0) & (y2 < H) & (x1 > 0) & (x2 < W)
    assert inside.sum() > 200
    low = np.maximum(h / H, w / W)[inside]
    high = np.minimum((h + 2) / H, (w + 2) / W)[inside]
    assert np.all(low < high)


def test_every_pixel_comes_from_the_image_or_its_partner_on_photos(small_photos):
    layer = CutMix(seed=5)
    labels = np.eye(4, dtype=np.float32)
    for dtype in (np.uint8, np.float32):
        images = small_photos.astype(dtype)
        for k in range(3):
            seed = tf.constant([11, k], tf.int64)
            t = layer.get_random_transformation({"images": tf.constant(images)}, seed=seed)
            out = layer.augment((images, labels), seed=seed)[0].numpy()
            partner, boxes = t["partner"].numpy(), t["boxes"].numpy()
            assert out.dtype == dtype
            own = np.all(out == images, axis=-1)
            theirs = np.all(out == images[partner], axis=-1)
            assert np.all(own | theirs)
            for i in range(4):
                expected = np.where(box_region(boxes[i])[..., None], images[partner[i]], images[i])
                np.testing.assert_array_equal(out[i], expected)


def test_injected_transformation_gives_exact_pixels_and_labels(small_photos):
    partner = np.array([1, 2, 3, 0], np.int32)
    boxes = np.array([[0, 0, H, W], [5, 7, 6, 8], [9, 9, 9, 30], [20, 30, H, W]], np.int32)
    lam = np.array([0.0, 1 - 1 / (H * W), 1.0, 1 - 40 / (H * W)], np.float32)
    t = {"partner": tf.constant(partner), "boxes": tf.constant(boxes), "lambda": tf.constant(lam)}
    out = CutMix().transform_images(tf.constant(small_photos), t).numpy()
    expected = small_photos.copy()
    expected[0] = small_photos[1]
    expected[1, 5, 7] = small_photos[2, 5, 7]
    expected[3, 20:, 30:] = small_photos[0, 20:, 30:]
    np.testing.assert_array_equal(out, expected)
    labels = CutMix().transform_labels(tf.constant(np.eye(4, dtype=np.float32)), t).numpy()
    check_mixed_labels(labels, lam, partner)


def test_segmentation_masks_are_pasted_with_the_same_box():
    layer = CutMix(seed=6)
    images = filled(B, np.uint8)
    masks_int32 = (10 + filled(B, np.int32, channels=1))[..., 0]
    masks_uint8 = filled(B, np.uint8, channels=1) * 2
    for masks in (masks_int32, masks_uint8):
        out = layer({"images": images, "labels": np.eye(B, dtype=np.float32), "segmentation_masks": masks})
        assert set(out) == {"images", "labels", "segmentation_masks"}
        new_masks, new_images = out["segmentation_masks"].numpy(), out["images"].numpy()
        assert new_masks.dtype == masks.dtype and new_masks.shape == masks.shape
        # The mask of image i holds the partner's class exactly where the image holds the partner's pixels.
        class_of_source = masks.reshape(B, -1)[:, 0]
        source = new_images[..., 0].astype(np.int64) - 1
        np.testing.assert_array_equal(new_masks.reshape(B, H, W), class_of_source[source])
        assert np.any(new_masks != masks)


def test_probability_is_the_realised_rate():
    n = 4000
    images = np.broadcast_to(np.arange(n, dtype=np.float32).reshape(n, 1, 1, 1), (n, 4, 4, 1))
    labels = np.ones([n, 1], np.float32)
    for probability in (0.0, 0.3, 1.0):
        out, _ = CutMix(probability=probability, seed=7)((images, labels))
        mixed = np.any(out.numpy() != images, axis=(1, 2, 3))
        # On 4x4 images a box is non-empty iff floor(4 sqrt(1 - lam)) >= 2, i.e. lam <= 3/4:
        # probability 3/4 for alpha = 1, so a mixed image shows with rate 3/4 * probability.
        if probability == 0.0:
            assert not mixed.any()
        else:
            assert stats.binomtest(int(mixed.sum()), n, 0.75 * probability).pvalue > P_MIN


def test_batchwise_draws_one_box_for_the_batch():
    layer = CutMix(batchwise=True, seed=8)
    images, labels = coded(B), np.eye(B, dtype=np.float32)
    for k in range(4):
        seed = tf.constant([13, k], tf.int64)
        t = layer.get_random_transformation({"images": tf.constant(images)}, seed=seed)
        boxes, lam = t["boxes"].numpy(), t["lambda"].numpy()
        assert np.all(boxes == boxes[0]) and np.all(lam == lam[0])
        out = layer.augment((images, labels), seed=seed)[0].numpy()
        regions = np.any(out != images, axis=-1)
        assert np.all(regions == regions[0])
        assert np.all(t["partner"].numpy() != np.arange(B))


def test_batchwise_probability_mixes_all_or_none():
    layer = CutMix(batchwise=True, probability=0.5, seed=9)
    images, labels = filled(B, np.uint8), np.eye(B, dtype=np.float32)
    outcomes = set()
    for _ in range(12):
        out = layer((images, labels))[0].numpy()
        changed = np.any(out != images, axis=(1, 2, 3))
        assert changed.all() or not changed.any()
        outcomes.add(bool(changed.all()))
    assert outcomes == {True, False}


@pytest.mark.parametrize(
    "pairing,partner",
    [("flip", [4, 3, 2, 1, 0]), ("roll", [4, 0, 1, 2, 3])],
)
def test_fixed_pairings_give_the_documented_partners(pairing, partner):
    layer = CutMix(pairing=pairing, alpha=0.5, seed=10)
    images, labels = filled(5, np.uint8), np.eye(5, dtype=np.float32)
    for _ in range(3):
        out, mixed = layer((images, labels))
        out, mixed = out.numpy()[..., 0], mixed.numpy()
        for i in range(5):
            values = set(np.unique(out[i])) - {i + 1}
            assert values <= {partner[i] + 1}
            if partner[i] == i:  # the middle of an odd batch under "flip": left exactly as it is
                np.testing.assert_array_equal(out[i], images[i, ..., 0])
                np.testing.assert_array_equal(mixed[i], np.eye(5)[i])
            else:
                assert np.all(mixed[i, np.setdiff1d(np.arange(5), [i, partner[i]])] == 0)


# -- labels, seeds, batches ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [[B], [B, 1]])
def test_sparse_labels_become_one_hot(shape):
    ids = np.array([0, 2, 4, 1, 3, 2]).reshape(shape)
    images = filled(B, np.uint8)
    _, labels = CutMix(probability=0.0, num_classes=5, seed=0)((images, ids))
    np.testing.assert_array_equal(labels.numpy(), np.eye(5, dtype=np.float32)[ids.reshape(-1)])
    layer = CutMix(num_classes=5, seed=0)
    seed = tf.constant([1, 1], tf.int64)
    t = layer.get_random_transformation({"images": tf.constant(images)}, seed=seed)
    _, labels = layer.augment((images, ids), seed=seed)
    lam, partner = t["lambda"].numpy()[:, None], t["partner"].numpy()
    one_hot = np.eye(5)[ids.reshape(-1)]
    np.testing.assert_allclose(labels.numpy(), lam * one_hot + (1 - lam) * one_hot[partner], rtol=1e-6)


def test_odd_batch_of_three():
    images, labels = filled(3, np.float32), np.eye(3, dtype=np.float32)
    out, mixed = CutMix(seed=13)((images, labels))
    out, mixed = out.numpy()[..., 0], mixed.numpy()
    for i in range(3):
        region = out[i] != i + 1
        assert mixed[i, i] == exact_kept_fraction(H * W - region.sum())
        assert set(np.unique(out[i][region])) <= {j + 1 for j in range(3) if j != i}
    np.testing.assert_allclose(mixed.sum(-1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("batch", [0, 1])
def test_static_batch_below_two_raises(batch):
    images, labels = filled(batch, np.uint8), np.eye(max(batch, 1), dtype=np.float32)[:batch]
    with pytest.raises(ValueError, match=f"batch of {batch}"):
        CutMix(seed=0)((images, labels))


def test_dynamic_batch_of_one_passes_through():
    layer = CutMix(seed=14)
    spec = [tf.TensorSpec([None, H, W, 3], tf.uint8), tf.TensorSpec([None, 3], tf.float32)]
    run = tf.function(lambda x, y: layer((x, y)), input_signature=spec)
    images, labels = filled(2, np.uint8), np.array([[0.2, 0.3, 0.5], [0, 1, 0]], np.float32)
    for _ in range(5):
        out, mixed = run(images[:1], labels[:1])
        np.testing.assert_array_equal(out.numpy(), images[:1])
        np.testing.assert_array_equal(mixed.numpy(), labels[:1])
    out, _ = run(images, labels)
    assert out.shape == (2, H, W, 3)


# -- bad input ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"alpha": 0.0}, "`alpha`"),
        ({"alpha": -1.0}, "`alpha`"),
        ({"probability": 1.5}, "`probability`"),
        ({"probability": -0.1}, "`probability`"),
        ({"pairing": "shuffle"}, "`pairing`"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CutMix(**kwargs)
