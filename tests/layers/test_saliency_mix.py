"""SaliencyMix: CutMix's box centred on the partner's saliency peak, pasted in place, labels by the exact
pasted fraction; the user's saliency maps used when given; the same in every execution mode."""

import numpy as np
import pytest
import tensorflow as tf

from tfaug.layers import SaliencyMix
from tfaug.ops import spectral_residual

B, H, W = 4, 24, 40


def peaked_maps(rng, batch=B):
    """Noise maps with one clear maximum each; returns the maps and their peaks."""
    maps = rng.uniform(0, 0.5, [batch, H, W]).astype(np.float32)
    peaks = np.stack([rng.integers(0, H, batch), rng.integers(0, W, batch)], axis=1)
    maps[np.arange(batch), peaks[:, 0], peaks[:, 1]] = 1.0
    return maps, peaks


def check_mix(images, labels, out, out_labels, transformation, peaks):
    """The box of each image is CutMix's centred box at its partner's peak; pasted in place; labels exact."""
    partner = transformation["partner"].numpy()
    for i, (y1, x1, y2, x2) in enumerate(transformation["boxes"].numpy()):
        cy, cx = peaks[partner[i]]
        half_h, half_w = (y2 - y1) // 2, (x2 - x1) // 2
        if y2 > y1 and 0 < y1 and y2 < H:  # not clipped: centred on the peak
            assert y1 == cy - half_h and y2 == cy + half_h
        if x2 > x1 and 0 < x1 and x2 < W:
            assert x1 == cx - half_w and x2 == cx + half_w
        if y2 > y1 and x2 > x1:
            assert y1 <= cy < y2 and x1 <= cx < x2
        expected = images[i].copy()
        expected[y1:y2, x1:x2] = images[partner[i], y1:y2, x1:x2]
        np.testing.assert_array_equal(out[i], expected)
        kept = np.float32(H * W - (y2 - y1) * (x2 - x1)) / np.float32(H * W)
        assert transformation["lambda"].numpy()[i] == kept
        np.testing.assert_allclose(out_labels[i], kept * labels[i] + (1 - kept) * labels[partner[i]], atol=1e-6)


def test_box_centred_on_the_given_saliency_peak(small_photos, rng):
    images, labels = small_photos, np.eye(B, dtype=np.float32)
    layer = SaliencyMix(seed=0)
    for seed in range(4):
        maps, peaks = peaked_maps(rng)
        data = {"images": images, "labels": labels, "saliency": maps}
        seed = tf.constant([seed, 1], tf.int64)
        out = layer.augment(data, seed=seed)
        np.testing.assert_array_equal(out["saliency"], maps)  # returned as given
        t = layer.get_random_transformation(layer_data(data), seed)
        assert np.any(t["boxes"].numpy()[:, 2] > t["boxes"].numpy()[:, 0])
        check_mix(images, labels, out["images"].numpy(), out["labels"].numpy(), t, peaks)
    # [B, H, W, 1] maps and integer maps are read alike.
    maps, peaks = peaked_maps(rng)
    seed = tf.constant([9, 9], tf.int64)
    first = layer.augment({"images": images, "labels": labels, "saliency": maps[..., None]}, seed=seed)
    second = layer.augment({"images": images, "labels": labels, "saliency": (maps * 100).astype(np.int32)}, seed=seed)
    np.testing.assert_array_equal(first["images"], second["images"])


def layer_data(data):
    return {key: tf.convert_to_tensor(value) for key, value in data.items()}


def test_first_peak_on_ties(small_photos):
    # Two equal maxima: the first in row-major order is the centre.
    maps = np.zeros([B, H, W], np.float32)
    maps[:, 5, 30] = maps[:, 15, 3] = 1.0
    layer = SaliencyMix(seed=0, alpha=50.0)  # lam near 1/2: boxes of about 16 x 28, clipped at the top
    data = layer_data({"images": small_photos, "saliency": maps})
    t = layer.get_random_transformation(data, tf.constant([1, 1], tf.int64))
    check_mix(small_photos, np.eye(B), *layer_outputs(layer, data, t), t, np.array([[5, 30]] * B))


def layer_outputs(layer, data, transformation):
    return layer.transform_images(data["images"], transformation).numpy(), (
        layer.transform_labels(tf.eye(B), transformation).numpy()
    )


def test_default_saliency_is_the_spectral_residual_of_the_partner(small_photos):
    # A bright disc on a flat background in every image, at different places: the partner's disc is pasted.
    rows, cols = np.mgrid[:H, :W]
    centres = np.array([[6, 8], [16, 30], [12, 20], [7, 33]])
    images = np.full([B, H, W, 3], 60, np.uint8)
    for image, (cy, cx) in zip(images, centres):
        image[(rows - cy) ** 2 + (cols - cx) ** 2 <= 4] = 250
    maps = spectral_residual(images.astype(np.float32) / 255.0).numpy()
    peaks = np.stack(np.unravel_index(maps.reshape(B, -1).argmax(1), (H, W)), axis=1)
    assert (np.sum((peaks - centres) ** 2, axis=1) <= 4).all()
    layer = SaliencyMix(seed=0)
    seed = tf.constant([4, 2], tf.int64)
    out, out_labels = layer.augment((images, np.eye(B, dtype=np.float32)), seed=seed)
    t = layer.get_random_transformation(layer_data({"images": images}), seed)
    check_mix(images, np.eye(B), out.numpy(), out_labels.numpy(), t, peaks)


def test_masks_pasted_alike_and_probability(small_photos):
    masks = (small_photos[..., 0] // 64).astype(np.int32)
    data = {"images": small_photos, "labels": np.eye(B, dtype=np.float32), "segmentation_masks": masks}
    layer = SaliencyMix(seed=0)
    seed = tf.constant([0, 5], tf.int64)
    out = layer.augment(data, seed=seed)
    t = layer.get_random_transformation(layer_data(data), seed)
    partner = t["partner"].numpy()
    for i, (y1, x1, y2, x2) in enumerate(t["boxes"].numpy()):
        expected = masks[i].copy()
        expected[y1:y2, x1:x2] = masks[partner[i], y1:y2, x1:x2]
        np.testing.assert_array_equal(out["segmentation_masks"][i], expected)
    unchanged = SaliencyMix(probability=0.0, seed=0)(data)
    np.testing.assert_array_equal(unchanged["images"], small_photos)


def test_same_output_eagerly_and_in_a_graph(small_photos):
    run_in_modes(small_photos, [tf.function])


@pytest.mark.slow
def test_same_output_compiled(small_photos):
    run_in_modes(small_photos, [lambda fn: tf.function(fn, jit_compile=True)])


def run_in_modes(images, modes):
    layer = SaliencyMix(seed=0)
    seed = tf.constant([3, 8], tf.int64)
    labels = np.eye(B, dtype=np.float32)

    def run(images, labels):
        return layer.augment((images, labels), seed=seed)

    eager = run(images, labels)
    for mode in modes:
        other = mode(run)(images, labels)
        np.testing.assert_array_equal(other[0], eager[0])
        np.testing.assert_allclose(other[1], eager[1], atol=1e-6)


def test_bad_arguments_and_saliency_maps_are_refused_by_name(small_photos):
    for alpha in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="`alpha`"):
            SaliencyMix(alpha=alpha)
    with pytest.raises(ValueError, match="`probability`"):
        SaliencyMix(probability=2.0)
    layer = SaliencyMix(seed=0)
    labels = np.eye(B, dtype=np.float32)
    for maps in (np.zeros([B, H, W - 1]), np.zeros([B - 1, H, W]), np.zeros([B, H, W, 2]), np.zeros([B, H * W])):
        with pytest.raises(ValueError, match="`saliency`"):
            layer({"images": small_photos, "labels": labels, "saliency": maps})
    with pytest.raises(ValueError, match="`saliency`"):
        layer({"images": small_photos, "labels": labels, "saliency": np.zeros([B, H, W], bool)})
    with pytest.raises(ValueError, match=r"unknown input keys \['saliency'\]"):
        SaliencyMix.__mro__[1](seed=0)({"images": small_photos, "labels": labels, "saliency": labels})
