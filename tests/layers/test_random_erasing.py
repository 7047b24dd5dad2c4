"""RandomErasing: injected boxes, realised probability, area and aspect of the drawn boxes, fills, errors."""

import numpy as np
import pytest
import tensorflow as tf

from tfaug import random as tfr
from tfaug.layers import RandomErasing
from tfaug.layers.random_erasing import NOISE_CHUNK

SEED = tf.constant([5, 9], tf.int64)


def _transformation(layer, shape, dtype=tf.uint8, seed=SEED):
    return layer.get_random_transformation({"images": tf.zeros(shape, dtype)}, seed)


def _boxes(layer, shape, seed=SEED):
    """`[B, N, 4]` boxes as NumPy, and the boolean `[B, N]` of the non-empty ones."""
    boxes = _transformation(layer, shape, seed=seed)["boxes"].numpy()
    used = (boxes[..., 2] > boxes[..., 0]) & (boxes[..., 3] > boxes[..., 1])
    return boxes, used


def test_injected_boxes_const_and_per_box_colour_exact(small_photos):
    layer = RandomErasing()
    boxes = tf.constant([[[0, 0, 5, 5], [3, 3, 8, 10]], [[0, 0, 0, 0], [10, 30, 24, 40]]] + [[[0, 0, 0, 0]] * 2] * 2)
    fill = np.zeros([4, 2, 3], np.float32)
    fill[0, 0], fill[0, 1], fill[1, 1] = [1, 2, 3], [4, 5, 6], [250.4, 0.6, 128.5]
    out = layer.transform_images(tf.constant(small_photos), {"boxes": boxes, "fill": tf.constant(fill)}).numpy()
    expected = small_photos.copy()
    expected[0, 0:5, 0:5] = [1, 2, 3]
    expected[0, 3:8, 3:10] = [4, 5, 6]  # the later box is drawn over the earlier one
    expected[1, 10:24, 30:40] = [250, 1, 128]  # rounded half to even
    np.testing.assert_array_equal(out, expected)


def test_injected_boxes_pixel_noise_exact(small_photos):
    # Noise is drawn for the erased images only, NOISE_CHUNK at a time from noise_seed folded with the chunk's
    # first image: here one chunk, images 2 and 3 in its first two slots.
    layer = RandomErasing(fill="pixel")
    boxes = np.zeros([4, 2, 4], np.int32)
    boxes[2, 0] = [4, 6, 20, 11]
    boxes[3, 1] = [0, 0, 3, 40]
    seed = tf.constant([5, 6], tf.int64)
    out = layer.transform_images(tf.constant(small_photos), {"boxes": boxes, "noise_seed": seed}).numpy()
    expected = small_photos.copy()
    noise = tfr.normal(tfr.fold_in(seed, 2), (NOISE_CHUNK, *small_photos.shape[1:]), 127.5, 63.75).numpy()
    for slot, (i, (top, left, bottom, right)) in enumerate(((2, boxes[2, 0]), (3, boxes[3, 1]))):
        expected[i, top:bottom, left:right] = np.round(np.clip(noise[slot], 0, 255))[top:bottom, left:right]
    np.testing.assert_array_equal(out, expected)


def test_layer_output_is_the_drawn_transformation(small_photos):
    layer = RandomErasing(probability=1.0, count=2, fill="random", seed=0)
    out = layer.augment(small_photos, seed=SEED)
    transformation = _transformation(layer, small_photos.shape)
    np.testing.assert_array_equal(out, layer.transform_images(tf.constant(small_photos), transformation))
    assert not np.array_equal(out, small_photos)


@pytest.mark.parametrize("probability", [0.5, 1.0, 0.1])
def test_realised_apply_rate_equals_probability(probability):
    # Keras core's RandomErasing erases about 51% of the images when told 100%: count what is erased.
    images = np.full([4000, 8, 12, 1], 100, np.uint8)
    out = RandomErasing(probability=probability, fill_value=7, seed=0)(images).numpy()
    rate = (out != images).any(axis=(1, 2, 3)).mean()
    if probability == 1.0:
        assert rate == 1.0
    else:
        # Binomial(4000, p): 4.5 standard deviations.
        assert abs(rate - probability) < 4.5 * np.sqrt(probability * (1 - probability) / 4000)


def test_probability_zero_is_identity(small_photos):
    out = RandomErasing(probability=0.0, seed=0)(small_photos)
    np.testing.assert_array_equal(out, small_photos)


@pytest.mark.parametrize(
    "scale, ratio, count, shape",
    [
        ((0.02, 1 / 3), (0.3, 3.3), 1, (3000, 24, 40)),  # the defaults on a non-square image
        ((0.1, 0.2), (2.0, 3.0), 1, (2000, 40, 40)),  # tall boxes only: height / width in [2, 3]
        ((0.05, 0.1), (0.25, 0.5), 1, (2000, 40, 24)),  # wide boxes only
        ((0.3, 0.6), (0.5, 2.0), 3, (1000, 40, 40)),  # three boxes, each a third of the area
    ],
)
def test_boxes_inside_image_with_area_and_aspect_in_range(scale, ratio, count, shape):
    batch, height, width = shape
    layer = RandomErasing(probability=1.0, scale=scale, ratio=ratio, count=count, seed=3)
    boxes, used = _boxes(layer, [batch, height, width, 1])
    assert boxes.shape == (batch, count, 4)
    assert used.mean() > 0.95
    y1, x1, y2, x2 = (boxes[used][:, k] for k in range(4))
    # Fully inside (no clipping, unlike Cutout) and strictly smaller than the image sides.
    assert (y1 >= 0).all() and (x1 >= 0).all() and (y2 <= height).all() and (x2 <= width).all()
    h, w = (y2 - y1).astype(float), (x2 - x1).astype(float)
    assert (h < height).all() and (w < width).all()
    # Sides are round(sqrt(area * ratio)) and round(sqrt(area / ratio)): each within 0.5 of the exact side.
    area = h * w / (height * width) * count
    rounding = (0.5 * (h + w) + 0.25) / (height * width) * count
    assert (area >= scale[0] - rounding).all() and (area <= scale[1] + rounding).all()
    assert ((h + 0.5) / (w - 0.5) >= ratio[0]).all() and ((h - 0.5) / (w + 0.5) <= ratio[1]).all()
    # The whole ranges are used, not a corner of them.
    assert np.quantile(area, 0.02) < scale[0] + 0.1 * (scale[1] - scale[0])
    assert np.quantile(h / w, 0.02) < ratio[0] * (ratio[1] / ratio[0]) ** 0.2
    assert np.quantile(h / w, 0.98) > ratio[0] * (ratio[1] / ratio[0]) ** 0.8


def test_area_uniform_and_aspect_log_uniform_when_every_box_fits():
    layer = RandomErasing(probability=1.0, scale=(0.02, 0.1), ratio=(0.5, 2.0), seed=4)
    boxes, used = _boxes(layer, [4000, 40, 40, 1])
    assert used.all()
    h = (boxes[..., 2] - boxes[..., 0]).astype(float)
    w = (boxes[..., 3] - boxes[..., 1]).astype(float)
    area = h * w / 1600
    # Uniform(0.02, 0.1): mean 0.06, sd 0.023; log aspect uniform on +-log 2: mean 0, sd 0.4.
    assert abs(area.mean() - 0.06) < 0.002
    assert abs(np.log(h / w).mean()) < 0.03
    assert abs(np.log(h / w).std() - 2 * np.log(2) / np.sqrt(12)) < 0.03


def test_count_range_draws_each_count():
    layer = RandomErasing(probability=1.0, count=(1, 3), scale=(0.02, 0.1), seed=0)
    _, used = _boxes(layer, [3000, 24, 40, 1])
    counts = used.sum(axis=1)
    assert set(counts.tolist()) == {1, 2, 3}
    assert np.allclose(np.bincount(counts)[1:] / 3000, 1 / 3, atol=0.04)


def test_layers_with_different_box_counts_in_one_process(small_photos):
    # Regression: the fill kernel once needed the box count at trace time and failed for the second count.
    for count in (1, 2, (1, 3), 1):
        out = RandomErasing(probability=1.0, count=count, seed=0)(small_photos)
        assert out.shape == small_photos.shape and not np.array_equal(out, small_photos)


def test_box_that_never_fits_leaves_the_image():
    # Area >= 90% with a square box: the box is never smaller than the image, so every attempt fails.
    images = np.full([50, 8, 12, 3], 100, np.uint8)
    out = RandomErasing(probability=1.0, scale=(0.9, 1.0), ratio=(1.0, 1.0), seed=0)(images)
    np.testing.assert_array_equal(out, images)


def _erased_values(fill, dtype, value_range):
    """The layer's output on `[300, 24, 40, 3]` constant images and the `[B, H, W]` mask of its boxes."""
    images = np.full([300, 24, 40, 3], value_range[0], dtype)
    layer = RandomErasing(probability=1.0, scale=(0.2, 0.3), fill=fill, value_range=value_range, seed=0)
    out = layer.augment(images, seed=SEED).numpy()
    assert out.dtype == dtype
    boxes, used = _boxes(layer, images.shape)
    assert used.all()
    inside = np.zeros(images.shape[:3], bool)
    for i, (y1, x1, y2, x2) in enumerate(boxes[:, 0]):
        inside[i, y1:y2, x1:x2] = True
    np.testing.assert_array_equal(out[~inside], images[~inside])
    return out, inside


@pytest.mark.parametrize("dtype, value_range", [(np.uint8, (0, 255)), (np.float32, (0.0, 1.0))])
def test_pixel_noise_mean_std_clipped_and_rarely_zero(dtype, value_range):
    low, high = value_range
    out, inside = _erased_values("pixel", dtype, value_range)
    values = out[inside].astype(np.float64).ravel()
    assert values.size > 300 * 150
    assert values.min() >= low and values.max() <= high
    # N((low + high) / 2, (high - low) / 4) clipped at 2 sd: sd shrinks to 0.9594 of (high - low) / 4.
    mean, sd = (low + high) / 2, (high - low) / 4
    assert abs(values.mean() - mean) < 0.01 * sd
    assert abs(values.std() - 0.9594 * sd) < 0.01 * sd
    # The clipped tails hold 2.3% each; Keras core's noise is 0 for half its pixels.
    at_low = np.mean(values == low)
    assert 0.01 < at_low < 0.04
    assert 0.01 < np.mean(values == high) < 0.04
    # Per pixel: neighbouring pixels and channels are independent.
    assert len(np.unique(values)) > (100 if dtype == np.uint8 else 10000)


@pytest.mark.parametrize("dtype, value_range", [(np.uint8, (0, 255)), (np.float32, (0.0, 1.0))])
def test_random_fill_one_colour_per_box_and_channel(dtype, value_range):
    low, high = value_range
    layer = RandomErasing(probability=1.0, scale=(0.2, 0.3), fill="random", value_range=value_range, seed=1)
    images = np.full([400, 24, 40, 3], np.array(low, dtype), dtype)
    out = layer.augment(images, seed=SEED).numpy()
    transformation = _transformation(layer, images.shape, dtype=tf.as_dtype(dtype))
    fill = transformation["fill"].numpy()[:, 0]
    assert fill.min() >= low and fill.max() <= high
    boxes = transformation["boxes"].numpy()[:, 0]
    for i in range(0, 400, 37):
        y1, x1, y2, x2 = boxes[i]
        box = out[i, y1:y2, x1:x2].reshape(-1, 3)
        assert (box == box[0]).all()
        np.testing.assert_allclose(box[0], fill[i], atol=0.5 if dtype == np.uint8 else 0)
    mean, sd = (low + high) / 2, (high - low) / 4
    assert abs(fill.mean() - mean) < 0.06 * sd
    assert abs(fill.std() - 0.9594 * sd) < 0.06 * sd
    assert np.abs(np.corrcoef(fill.T) - np.eye(3)).max() < 0.15  # channels drawn independently


def test_const_fill_per_channel(small_photos):
    layer = RandomErasing(probability=1.0, fill_value=(1, 2, 3), scale=(0.1, 0.2), seed=0)
    out = layer.augment(small_photos, seed=SEED).numpy()
    boxes, used = _boxes(layer, small_photos.shape)
    assert used.all()
    for i, (y1, x1, y2, x2) in enumerate(boxes[:, 0]):
        expected = small_photos[i].copy()
        expected[y1:y2, x1:x2] = [1, 2, 3]
        np.testing.assert_array_equal(out[i], expected)


def test_batchwise_gives_every_image_the_same_boxes():
    layer = RandomErasing(probability=1.0, count=2, batchwise=True, seed=0)
    boxes, used = _boxes(layer, [16, 24, 40, 3])
    assert used.all() and (boxes == boxes[0]).all()
    boxes, _ = _boxes(RandomErasing(probability=1.0, count=2, seed=0), [16, 24, 40, 3])
    assert len({tuple(b.ravel()) for b in boxes}) > 1


def test_same_seed_same_output_and_calls_differ(small_photos):
    a = RandomErasing(probability=1.0, fill="pixel", seed=11)
    b = RandomErasing(probability=1.0, fill="pixel", seed=11)
    first = a(small_photos).numpy()
    np.testing.assert_array_equal(first, b(small_photos).numpy())
    assert not np.array_equal(first, a(small_photos).numpy())


@pytest.mark.parametrize("fill", ["const", "random", "pixel"])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_dtype_kept(small_photos, fill, dtype):
    images = small_photos.astype(dtype)
    out = RandomErasing(probability=1.0, fill=fill, seed=0)(images)
    assert out.dtype == dtype and out.shape == images.shape
    assert not np.array_equal(out, images)


def test_labels_masks_and_boxes_pass_through(small_photos, rng):
    labels = rng.uniform(0, 1, [4, 5]).astype(np.float32)
    masks = rng.integers(0, 5, [4, 24, 40]).astype(np.uint8)
    bounding_boxes = {"boxes": rng.uniform(0, 20, [4, 3, 4]).astype(np.float32), "labels": np.ones([4, 3])}
    layer = RandomErasing(probability=1.0, seed=0)
    out = layer(
        {"images": small_photos, "labels": labels, "segmentation_masks": masks, "bounding_boxes": bounding_boxes}
    )
    np.testing.assert_array_equal(out["labels"], labels)
    np.testing.assert_array_equal(out["segmentation_masks"], masks)
    assert out["segmentation_masks"].dtype == tf.uint8
    np.testing.assert_array_equal(out["bounding_boxes"]["boxes"], bounding_boxes["boxes"])
    assert not np.array_equal(out["images"], small_photos)
    images, same_labels = layer((small_photos, labels))
    np.testing.assert_array_equal(same_labels, labels)


def test_unbatched_image_returned_unbatched(small_photos):
    out = RandomErasing(probability=1.0, seed=0)(small_photos[1])
    assert out.shape == (24, 40, 3) and out.dtype == tf.uint8
    assert not np.array_equal(out, small_photos[1])


@pytest.mark.parametrize("batch_size", [0, 1, 3])
def test_batch_sizes(small_photos, batch_size):
    images = np.resize(small_photos, [batch_size, 24, 40, 3])
    out = RandomErasing(probability=1.0, count=2, seed=0)(images).numpy()
    assert out.shape == images.shape and out.dtype == np.uint8
    assert (out != images).any(axis=(1, 2, 3)).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"scale": (0.5, 0.1)}, "scale"),
        ({"scale": (0.0, 0.5)}, "scale"),
        ({"scale": (0.1, 1.5)}, "scale"),
        ({"scale": 0.3}, "scale"),
        ({"ratio": (3.0, 0.3)}, "ratio"),
        ({"ratio": (0.0, 1.0)}, "ratio"),
        ({"probability": 1.01}, "probability"),
        ({"probability": -0.5}, "probability"),
        ({"fill": "noise"}, "`fill`"),
        ({"fill_value": 300}, "fill_value"),
        ({"fill_value": -1.0}, "fill_value"),
        ({"fill_value": 0.5, "value_range": (-1.0, 0.0)}, "fill_value"),
        ({"count": 0}, "count"),
        ({"count": (0, 2)}, "count"),
        ({"count": (3, 1)}, "count"),
        ({"count": (1.5, 2)}, "count"),
        ({"max_attempts": 0}, "max_attempts"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RandomErasing(**kwargs)


def test_bad_images_raise(small_photos):
    layer = RandomErasing(seed=0)
    with pytest.raises(ValueError, match="value_range"):
        RandomErasing(value_range=(0.0, 1.0))(small_photos.astype(np.float32))
    with pytest.raises(ValueError, match="value_range"):
        layer(small_photos.astype(np.float32) - 1.0)
    with pytest.raises(ValueError, match="images"):
        layer(small_photos[0, :, :, 0])
    with pytest.raises(ValueError, match="images"):
        layer(small_photos[None])
    with pytest.raises(TypeError, match="images"):
        layer(small_photos > 100)
    with pytest.raises(ValueError, match="fill_value"):
        RandomErasing(probability=1.0, fill_value=(1, 2))(small_photos)


def test_pixel_noise_alike_eagerly_in_graphs_in_tf_data_and_compiled(small_photos):
    # Noise is drawn in a loop over the erased images (half of them here): every mode gives the same pixels.
    layer = RandomErasing(probability=0.5, fill="pixel", seed=0)
    images = tf.constant(np.concatenate([small_photos, small_photos[::-1]]))

    def erase(x):
        return layer.augment(x, seed=SEED)

    eager = erase(images).numpy()
    erased = (eager != images.numpy()).any(axis=(1, 2, 3))
    assert 0 < erased.sum() < len(erased)
    others = (
        tf.function(erase)(images),
        tf.function(erase, jit_compile=True)(images),
        next(iter(tf.data.Dataset.from_tensors(images).map(erase))),
    )
    for other in others:
        np.testing.assert_array_equal(other.numpy(), eager)
