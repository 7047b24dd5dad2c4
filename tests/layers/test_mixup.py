"""MixUp: the output is the convex combination of an image and its partner, with lam ~ Beta(alpha, alpha).

Labels are `eye(B)`, so row i of the output labels reads lam at column i and the partner at the other
non-zero column: every check of the images below uses only what the labels say.
"""

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from tfaug.layers import MixUp

H, W = 24, 40
P_MIN = 1e-3


def lam_and_partner(labels):
    """lam = labels[i, i]; the partner is the other non-zero class (i itself when lam == 1)."""
    batch = len(labels)
    lam = labels.diagonal().copy()
    others = labels * (1 - np.eye(batch))
    partner = np.where(others.max(-1) > 0, others.argmax(-1), np.arange(batch))
    return lam, partner


def blend_reference(images, lam, partner):
    w = lam.astype(np.float64)[:, None, None, None]
    return w * images + (1 - w) * images[partner].astype(np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
def test_output_is_the_convex_combination(small_photos, dtype):
    images = small_photos.astype(dtype)
    labels = np.eye(4, dtype=np.float32)
    layer = MixUp(alpha=1.0, seed=1)
    for _ in range(4):
        out, mixed = layer((images, labels))
        out, mixed = out.numpy(), mixed.numpy()
        assert out.dtype == dtype
        lam, partner = lam_and_partner(mixed)
        assert np.all(partner != np.arange(4)) and np.all((lam > 0) & (lam < 1))
        np.testing.assert_allclose(mixed, lam[:, None] * labels + (1 - lam[:, None]) * labels[partner], rtol=1e-6)
        np.testing.assert_allclose(mixed.sum(-1), 1.0, rtol=1e-6)
        assert np.all((mixed > 0).sum(-1) <= 2)
        exact = blend_reference(images, lam, partner)
        if dtype == np.float32:
            np.testing.assert_allclose(out, exact, rtol=1e-6, atol=1e-4)
        else:
            # Round half to even of the float blend; at an exact .5 float rounding may go either way.
            near_tie = np.abs(exact - np.floor(exact) - 0.5) < 1e-3
            np.testing.assert_array_equal(out[~near_tie], np.round(exact)[~near_tie])
            assert np.all(np.abs(out.astype(np.float64) - exact)[near_tie] <= 0.5 + 1e-3)


def test_uint8_rounds_half_to_even_with_injected_lambda():
    values = np.arange(255, dtype=np.uint8).reshape(1, 15, 17, 1)
    images = np.concatenate([values, values + 1])
    t = {"partner": tf.constant([1, 0]), "lambda": tf.constant([0.5, 0.5])}
    out = MixUp().transform_images(tf.constant(images), t).numpy()
    k = values[0].astype(np.int64)
    np.testing.assert_array_equal(out[0], np.where(k % 2 == 0, k, k + 1))
    labels = MixUp().transform_labels(tf.constant([[1.0, 0.0], [0.0, 1.0]]), t).numpy()
    np.testing.assert_array_equal(labels, [[0.5, 0.5], [0.5, 0.5]])


def test_transformation_matches_the_output(small_photos):
    layer = MixUp(seed=2)
    images, labels = small_photos.astype(np.float32), np.eye(4, dtype=np.float32)
    seed = tf.constant([4, 2], tf.int64)
    t = layer.get_random_transformation({"images": tf.constant(images)}, seed=seed)
    out, mixed = layer.augment((images, labels), seed=seed)
    lam, partner = t["lambda"].numpy(), t["partner"].numpy()
    np.testing.assert_array_equal(mixed.numpy().diagonal(), lam)
    np.testing.assert_allclose(out.numpy(), blend_reference(images, lam, partner), rtol=1e-6, atol=1e-4)


@pytest.mark.parametrize("alpha", [0.2, 1.0])
def test_lambda_follows_beta_through_the_layer(alpha):
    # Labels eye(n) carry lam exactly at [i, i]: five calls of 1000 images give 5000 draws of lam.
    n = 1000
    images = np.zeros([n, 1, 1, 1], np.float32)
    labels = np.eye(n, dtype=np.float32)
    layer = MixUp(alpha=alpha, seed=3)
    lam = np.concatenate([layer((images, labels))[1].numpy().diagonal() for _ in range(5)])
    reference = np.random.default_rng(0).beta(alpha, alpha, 20_000).astype(np.float32)
    assert stats.ks_2samp(lam, reference).pvalue > P_MIN


def test_probability_is_the_realised_rate():
    n = 4000
    images = np.broadcast_to(np.arange(n, dtype=np.float32).reshape(n, 1, 1, 1), (n, 2, 2, 1))
    labels = np.ones([n, 1], np.float32)
    out, _ = MixUp(alpha=1.0, probability=0.3, seed=4)((images, labels))
    mixed = np.any(out.numpy() != images, axis=(1, 2, 3))
    assert stats.binomtest(int(mixed.sum()), n, 0.3).pvalue > P_MIN


def test_probability_zero_is_identity(small_photos):
    labels = np.eye(4, dtype=np.float32)
    for dtype in (np.uint8, np.float32):
        out, mixed = MixUp(probability=0.0, seed=5)((small_photos.astype(dtype), labels))
        np.testing.assert_array_equal(out.numpy(), small_photos.astype(dtype))
        np.testing.assert_array_equal(mixed.numpy(), labels)


def test_batchwise_draws_one_lambda():
    images, labels = np.zeros([6, 2, 2, 1], np.float32), np.eye(6, dtype=np.float32)
    layer = MixUp(batchwise=True, alpha=1.0, seed=6)
    for _ in range(3):
        lam, partner = lam_and_partner(layer((images, labels))[1].numpy())
        assert np.all(lam == lam[0]) and 0 < lam[0] < 1
        assert np.all(partner != np.arange(6))


@pytest.mark.parametrize("pairing,partner", [("flip", [4, 3, 2, 1, 0]), ("roll", [4, 0, 1, 2, 3])])
def test_fixed_pairings_give_the_documented_partners(pairing, partner):
    images = np.random.default_rng(0).uniform(0, 255, [5, 3, 4, 2]).astype(np.float32)
    labels = np.eye(5, dtype=np.float32)
    out, mixed = MixUp(pairing=pairing, alpha=1.0, seed=7)((images, labels))
    lam, found = lam_and_partner(mixed.numpy())
    np.testing.assert_array_equal(found, partner)
    np.testing.assert_allclose(out.numpy(), blend_reference(images, lam, np.array(partner)), rtol=1e-6, atol=1e-4)
    if pairing == "flip":  # the middle image of an odd batch is its own partner: left exactly as it is
        assert lam[2] == 1.0
        np.testing.assert_array_equal(out.numpy()[2], images[2])


def test_segmentation_masks_raise():
    images, labels = np.zeros([2, 4, 4, 3], np.uint8), np.eye(2, dtype=np.float32)
    with pytest.raises(ValueError, match="`segmentation_masks`"):
        MixUp(seed=0)({"images": images, "labels": labels, "segmentation_masks": np.zeros([2, 4, 4], np.int32)})


# -- labels, seeds, batches ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [[4], [4, 1]])
def test_sparse_labels_become_one_hot_and_mix(small_photos, shape):
    ids = np.array([2, 0, 2, 1]).reshape(shape)
    _, labels = MixUp(probability=0.0, num_classes=3, seed=0)((small_photos, ids))
    np.testing.assert_array_equal(labels.numpy(), np.eye(3, dtype=np.float32)[ids.reshape(-1)])
    layer = MixUp(num_classes=3, seed=8)
    seed = tf.constant([8, 8], tf.int64)
    t = layer.get_random_transformation({"images": tf.constant(small_photos)}, seed=seed)
    _, labels = layer.augment((small_photos, ids), seed=seed)
    lam, partner = t["lambda"].numpy()[:, None], t["partner"].numpy()
    one_hot = np.eye(3)[ids.reshape(-1)]
    np.testing.assert_allclose(labels.numpy(), lam * one_hot + (1 - lam) * one_hot[partner], rtol=1e-6)


def test_odd_batch_of_three(small_photos):
    images, labels = small_photos[:3].astype(np.float32), np.eye(3, dtype=np.float32)
    out, mixed = MixUp(alpha=1.0, seed=10)((images, labels))
    lam, partner = lam_and_partner(mixed.numpy())
    assert sorted(partner) == [0, 1, 2] and np.all(partner != np.arange(3))
    np.testing.assert_allclose(out.numpy(), blend_reference(images, lam, partner), rtol=1e-6, atol=1e-4)


@pytest.mark.parametrize("batch", [0, 1])
def test_static_batch_below_two_passes_through(small_photos, batch):
    # No partner: the images come back unchanged and the labels dense (as with an unknown batch size).
    images, labels = MixUp(seed=0, num_classes=4)((small_photos[:batch], np.arange(batch)))
    np.testing.assert_array_equal(images, small_photos[:batch])
    assert labels.shape == (batch, 4) and np.allclose(np.sum(labels, axis=-1), 1.0)


def test_dynamic_batch_of_one_passes_through():
    layer = MixUp(alpha=1.0, seed=11)
    spec = [tf.TensorSpec([None, 3, 4, 3], tf.float32), tf.TensorSpec([None, 3], tf.float32)]
    run = tf.function(lambda x, y: layer((x, y)), input_signature=spec)
    images = np.random.default_rng(1).uniform(0, 1, [2, 3, 4, 3]).astype(np.float32)
    labels = np.array([[0.1, 0.2, 0.7], [0, 1, 0]], np.float32)
    for _ in range(10):
        out, mixed = run(images[:1], labels[:1])
        np.testing.assert_array_equal(out.numpy(), images[:1])
        np.testing.assert_array_equal(mixed.numpy(), labels[:1])
    out, _ = run(images, labels)
    assert not np.array_equal(out.numpy(), images)


# -- bad input ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"alpha": 0.0}, "`alpha`"),
        ({"alpha": -0.2}, "`alpha`"),
        ({"probability": 1.01}, "`probability`"),
        ({"probability": -1}, "`probability`"),
        ({"pairing": "reverse"}, "`pairing`"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MixUp(**kwargs)
