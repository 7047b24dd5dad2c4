"""Segmentation masks and bounding boxes follow the policy layers' geometric ops, image by image."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfaug
from tfaug.ops import bounding_boxes as box_ops
from tfaug.policies.levels import GEOMETRIC

SEED = tf.constant([5, 6], tf.int64)
SHAPE = (6, 24, 40)  # non-square, as every geometry test here


@pytest.fixture(scope="module")
def images(small_photos):
    """Real photos `[6, 24, 40, 3]` uint8."""
    return np.concatenate([small_photos, small_photos[:2, ::-1]])


def thresholded(images):
    return (images[..., 0] > 100).astype(np.int32)


@pytest.mark.parametrize("op", GEOMETRIC)
@pytest.mark.parametrize("batchwise", [False, True])
def test_mask_of_the_image_stays_the_mask_of_the_augmented_image(images, op, batchwise):
    masks = thresholded(images)
    for magnitude in (3, 10):
        # One op for a batchwise draw: two could cancel (opposite signs) for the whole batch.
        num_ops = 1 if batchwise else 2
        layer = tfaug.RandAugment(num_ops, magnitude, ops=[op], fill_value=0, batchwise=batchwise, seed=1)
        out = layer({"images": images, "segmentation_masks": masks})
        assert out["segmentation_masks"].dtype == tf.int32
        np.testing.assert_array_equal(out["segmentation_masks"], thresholded(out["images"].numpy()))
        assert not np.array_equal(out["segmentation_masks"], masks)


def _geometric_part(layer, transformation):
    """The transformation with every non-geometric op skipped."""
    geometric = [k for k, name in enumerate(layer.op_table) if name in GEOMETRIC]
    op_ids = transformation["op_ids"]
    keep = tf.reduce_any(tf.equal(op_ids[..., None], geometric), axis=-1)
    return {**transformation, "op_ids": tf.where(keep, op_ids, -1)}


@pytest.mark.parametrize(
    "make",
    [
        # AutoAugment runs the program engine the RandAugment case runs by default.
        pytest.param(lambda: tfaug.AutoAugment("imagenet", mask_fill_value=255, seed=2), marks=pytest.mark.slow),
        lambda: tfaug.TrivialAugmentWide(mask_fill_value=255, seed=3),
        lambda: tfaug.RandAugment(num_ops=3, magnitude=9, interpolation="bilinear", mask_fill_value=255, seed=4),
    ],
    ids=["AutoAugment", "TrivialAugmentWide", "RandAugment-bilinear"],
)
def test_masks_move_as_the_images_geometry_and_ignore_pixel_ops(images, make):
    layer = make()
    images = np.concatenate([images] * 4)  # 24 images: some surely draw geometric ops
    masks = thresholded(images).astype(np.uint8)[..., None]  # [B, H, W, 1] uint8 masks too
    data = {"images": tf.constant(images), "segmentation_masks": tf.constant(masks)}
    transformation = layer.get_random_transformation(data, seed=SEED)
    out = layer.augment(data, seed=SEED)["segmentation_masks"].numpy()
    # The mask resampled by the engine as an image, with the pixel ops dropped and nearest sampling.
    layer.interpolation, layer.fill_value = "nearest", 255
    expected = layer.transform_images(tf.constant(masks), _geometric_part(layer, transformation)).numpy()
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, expected)
    assert (out == 255).any() and set(np.unique(out)) <= {0, 1, 255}


def test_pixel_ops_leave_masks_unchanged(images):
    masks = thresholded(images)
    layer = tfaug.RandAugment(num_ops=3, ops=["equalize", "solarize", "cutout", "sharpness"], seed=0)
    out = layer({"images": images, "segmentation_masks": masks})
    np.testing.assert_array_equal(out["segmentation_masks"], masks)


def _rectangles(boxes, height, width):
    """uint8 `[B, H, W, 3]` images: 255 inside each image's one box (integer pixel `xyxy`), 0 elsewhere."""
    images = np.zeros((len(boxes), height, width, 3), np.uint8)
    for image, (x1, y1, x2, y2) in zip(images, boxes.astype(int)):
        image[y1:y2, x1:x2] = 255
    return images


def _extent(image):
    """Pixel `xyxy` extent of the non-zero pixels of `image` `[H, W, C]`."""
    rows, cols = np.nonzero(image[..., 0])
    return np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], np.float32)


@pytest.mark.parametrize("op", GEOMETRIC)
def test_a_box_drawn_in_the_image_matches_the_moved_box_within_a_pixel(op):
    height, width = 48, 80
    boxes = np.array([[20, 14, 50, 30], [30, 10, 44, 40], [26, 20, 60, 28], [34, 18, 46, 30]] * 2, np.float32)
    images = _rectangles(boxes, height, width)
    layer = tfaug.RandAugment(num_ops=2, magnitude=5, ops=[op], fill_value=0, bounding_box_format="xyxy", seed=7)
    labels = np.arange(len(boxes), dtype=np.int32)[:, None]
    out = layer({"images": images, "bounding_boxes": {"boxes": boxes[:, None], "labels": labels}})
    moved, moved_labels = out["bounding_boxes"]["boxes"].numpy()[:, 0], out["bounding_boxes"]["labels"].numpy()
    assert not np.allclose(moved, boxes)
    for image, box, label, original in zip(out["images"].numpy(), moved, moved_labels[:, 0], labels[:, 0]):
        assert label == original  # each rectangle stays (partly) inside the image
        np.testing.assert_allclose(box, _extent(image), atol=1.0)


def test_boxes_follow_hand_computed_corners():
    height, width = 20, 30
    layer = tfaug.RandAugment(ops=["translate_x", "rotate"], num_ops=1, bounding_box_format="xyxy")
    boxes = {"boxes": tf.constant([[[2.0, 3.0, 10.0, 12.0]]] * 3), "labels": tf.constant([[4]] * 3)}
    transformation = {
        # translate_x by 5 (the content moves left), by -25 (right, out of the image), rotate by 90 degrees.
        "op_ids": tf.constant([[0], [0], [1]]),
        "arguments": tf.constant([[5.0], [-25.0], [90.0]]),
    }
    out = layer.transform_bounding_boxes(boxes, transformation, height, width)
    # Rotating by 90 degrees counter-clockwise about (15, 10): (x, y) -> (15 + (y - 10), 10 - (x - 15)).
    expected = [[0.0, 3.0, 5.0, 12.0], [27.0, 3.0, 30.0, 12.0], [8.0, 15.0, 17.0, 20.0]]
    np.testing.assert_allclose(out["boxes"].numpy()[:, 0], expected, atol=1e-4)
    np.testing.assert_array_equal(out["labels"].numpy()[:, 0], [4, 4, 4])
    transformation["arguments"] = tf.constant([[40.0], [-40.0], [180.0]])
    out = layer.transform_bounding_boxes(boxes, transformation, height, width)
    np.testing.assert_array_equal(out["labels"].numpy()[:, 0], [-1, -1, 4])  # moved out: padding label


@pytest.mark.parametrize("bounding_box_format", box_ops.FORMATS)
def test_box_formats_convert_as_keras_does(bounding_box_format):
    rng = np.random.default_rng(0)
    xyxy = np.sort(rng.uniform(0, 30, (2, 5, 2, 2)), axis=2).transpose(0, 1, 3, 2).reshape(2, 5, 4)
    xyxy = xyxy.astype(np.float32)
    expected = keras.utils.bounding_boxes.convert_format(xyxy, "xyxy", bounding_box_format, height=20, width=30)
    converted = box_ops.from_xyxy(xyxy, bounding_box_format, 20, 30)
    np.testing.assert_allclose(converted, keras.ops.convert_to_numpy(expected), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(box_ops.to_xyxy(converted, bounding_box_format, 20, 30), xyxy, rtol=1e-5, atol=1e-4)


def test_relative_boxes_and_one_image_move_alike(images):
    layer = tfaug.RandAugment(ops=["rotate"], num_ops=1, bounding_box_format="rel_yxyx", seed=3)
    boxes = {"boxes": np.array([[0.25, 0.25, 0.75, 0.5]], np.float32), "labels": np.array([1], np.int32)}
    out = layer({"images": images[0], "bounding_boxes": boxes})
    assert out["images"].shape == images[0].shape
    assert out["bounding_boxes"]["boxes"].shape == (1, 4)
    moved = box_ops.to_xyxy(out["bounding_boxes"]["boxes"], "rel_yxyx", 24, 40).numpy()
    assert (moved >= 0).all() and (moved[:, 2] <= 40).all() and (moved[:, 3] <= 24).all()


def test_same_masks_and_boxes_eagerly_in_a_graph_and_in_tf_data(images):
    layer = tfaug.RandAugment(num_ops=2, ops=list(GEOMETRIC) + ["equalize"], bounding_box_format="xyxy", seed=0)
    data = {
        "images": tf.constant(images),
        "segmentation_masks": tf.constant(thresholded(images)),
        "bounding_boxes": {"boxes": tf.constant([[[4.0, 4.0, 20.0, 16.0]]] * 6), "labels": tf.ones([6, 1], tf.int32)},
    }

    def run(data):
        return layer.augment(data, seed=SEED)

    eager = run(data)
    graph = tf.function(run)(data)
    dataset = next(iter(tf.data.Dataset.from_tensors(data).map(run)))
    for other in (graph, dataset):
        for key in ("images", "segmentation_masks"):
            np.testing.assert_array_equal(other[key], eager[key])
        np.testing.assert_allclose(other["bounding_boxes"]["boxes"], eager["bounding_boxes"]["boxes"], atol=1e-4)
        np.testing.assert_array_equal(other["bounding_boxes"]["labels"], eager["bounding_boxes"]["labels"])


def test_bad_box_inputs_are_refused_by_name(images):
    boxes = {"boxes": np.zeros([6, 1, 4], np.float32), "labels": np.zeros([6, 1], np.int32)}
    with pytest.raises(ValueError, match="needs their format: set `bounding_box_format`"):
        tfaug.RandAugment(seed=0)({"images": images, "bounding_boxes": boxes})
    with pytest.raises(ValueError, match="`bounding_box_format` must be one of"):
        tfaug.RandAugment(bounding_box_format="xyzw")
    with pytest.raises(ValueError, match="'boxes' \\[batch, num_boxes, 4\\]"):
        tfaug.RandAugment(bounding_box_format="xyxy")({"images": images, "bounding_boxes": {"boxes": boxes["boxes"]}})
    with pytest.raises(ValueError, match="AugMix does not support `bounding_boxes`"):
        tfaug.AugMix(bounding_box_format="xyxy")({"images": images, "bounding_boxes": boxes})
    with pytest.raises(ValueError, match="AugMix cannot carry `segmentation_masks`"):
        tfaug.AugMix()({"images": images, "segmentation_masks": thresholded(images)})
    with pytest.raises(ValueError, match="`mask_fill_value` must be an int"):
        tfaug.TrivialAugmentWide(mask_fill_value=0.5)


def test_layers_that_move_no_pixels_keep_boxes(images):
    boxes = {"boxes": np.array([[[1.0, 2.0, 9.0, 7.0]]] * 6, np.float32), "labels": np.ones([6, 1], np.int32)}
    for layer in (tfaug.Cutout(seed=0), tfaug.RandomErasing(probability=1.0, seed=0)):
        out = layer({"images": images, "bounding_boxes": boxes})
        np.testing.assert_array_equal(out["bounding_boxes"]["boxes"], boxes["boxes"])
        np.testing.assert_array_equal(out["bounding_boxes"]["labels"], boxes["labels"])
