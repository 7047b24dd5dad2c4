"""RandomResizedCrop: per-image windows of torchvision's sampling, resized; masks and boxes follow the crop."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfaug.layers import RandomResizedCrop
from tfaug.ops import crops

SEED = tf.constant([1, 2], tf.int64)


def coordinate_images(batch, height, width):
    """float32 images whose channels hold each pixel's row and column, and int32 masks `row * W + col`."""
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    images = np.broadcast_to(np.stack([rows, cols, rows + cols], -1), [batch, height, width, 3])
    masks = np.broadcast_to((rows * width + cols)[..., None], [batch, height, width, 1])
    return images.astype(np.float32), masks.astype(np.int32)


def test_each_image_is_its_window_resized(small_photos):
    layer = RandomResizedCrop((12, 10), seed=0)
    out = layer.augment(small_photos, seed=SEED).numpy()
    windows = crops.random_resized_crop_windows(SEED, [24] * 4, [40] * 4).numpy()
    assert len({tuple(w) for w in windows}) == 4  # one window per image
    for image, (top, left, h, w), got in zip(small_photos, windows, out):
        crop = image[top : top + h, left : left + w].astype(np.float32)
        expected = np.clip(np.round(tf.image.resize(crop, (12, 10)).numpy()), 0, 255)
        np.testing.assert_allclose(got, expected, atol=1)  # a level where float rounding straddles .5
    assert out.dtype == np.uint8 and out.shape == (4, 12, 10, 3)


def test_masks_follow_the_crop():
    images, masks = coordinate_images(6, 24, 40)
    layer = RandomResizedCrop((9, 14), interpolation="nearest", value_range=(0, 100), seed=0)
    out = layer.augment({"images": images, "segmentation_masks": masks}, seed=SEED)
    rows, cols = np.divmod(out["segmentation_masks"].numpy()[..., 0], 40)
    np.testing.assert_array_equal(out["images"][..., 0], rows)  # the same source pixel everywhere
    np.testing.assert_array_equal(out["images"][..., 1], cols)
    # Unbatched masks [H, W] too.
    single = layer.augment({"images": images[0], "segmentation_masks": masks[0, ..., 0]}, seed=SEED)
    assert single["segmentation_masks"].shape == (9, 14)


@pytest.mark.parametrize("fmt", ["xyxy", "rel_yxyx"])
def test_boxes_follow_the_crop(fmt):
    """A white box on black: after the crop (nearest), the white pixels' extent is the moved box."""
    batch, height, width = 16, 32, 48
    images = np.zeros([batch, height, width, 1], np.float32)
    images[:, 2:12, 3:19] = 255.0
    box = np.array([3, 2, 19, 12], np.float32)  # xyxy, near a corner: some crops miss it
    if fmt == "rel_yxyx":
        box = np.array([2 / height, 3 / width, 12 / height, 19 / width], np.float32)
    boxes = {"boxes": np.tile(box, [batch, 1, 1]), "labels": np.full([batch, 1], 3, np.int32)}
    layer = RandomResizedCrop((16, 24), scale=(0.1, 0.5), interpolation="nearest", bounding_box_format=fmt, seed=0)
    out = layer.augment({"images": images, "bounding_boxes": boxes}, seed=SEED)
    moved, labels = out["bounding_boxes"]["boxes"].numpy()[:, 0], out["bounding_boxes"]["labels"].numpy()[:, 0]
    if fmt == "rel_yxyx":
        moved = np.stack([moved[:, 1] * 24, moved[:, 0] * 16, moved[:, 3] * 24, moved[:, 2] * 16], -1)
    assert set(labels) <= {3, -1} and -1 in labels and 3 in labels  # some crops miss the box
    for image, (x1, y1, x2, y2), label in zip(out["images"].numpy()[..., 0], moved, labels):
        white_rows, white_cols = np.nonzero(image)
        if label == -1:
            assert white_rows.size == 0
            continue
        # Nearest samples pixel centres: the white extent is the box rounded to the pixels whose centres it holds.
        assert abs(white_rows.min() - y1) <= 1 and abs(white_rows.max() + 1 - y2) <= 1
        assert abs(white_cols.min() - x1) <= 1 and abs(white_cols.max() + 1 - x2) <= 1
        assert 0 <= x1 < x2 <= 24 and 0 <= y1 < y2 <= 16


def test_batchwise_draws_one_window(small_photos):
    same = np.repeat(small_photos[:1], 4, axis=0)
    out = RandomResizedCrop(8, batchwise=True, seed=0).augment(same, seed=SEED).numpy()
    assert all(np.array_equal(out[0], o) for o in out[1:])
    per_image = RandomResizedCrop(8, seed=0).augment(same, seed=SEED).numpy()
    assert not all(np.array_equal(per_image[0], o) for o in per_image[1:])


def test_inference_is_the_central_aspect_crop_resized(small_photos):
    layer = RandomResizedCrop((16, 16), seed=0)
    out = layer(small_photos, training=False).numpy()
    expected = keras.preprocessing.image.smart_resize(small_photos.astype(np.float32), (16, 16))
    np.testing.assert_allclose(out, np.clip(np.round(np.asarray(expected)), 0, 255), atol=1)
    inputs = keras.Input((24, 40, 3))
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(layer(inputs)))
    assert model.predict(small_photos.astype(np.float32), verbose=0).shape == (4, 3)


def test_symbolic_outputs_have_the_output_size():
    layer = RandomResizedCrop((8, 6), bounding_box_format="xyxy", seed=0)
    images = keras.Input((24, 40, 3), dtype="uint8")
    masks = keras.Input((24, 40), dtype="int32")
    out = layer({"images": images, "segmentation_masks": masks})
    assert tuple(out["images"].shape) == (None, 8, 6, 3) and out["images"].dtype == "uint8"
    assert tuple(out["segmentation_masks"].shape) == (None, 8, 6)
    assert layer.compute_output_shape((24, 40, 1)) == (8, 6, 1)


def test_upscaling_and_one_pixel_images():
    tiny = np.arange(3 * 5 * 3, dtype=np.uint8).reshape(1, 3, 5, 3)
    assert RandomResizedCrop(32, seed=0)(tiny).shape == (1, 32, 32, 3)
    dot = np.full([2, 1, 1, 3], 7, np.uint8)
    np.testing.assert_array_equal(RandomResizedCrop((4, 3), seed=0)(dot), np.full([2, 4, 3, 3], 7))


@pytest.mark.parametrize(
    "interpolation, antialias",
    # Antialiasing sizes its taps from the image's height at run time; bilinear without it runs in the conformance
    # suite's every-mode test.
    [("bicubic", True), pytest.param("bilinear", True, marks=pytest.mark.slow)],
)
def test_every_mode_with_unknown_shapes(small_photos, interpolation, antialias):
    layer = RandomResizedCrop((10, 12), interpolation=interpolation, antialias=antialias, seed=0)

    @tf.autograph.experimental.do_not_convert
    def run(x):
        return layer.augment(x, seed=SEED)

    eager = run(small_photos)
    unknown = tf.function(run, input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)])(small_photos)
    compiled = tf.function(run, jit_compile=True)(small_photos)
    in_tf_data = next(iter(tf.data.Dataset.from_tensors(small_photos).map(run)))
    for other in (unknown, compiled, in_tf_data):
        np.testing.assert_array_equal(other, eager)


def test_bad_arguments_are_refused_by_name():
    bad = {
        "size": [0, -3, (4,), (4, 0), 2.5, "8", None, True, (8, 8.0)],
        "scale": [(0.5, 0.2), (0.0, 0.5), (0.1, 1.5), (-0.1, 0.5), 0.5, (float("nan"), 1)],
        "ratio": [(2.0, 1.0), (0.0, 1.0), (-1, 1), (1, float("inf")), 1.0],
        "interpolation": ["area", "cubic", None],
        "antialias": [1, "yes", None],
    }
    for name, values in bad.items():
        for value in values:
            kwargs = {"size": 8, name: value}
            with pytest.raises(ValueError, match=f"`{name}`"):
                RandomResizedCrop(**kwargs)
    with pytest.raises(ValueError, match="needs images of at least 1 x 1 pixels"):
        RandomResizedCrop(8, seed=0)(np.zeros([2, 0, 5, 3], np.uint8))
    with pytest.raises(ValueError, match="moves `bounding_boxes`.*`bounding_box_format`"):
        boxes = {"boxes": np.zeros([1, 1, 4], np.float32), "labels": np.zeros([1, 1], np.int32)}
        RandomResizedCrop(8, seed=0)({"images": np.zeros([1, 4, 4, 3], np.uint8), "bounding_boxes": boxes})


def test_images_without_pixels_are_refused_when_the_graph_runs():
    layer = RandomResizedCrop(8, seed=0)
    run = tf.function(lambda x: layer.augment(x, seed=SEED), input_signature=[tf.TensorSpec([None] * 4, tf.uint8)])
    with pytest.raises(tf.errors.InvalidArgumentError, match="needs images of at least 1 x 1 pixels"):
        run(np.zeros([2, 0, 5, 3], np.uint8))
