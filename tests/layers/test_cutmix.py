"""CutMix: the kept fraction is exact, the pasted region is the partner's box, sides come from H and W.

Images are non-square (24x40) and their pixel values name their source, so every output pixel can be
traced back: image i filled with i + 1, or "coded" float32 images whose values encode image, row, column
and channel. Labels are `eye(B)`, so row i of the output labels reads lam' at column i and the partner at
the other non-zero column.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from tfaug import random as tfr
from tfaug.layers import CutMix
from tfaug.layers import MixUp
from tfaug.layers import MixUpCutMix
from tfaug.ops import bounding_boxes as box_ops

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
def test_static_batch_below_two_passes_through(batch):
    images, labels = filled(batch, np.uint8), np.eye(3, dtype=np.float32)[:batch]
    boxes = {"boxes": np.tile([[[1.0, 2.0, 9.0, 7.0]]], [batch, 2, 1]), "labels": np.ones([batch, 2], np.int32)}
    data = {"images": images, "labels": labels, "bounding_boxes": boxes}
    out = CutMix(bounding_box_format="xyxy", seed=0)(data)
    np.testing.assert_array_equal(out["images"], images)
    np.testing.assert_array_equal(out["labels"], labels)
    # Nothing pasted: the image keeps its boxes, and the second half is padding.
    np.testing.assert_array_equal(out["bounding_boxes"]["boxes"][:, :2], boxes["boxes"])
    np.testing.assert_array_equal(out["bounding_boxes"]["labels"], np.tile([[1, 1, -1, -1]], [batch, 1]))


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


# -- bounding boxes -----------------------------------------------------------------------------------------

# Pasted rectangle of image 0: x in [10, 30), y in [5, 20); image 1 is not mixed (empty rectangle).
PASTE = {"partner": tf.constant([1, 0]), "boxes": tf.constant([[5, 10, 20, 30], [0, 0, 0, 0]])}
# xyxy boxes and labels of the two images, and what image 0 gets back: own boxes, then image 1's.
BOXES_0 = [
    ([12, 8, 20, 16], 1, [12, 8, 20, 16], -1),  # fully covered
    ([24, 8, 40, 16], 2, [30, 8, 40, 16], 2),  # covered across its full height on its left 6 of 16 columns
    ([12, 16, 26, 30], 3, [12, 20, 26, 30], 3),  # covered across its full width on its top 4 of 14 rows
    ([0, 10, 40, 14], 4, [0, 10, 40, 14], 4),  # covered across its height in the middle, exactly half
    ([0, 0, 14, 9], 5, [0, 0, 14, 9], 5),  # a 4x4 corner of 14x9 covered: kept unchanged
    ([11, 6, 13, 8], -1, [11, 6, 13, 8], -1),  # padding stays padding
]
BOXES_1 = [
    ([8, 4, 16, 12], 6, [10, 5, 16, 12], 6),  # 6x7 of 8x8 inside: clipped to the rectangle
    ([0, 0, 12, 8], 7, [0, 0, 12, 8], -1),  # 2x3 of 12x8 inside: mostly outside
    ([32, 0, 40, 4], 8, [32, 0, 40, 4], -1),  # outside
    ([12, 6, 14, 8], -1, [12, 6, 14, 8], -1),  # padding inside the rectangle stays padding
    ([20, 10, 40, 20], 9, [20, 10, 30, 20], 9),  # exactly half inside: kept
    ([0, 20, 10, 24], 10, [0, 20, 10, 24], -1),  # no area inside
]


def box_columns(rows):
    """`(boxes, labels, expected_boxes, expected_labels)` arrays from rows of `BOXES_0` / `BOXES_1`."""
    return [np.array(column, np.float32 if j % 2 == 0 else np.int32) for j, column in enumerate(zip(*rows))]


@pytest.mark.parametrize(
    "bounding_box_format,dtype", [("xyxy", np.float32), ("yxyx", np.int32), ("rel_xywh", np.float32)]
)
def test_hand_computed_boxes(bounding_box_format, dtype):
    own_0, labels_0, expected_0, expected_labels_0 = box_columns(BOXES_0)
    own_1, labels_1, _, expected_labels_1 = box_columns(BOXES_1)
    pixels = np.stack([own_0, own_1])
    boxes = box_ops.from_xyxy(pixels, bounding_box_format, H, W, dtype)
    layer = CutMix(bounding_box_format=bounding_box_format)
    out = layer.transform_bounding_boxes({"boxes": boxes, "labels": np.stack([labels_0, labels_1])}, PASTE, H, W)
    assert out["boxes"].dtype == dtype and out["boxes"].shape == (2, 12, 4)
    # Image 0: its own boxes cut by the rectangle, then image 1's boxes clipped to it.
    np.testing.assert_array_equal(out["labels"][0], np.concatenate([expected_labels_0, expected_labels_1]))
    expected = np.concatenate([expected_0, box_columns(BOXES_1)[2]])
    np.testing.assert_allclose(box_ops.to_xyxy(out["boxes"][0], bounding_box_format, H, W), expected, atol=1e-5)
    # Image 1, not mixed: its boxes exactly as given, then only padding.
    np.testing.assert_array_equal(out["boxes"][1, :6], boxes[1])
    np.testing.assert_array_equal(out["labels"][1], np.concatenate([labels_1, np.full(6, -1)]))


def non_overlapping_boxes(rng, batch, per_row=2, per_column=2):
    """Integer xyxy boxes `[batch, per_row * per_column, 4]`, one inside each cell of a grid over the image."""
    cell_h, cell_w = H // per_column, W // per_row
    boxes = []
    for cy in range(per_column):
        for cx in range(per_row):
            x = np.sort(rng.choice(cell_w + 1, (batch, 2), replace=False), axis=1) + cx * cell_w
            y = np.sort(rng.choice(cell_h + 1, (batch, 2), replace=False), axis=1) + cy * cell_h
            boxes.append(np.stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]], -1))
    return np.stack(boxes, 1).astype(np.float32)


def pictures(boxes):
    """uint8 images `[B, H, W, 1]`: background 0, box k of image i filled with `1 + i * N + k`."""
    batch, n = boxes.shape[:2]
    images = np.zeros([batch, H, W, 1], np.uint8)
    for i in range(batch):
        for k, (x1, y1, x2, y2) in enumerate(boxes[i].astype(int)):
            images[i, y1:y2, x1:x2] = 1 + i * n + k
    return images


@pytest.mark.parametrize("bounding_box_format", ["xyxy", "rel_center_xywh"])
def test_kept_boxes_are_the_extent_of_what_shows_of_them(bounding_box_format):
    rng = np.random.default_rng(0)
    layer = CutMix(probability=0.8, bounding_box_format=bounding_box_format, seed=15)
    seen = {"shrunk": 0, "covered": 0, "partly covered, unchanged": 0, "clipped": 0, "pasted away": 0}
    for k in range(12):
        pixels = non_overlapping_boxes(rng, B)
        n = pixels.shape[1]
        labels = 1 + np.arange(B * n, dtype=np.int32).reshape(B, n)
        labels[k % B, k % n] = -1
        boxes = box_ops.from_xyxy(pixels, bounding_box_format, H, W).numpy()
        data = {"images": pictures(pixels), "labels": np.eye(B, dtype=np.float32)}
        data["bounding_boxes"] = {"boxes": boxes, "labels": labels}
        seed = tf.constant([17, k], tf.int64)
        partner = layer.get_random_transformation(data, seed=seed)["partner"].numpy()
        out = layer.augment(data, seed=seed)
        images = out["images"].numpy()[..., 0]
        new_boxes = box_ops.to_xyxy(out["bounding_boxes"]["boxes"], bounding_box_format, H, W).numpy()
        new_labels = out["bounding_boxes"]["labels"].numpy()
        for i in range(B):
            for slot in range(2 * n):
                source, k_box = (i, slot) if slot < n else (partner[i], slot - n)
                region = images[i] == 1 + source * n + k_box
                x1, y1, x2, y2 = pixels[source, k_box]
                area, shown = (x2 - x1) * (y2 - y1), region.sum()
                if labels[source, k_box] == -1:
                    assert new_labels[i, slot] == -1
                    continue
                # Own boxes go when more than half is covered, the partner's when less than half shows:
                # either way, when less than half of the box shows in image i.
                dropped = shown == 0 or 2 * shown < area
                if 2 * shown == area and bounding_box_format.startswith("rel_"):
                    dropped = new_labels[i, slot] == -1  # rounded relative coordinates tip exact halves either way
                if dropped:
                    assert new_labels[i, slot] == -1
                    seen["covered" if slot < n else "pasted away"] += shown > 0
                    continue
                assert new_labels[i, slot] == labels[source, k_box]
                top, left, bottom, right = bounding_box(region)
                np.testing.assert_allclose(new_boxes[i, slot], [left, top, right, bottom], atol=1e-4)
                changed = (left, top, right, bottom) != tuple(pixels[source, k_box])
                if slot >= n:
                    seen["clipped"] += changed
                elif changed:
                    seen["shrunk"] += 1
                else:
                    seen["partly covered, unchanged"] += shown < area
    assert min(seen.values()) > 0, seen


def test_images_that_are_not_mixed_keep_their_boxes_exactly():
    fmt = "rel_center_xywh"
    pixels = non_overlapping_boxes(np.random.default_rng(1), B) + np.float32(0.3)
    pixels[:, 0, 2] = pixels[:, 0, 0]  # no area: still kept as given
    boxes = box_ops.from_xyxy(pixels, fmt, H, W).numpy()
    assert np.any(box_ops.from_xyxy(box_ops.to_xyxy(boxes, fmt, H, W), fmt, H, W).numpy() != boxes)
    labels = np.arange(B * 4, dtype=np.int32).reshape(B, 4)
    data = {"images": filled(B, np.uint8), "labels": np.eye(B, dtype=np.float32)}
    data["bounding_boxes"] = {"boxes": boxes, "labels": labels}
    out = CutMix(probability=0.0, bounding_box_format=fmt, seed=0)(data)["bounding_boxes"]
    np.testing.assert_array_equal(out["boxes"][:, :4], boxes)
    np.testing.assert_array_equal(out["labels"], np.concatenate([labels, np.full([B, 4], -1)], axis=1))


def test_same_boxes_eagerly_in_a_graph_in_tf_data_and_compiled():
    pixels = non_overlapping_boxes(np.random.default_rng(2), B)
    data = {
        "images": tf.constant(pictures(pixels)),
        "labels": tf.eye(B),
        "bounding_boxes": {
            "boxes": box_ops.from_xyxy(pixels, "rel_xyxy", H, W),
            "labels": tf.ones([B, 4], tf.int32),
        },
    }
    layer = CutMix(bounding_box_format="rel_xyxy", seed=3)
    seed = tf.constant([19, 0], tf.int64)

    def run(data):
        return layer.augment(data, seed=seed)["bounding_boxes"]

    eager = run(data)
    assert 0 < np.sum(eager["labels"].numpy()[:, 4:] == 1) < B * 4  # some partner boxes kept, some not
    # Random draws under XLA differ from the others, so the compiled run moves boxes by the eager draw.
    transformation = layer.get_random_transformation(data, seed=seed)

    def move(boxes):
        return layer.transform_bounding_boxes(boxes, transformation, H, W)

    others = [
        tf.function(run)(data),
        next(iter(tf.data.Dataset.from_tensors(data).map(run))),
        tf.function(move, jit_compile=True)(data["bounding_boxes"]),
    ]
    for other in others:
        np.testing.assert_allclose(other["boxes"], eager["boxes"], atol=1e-6)
        np.testing.assert_array_equal(other["labels"], eager["labels"])


def test_symbolic_outputs_hold_twice_the_boxes():
    inputs = {
        "images": keras.Input((H, W, 3)),
        "labels": keras.Input((5,)),
        "bounding_boxes": {"boxes": keras.Input((3, 4)), "labels": keras.Input((3,), dtype="int32")},
    }
    out = CutMix(bounding_box_format="xyxy")(inputs)
    assert out["bounding_boxes"]["boxes"].shape == (None, 6, 4)
    assert out["bounding_boxes"]["labels"].shape == (None, 6) and out["bounding_boxes"]["labels"].dtype == "int32"
    assert out["labels"].shape == (None, 5)


def test_boxes_need_their_format_and_other_mixers_refuse_them():
    data = {"images": filled(B, np.uint8), "labels": np.eye(B, dtype=np.float32)}
    data["bounding_boxes"] = {"boxes": np.zeros([B, 1, 4], np.float32), "labels": np.ones([B, 1], np.int32)}
    needs_format = "CutMix moves `bounding_boxes`, so it needs their format: set `bounding_box_format`"
    with pytest.raises(ValueError, match=needs_format):
        CutMix(seed=0)(data)
    for cls in (MixUp, MixUpCutMix):
        with pytest.raises(ValueError, match=f"{cls.__name__} does not support `bounding_boxes`"):
            cls(bounding_box_format="xyxy", seed=0)(data)
