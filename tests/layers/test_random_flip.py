"""RandomFlip: exact flips of images, masks and boxes (injected switches), coin frequencies, modes, errors.

Every-mode equality with masks and boxes: tests/test_fuzz.py (RandomFlip is compared under XLA there too).
"""

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from tfaug.layers import RandomFlip
from tfaug.ops import bounding_boxes as box_ops

SEED = tf.constant([3, 7], tf.int64)
HORIZONTAL = np.array([True, False, True, False])
VERTICAL = np.array([False, False, True, True])


def expected_flip(x, horizontal, vertical):
    out = x.copy()
    for i in range(len(x)):
        if horizontal[i]:
            out[i] = out[i][:, ::-1]
        if vertical[i]:
            out[i] = out[i][::-1]
    return out


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.int32])
def test_injected_flips_are_exact_on_images_and_masks(small_photos, dtype):
    images = small_photos.astype(dtype)
    masks = (small_photos[..., 0] // 64).astype(np.int32)  # [B, H, W] masks
    transformation = {"horizontal": tf.constant(HORIZONTAL), "vertical": tf.constant(VERTICAL)}
    layer = RandomFlip("horizontal_and_vertical")
    out = layer.transform_images(tf.constant(images), transformation).numpy()
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, expected_flip(images, HORIZONTAL, VERTICAL))
    flipped = layer.transform_segmentation_masks(tf.constant(masks), transformation).numpy()
    np.testing.assert_array_equal(flipped, expected_flip(masks, HORIZONTAL, VERTICAL))
    flipped = layer.transform_segmentation_masks(tf.constant(masks[..., None]), transformation).numpy()
    np.testing.assert_array_equal(flipped[..., 0], expected_flip(masks, HORIZONTAL, VERTICAL))


@pytest.mark.parametrize("bounding_box_format", ["xyxy", "rel_yxyx", "center_xywh"])
def test_boxes_follow_the_pixels(bounding_box_format):
    # Each image holds one filled box per box row; after the flip, the box drawn around the flipped pixels is the
    # flipped box.
    height, width = 12, 20
    x1, x2 = np.array([0, 3, 5, 12]), np.array([4, 20, 9, 13])
    y1, y2 = np.array([0, 2, 7, 1]), np.array([12, 5, 8, 11])
    masks = np.zeros([4, height, width], np.int32)
    for i in range(4):
        masks[i, y1[i] : y2[i], x1[i] : x2[i]] = 1
    xyxy = np.stack([x1, y1, x2, y2], axis=-1).astype(np.float32)[:, None, :]
    boxes = box_ops.from_xyxy(xyxy, bounding_box_format, height, width).numpy()
    data = {
        "images": np.zeros([4, height, width, 3], np.uint8),
        "segmentation_masks": masks,
        "bounding_boxes": {"boxes": boxes, "labels": np.arange(4, dtype=np.int32)[:, None]},
    }
    layer = RandomFlip("horizontal_and_vertical", bounding_box_format=bounding_box_format)
    layer.get_random_transformation = lambda data, seed: {
        "horizontal": tf.constant(HORIZONTAL),
        "vertical": tf.constant(VERTICAL),
    }
    out = layer(data)
    moved = box_ops.to_xyxy(out["bounding_boxes"]["boxes"], bounding_box_format, height, width).numpy()[:, 0]
    np.testing.assert_array_equal(out["bounding_boxes"]["labels"], data["bounding_boxes"]["labels"])
    for i in range(4):
        rows, cols = np.nonzero(out["segmentation_masks"][i].numpy())
        np.testing.assert_allclose(moved[i], [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], atol=1e-5)


@pytest.mark.parametrize(
    ("mode", "probability"), [("horizontal", 0.5), ("vertical", 0.3), ("horizontal_and_vertical", 0.3)]
)
def test_each_axis_is_an_independent_coin_per_image(mode, probability):
    layer = RandomFlip(mode, probability=probability)
    draws = layer.get_random_transformation({"images": tf.zeros([4000, 1, 1, 1])}, SEED)
    assert set(draws) == {"horizontal", "vertical"} & set(mode.split("_and_"))
    h = draws["horizontal"].numpy() if "horizontal" in draws else np.zeros(4000, bool)
    w = draws["vertical"].numpy() if "vertical" in draws else np.zeros(4000, bool)
    counts = np.bincount(2 * h + w, minlength=4)
    ph = probability if "horizontal" in draws else 0.0
    pv = probability if "vertical" in draws else 0.0
    expected = 4000 * np.array([(1 - ph) * (1 - pv), (1 - ph) * pv, ph * (1 - pv), ph * pv])
    used = expected > 0
    assert (counts[~used] == 0).all()
    assert stats.chisquare(counts[used], expected[used]).pvalue > 1e-3


def test_batchwise_flips_all_or_none_and_probability_extremes(small_photos):
    flipped = RandomFlip(probability=1.0, seed=0)(small_photos).numpy()
    np.testing.assert_array_equal(flipped, small_photos[:, :, ::-1])
    np.testing.assert_array_equal(RandomFlip(probability=0.0, seed=0)(small_photos), small_photos)
    layer = RandomFlip(batchwise=True, seed=0)
    for _ in range(6):
        out = layer(small_photos).numpy()
        same = [np.array_equal(out[i], small_photos[i]) for i in range(4)]
        assert all(same) or not any(same)


def test_bad_arguments_are_refused_by_name(small_photos):
    with pytest.raises(ValueError, match="`mode` must be one of"):
        RandomFlip("diagonal")
    with pytest.raises(ValueError, match="`probability`"):
        RandomFlip(probability=1.5)
    data = {"images": small_photos, "bounding_boxes": {"boxes": np.zeros([4, 1, 4]), "labels": np.zeros([4, 1])}}
    with pytest.raises(ValueError, match="RandomFlip moves `bounding_boxes`.*`bounding_box_format`"):
        RandomFlip(seed=0)(data)
