"""ResizeMix: the pasted rectangle holds the partner resized as `tf.image.resize` would, labels mixed by the
exact pasted fraction, `tau` uniform, boxes scaled with the partner; the same in every execution mode."""

import numpy as np
import pytest
import scipy.stats
import tensorflow as tf

from tfaug.layers import ResizeMix
from tfaug.ops import bounding_boxes as box_ops

B, H, W = 4, 24, 40


@pytest.fixture(scope="module")
def batch(small_photos):
    masks = (small_photos[..., 0] // 64).astype(np.int32)
    return small_photos.astype(np.float32), np.eye(B, dtype=np.float32), masks


def ties(size, side):
    """Output pixels of a nearest resize from `size` to `side` whose sampled point `(j + 0.5) * size / side`
    lies exactly on a pixel border: float32 rounding may pick either neighbour there."""
    return (2 * np.arange(side) + 1) * size % (2 * side) == 0


def check_pasted(images, out, transformation, method, atol):
    """Outside the rectangle: the image, exactly; inside: `tf.image.resize` of the whole partner (for
    nearest, except on exact ties)."""
    partner = transformation["partner"].numpy()
    for i, (y1, x1, y2, x2) in enumerate(transformation["boxes"].numpy()):
        expected = images[i].copy()
        exact = np.ones([H, W], bool)
        if y2 > y1 and x2 > x1:
            expected[y1:y2, x1:x2] = tf.image.resize(images[partner[i]], (y2 - y1, x2 - x1), method)
            if method == "nearest":
                exact[y1:y2, x1:x2] = ~ties(H, y2 - y1)[:, None] & ~ties(W, x2 - x1)[None, :]
        np.testing.assert_allclose(out[i][exact], expected[exact], atol=atol, rtol=0)
        assert np.mean(exact) > 0.5


def test_pasted_pixels_and_exact_label_weights(batch):
    images, labels, masks = batch
    layer = ResizeMix(seed=0)
    for seed in range(3):
        data = {"images": images, "labels": labels, "segmentation_masks": masks}
        seed = tf.constant([seed, 7], tf.int64)
        out = layer.augment(data, seed=seed)
        t = layer.get_random_transformation(data, seed)
        boxes, partner = t["boxes"].numpy(), t["partner"].numpy()
        assert np.any(boxes[:, 2] > boxes[:, 0])
        # Fully inside the image, sides floor(tau * side) of one tau: the aspect ratio is the image's.
        assert (boxes >= 0).all() and (boxes[:, 2] <= H).all() and (boxes[:, 3] <= W).all()
        tau_low = np.maximum((boxes[:, 2] - boxes[:, 0]) / H, (boxes[:, 3] - boxes[:, 1]) / W)
        tau_high = np.minimum((boxes[:, 2] - boxes[:, 0] + 1) / H, (boxes[:, 3] - boxes[:, 1] + 1) / W)
        assert (tau_low < tau_high).all()
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        lam = np.float32(1.0) - (area / np.float32(H * W)).astype(np.float32)
        np.testing.assert_array_equal(t["lambda"].numpy(), (H * W - area).astype(np.float32) / np.float32(H * W))
        expected_labels = lam[:, None] * labels + (1 - lam[:, None]) * labels[partner]
        np.testing.assert_allclose(out["labels"], expected_labels, atol=1e-6)
        check_pasted(images, out["images"].numpy(), t, "bilinear", atol=2e-3)
        check_pasted(masks[..., None].astype(np.float32), out["segmentation_masks"].numpy()[..., None], t, "nearest", 0)
        assert out["segmentation_masks"].dtype == tf.int32


def test_integer_images_are_rounded_resized_partners(batch):
    images = batch[0].astype(np.uint8)
    layer = ResizeMix(seed=1)
    seed = tf.constant([3, 4], tf.int64)
    out, _ = layer.augment((images, batch[1]), seed=seed)
    assert out.dtype == tf.uint8
    t = layer.get_random_transformation({"images": images}, seed)
    check_pasted(images.astype(np.float32), out.numpy().astype(np.float32), t, "bilinear", atol=1.0)


def test_tau_is_uniform_on_side_scale():
    # Sides floor(tau * 1000) of a 1000 x 1000 image give tau to 1e-3; no pixels are needed for the draw.
    layer = ResizeMix(side_scale=(0.2, 0.7), seed=0)
    t = layer.get_random_transformation({"images": tf.zeros([3000, 1000, 1000, 0])}, tf.constant([5, 6], tf.int64))
    boxes = t["boxes"].numpy()
    tau = (boxes[:, 3] - boxes[:, 1] + 0.5) / 1000.0
    assert scipy.stats.kstest(tau, scipy.stats.uniform(0.2, 0.5).cdf).pvalue > 0.01
    # The top-left corner is uniform over the places where the rectangle fits.
    room = 1000 - (boxes[:, 2] - boxes[:, 0])
    assert scipy.stats.kstest((boxes[:, 0] + 0.5) / (room + 1), "uniform").pvalue > 0.01


def test_probability_and_batchwise(batch):
    images, labels, _ = batch
    out = ResizeMix(probability=0.0, seed=0)((images, labels))
    np.testing.assert_array_equal(out[0], images)
    np.testing.assert_array_equal(out[1], labels)
    t = ResizeMix(batchwise=True, seed=0).get_random_transformation({"images": images}, tf.constant([1, 2]))
    assert len({tuple(b) for b in t["boxes"].numpy()}) == 1


def test_partner_boxes_are_scaled_into_the_rectangle(batch):
    images, labels, _ = batch
    boxes = np.array([[4.0, 2.0, 20.0, 12.0]] * B, np.float32)[:, None]  # xyxy, one box per image
    data = {"images": images, "labels": labels, "bounding_boxes": {"boxes": boxes, "labels": np.ones([B, 1])}}
    layer = ResizeMix(bounding_box_format="xyxy", seed=0)
    seed = tf.constant([0, 7], tf.int64)
    out = layer.augment(data, seed=seed)["bounding_boxes"]
    t = layer.get_random_transformation(data, seed)
    y1, x1, y2, x2 = (t["boxes"].numpy().astype(np.float32).T)[:, :, None]
    theirs = out["boxes"].numpy()[:, 1]
    sx, sy = (x2 - x1) / W, (y2 - y1) / H
    expected = np.concatenate([x1 + 4 * sx, y1 + 2 * sy, x1 + 20 * sx, y1 + 12 * sy], axis=1)
    pasted = (y2 > y1)[:, 0]
    np.testing.assert_allclose(theirs[pasted], expected[pasted], atol=1e-4)
    np.testing.assert_array_equal(out["labels"].numpy()[:, 1], np.where(pasted, 1, -1))
    # The own boxes are cut as CutMix cuts them.
    rectangles = np.concatenate([x1, y1, x2, y2], axis=1)
    own, own_labels = box_ops.cut(tf.constant(boxes), tf.ones([B, 1], tf.float64), tf.constant(rectangles))
    np.testing.assert_allclose(out["boxes"].numpy()[:, :1], own, atol=1e-6)
    np.testing.assert_array_equal(out["labels"].numpy()[:, :1], own_labels)


def run_in_modes(batch, modes):
    images, labels, _ = batch
    layer = ResizeMix(seed=0)
    seed = tf.constant([2, 9], tf.int64)

    def run(images, labels):
        return layer.augment((images, labels), seed=seed)

    eager = run(images, labels)
    for mode in modes:
        other = mode(run)(images, labels)
        for a, b in zip(other, eager):
            np.testing.assert_allclose(a, b, atol=1e-4, rtol=0)


def test_same_output_eagerly_and_in_a_graph(batch):
    run_in_modes(batch, [tf.function])


@pytest.mark.slow
def test_same_output_compiled(batch):
    run_in_modes(batch, [lambda fn: tf.function(fn, jit_compile=True)])


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"side_scale": (0.0, 0.5)}, "side_scale"),
        ({"side_scale": (0.5, 0.2)}, "side_scale"),
        ({"side_scale": (0.1, 1.5)}, "side_scale"),
        ({"side_scale": 0.5}, "side_scale"),
        ({"probability": 1.5}, "probability"),
    ],
)
def test_bad_arguments_are_refused_by_name(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        ResizeMix(**kwargs)
