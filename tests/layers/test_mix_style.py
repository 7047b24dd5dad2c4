"""MixStyle: the output carries the mixed statistics, partners follow the pairing, the gradient skips the
statistics, and lambda is Beta(alpha, alpha)."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from tfaug.layers import MixStyle

P_MIN = 1e-3
EPS = 1e-6
SEED = tf.constant([5, 9], tf.int64)


def features(batch=6, seed=0):
    """Feature maps whose images have clearly different channel means and scales."""
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.5, 3.0, size=(batch, 1, 1, 4))
    shift = rng.uniform(-2.0, 2.0, size=(batch, 1, 1, 4))
    return (rng.normal(size=(batch, 8, 10, 4)) * scale + shift).astype(np.float32)


def moments(x):
    return x.mean(axis=(1, 2), keepdims=True), np.sqrt(x.var(axis=(1, 2), ddof=1, keepdims=True) + EPS)


def mixed_moments(x, t):
    lam = t["lambda"].numpy().astype(np.float64)[:, None, None, None]
    partner = t["partner"].numpy()
    mean, std = moments(x.astype(np.float64))
    return lam * mean + (1 - lam) * mean[partner], lam * std + (1 - lam) * std[partner]


@pytest.mark.parametrize("pairing", ["permute", "crossdomain"])
def test_output_statistics_are_the_mixed_statistics(pairing):
    x = features()
    layer = MixStyle(probability=1.0, alpha=0.5, pairing=pairing, seed=0)
    t = layer.get_random_transformation(x, SEED)
    out = layer.transform_features(x, t).numpy()
    np.testing.assert_array_equal(layer.augment(x, seed=SEED).numpy(), out)
    assert t["apply"].numpy().all()
    target_mean, target_std = mixed_moments(x, t)
    mean, std = moments(x.astype(np.float64))
    np.testing.assert_allclose(out, target_std * (x - mean) / std + target_mean, rtol=1e-4, atol=1e-4)
    out_mean, out_std = moments(out.astype(np.float64))
    np.testing.assert_allclose(out_mean, target_mean, atol=1e-4)
    np.testing.assert_allclose(out_std, target_std, rtol=1e-4)


def test_lambda_is_beta_alpha_alpha():
    # Against NumPy's Beta sampler rounded to float32 alike: at alpha 0.1 about a tenth of the mass lies
    # within a float32 step of 1, so both samples hold ties at exactly 1.0.
    rng = np.random.default_rng(0)
    for alpha in (0.1, 2.0):
        t = MixStyle(alpha=alpha).get_random_transformation(tf.zeros([4000, 2, 2, 1]), SEED)
        expected = rng.beta(alpha, alpha, size=20000).astype(np.float32)
        assert stats.ks_2samp(t["lambda"].numpy(), expected).pvalue > P_MIN, alpha


@pytest.mark.parametrize("batch", [2, 5, 8, 9])
def test_partners(batch):
    x = tf.zeros([batch, 2, 2, 1])
    half = batch // 2
    for i in range(5):
        seed = tf.constant([i, 1], tf.int64)
        partner = MixStyle(probability=1.0).get_random_transformation(x, seed)["partner"].numpy()
        assert np.all(partner != np.arange(batch)) and sorted(partner) == list(range(batch))
        t = MixStyle(probability=1.0, pairing="crossdomain").get_random_transformation(x, seed)
        partner = t["partner"].numpy()
        # Each half's partners are the other half, shuffled; the odd image out is left unchanged.
        assert sorted(partner[:half]) == list(range(half, 2 * half))
        assert sorted(partner[half : 2 * half]) == list(range(half))
        assert list(t["apply"].numpy()) == [True] * (2 * half) + [False] * (batch % 2)


def test_images_without_a_partner_are_returned_exactly():
    x = features(batch=3)
    out = MixStyle(probability=1.0, alpha=1.0, pairing="crossdomain", seed=0)(x, training=True).numpy()
    np.testing.assert_array_equal(out[2], x[2])
    assert not np.allclose(out[:2], x[:2])
    one = MixStyle(probability=1.0, seed=0)(x[:1], training=True).numpy()
    np.testing.assert_array_equal(one, x[:1])


def test_probability_is_per_image_or_per_batch():
    x = tf.zeros([4000, 1, 1, 1])
    apply = MixStyle(probability=0.3).get_random_transformation(x, SEED)["apply"].numpy()
    assert stats.binomtest(int(apply.sum()), 4000, 0.3).pvalue > P_MIN
    coins = [
        MixStyle(probability=0.3, batchwise=True).get_random_transformation(x[:8], tf.constant([i, 0], tf.int64))
        for i in range(40)
    ]
    coins = np.array([c["apply"].numpy() for c in coins])
    assert np.all(coins == coins[:, :1]) and 0 < coins[:, 0].sum() < 40


def test_gradient_reaches_x_but_not_the_statistics():
    x = tf.constant(features())
    weights = tf.constant(np.random.default_rng(1).normal(size=x.shape).astype(np.float32))
    layer = MixStyle(probability=1.0, alpha=0.5, seed=0)
    t = layer.get_random_transformation(x, SEED)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(layer.transform_features(x, t) * weights)
    gradient = tape.gradient(loss, x).numpy()
    # With the statistics held constant, d out / d x = sigma_mix / sigma, pixel-wise.
    target_std = mixed_moments(x.numpy(), t)[1]
    std = moments(x.numpy().astype(np.float64))[1]
    np.testing.assert_allclose(gradient, target_std / std * weights.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, name",
    [({"alpha": 0.0}, "alpha"), ({"alpha": -1.0}, "alpha"), ({"pairing": "random"}, "pairing")],
)
def test_bad_arguments_are_refused_by_name(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        MixStyle(**kwargs)
