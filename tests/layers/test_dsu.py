"""DSU: the output carries the resampled statistics, the noise is N(0, 1), the gradient flows through the
statistics (as in the paper's code)."""

import numpy as np
import tensorflow as tf
from scipy import stats

from tfaug.layers import DSU

P_MIN = 1e-3
EPS = 1e-6
SEED = tf.constant([4, 2], tf.int64)


def features(batch=6, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.5, 3.0, size=(batch, 1, 1, 4))
    shift = rng.uniform(-2.0, 2.0, size=(batch, 1, 1, 4))
    return (rng.normal(size=(batch, 8, 10, 4)) * scale + shift).astype(dtype)


def resampled_moments(x, t):
    x = x.astype(np.float64)
    mean = x.mean(axis=(1, 2), keepdims=True)
    std = np.sqrt(x.var(axis=(1, 2), ddof=1, keepdims=True) + EPS)
    mean_spread = np.sqrt(mean.var(axis=0, ddof=1, keepdims=True) + EPS)
    std_spread = np.sqrt(std.var(axis=0, ddof=1, keepdims=True) + EPS)
    beta = mean + t["mean_noise"].numpy()[:, None, None, :] * mean_spread
    gamma = std + t["std_noise"].numpy()[:, None, None, :] * std_spread
    return mean, std, beta, gamma


def test_output_statistics_are_the_resampled_statistics():
    x = features()
    layer = DSU(probability=1.0, seed=0)
    t = layer.get_random_transformation(x, SEED)
    out = layer.transform_features(x, t).numpy()
    np.testing.assert_array_equal(layer.augment(x, seed=SEED).numpy(), out)
    mean, std, beta, gamma = resampled_moments(x, t)
    np.testing.assert_allclose(out, gamma * (x - mean) / std + beta, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out.mean(axis=(1, 2), keepdims=True), beta, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=(1, 2), ddof=1, keepdims=True), np.abs(gamma), rtol=1e-4)


def test_noise_is_standard_normal_and_the_coin_fair():
    t = DSU(probability=0.5).get_random_transformation(tf.zeros([1000, 1, 1, 3]), SEED)
    noise = np.concatenate([t["mean_noise"].numpy().ravel(), t["std_noise"].numpy().ravel()])
    assert noise.size == 6000 and stats.kstest(noise, "norm").pvalue > P_MIN
    # The two noises are independent draws, not one reused.
    assert abs(np.corrcoef(t["mean_noise"].numpy().ravel(), t["std_noise"].numpy().ravel())[0, 1]) < 0.1
    assert stats.binomtest(int(t["apply"].numpy().sum()), 1000, 0.5).pvalue > P_MIN
    coins = DSU(probability=0.5, batchwise=True).get_random_transformation(tf.zeros([8, 1, 1, 3]), SEED)["apply"]
    assert len(set(coins.numpy())) == 1


def test_gradient_flows_through_the_statistics():
    # Central differences of the whole function, statistics included, in float64.
    x = tf.constant(features(batch=3, dtype=np.float64)[:, :3, :3, :2])
    layer = DSU(probability=1.0)
    t = layer.get_random_transformation(x, SEED)
    weights = tf.constant(np.random.default_rng(2).normal(size=x.shape))

    def loss(value):
        return tf.reduce_sum(layer.transform_features(value, t) * weights)

    with tf.GradientTape() as tape:
        tape.watch(x)
        value = loss(x)
    gradient = tape.gradient(value, x).numpy()
    step = 1e-6
    for index in [(0, 0, 0, 0), (1, 2, 1, 1), (2, 1, 2, 0)]:
        delta = np.zeros(x.shape)
        delta[index] = step
        numeric = (loss(x + delta) - loss(x - delta)).numpy() / (2 * step)
        np.testing.assert_allclose(gradient[index], numeric, rtol=1e-5, atol=1e-6)


def test_a_batch_of_one_has_zero_spread():
    x = features(batch=1)
    layer = DSU(probability=1.0)
    t = layer.get_random_transformation(x, SEED)
    out = layer.transform_features(x, t).numpy()
    assert np.isfinite(out).all()
    _, _, beta, _ = resampled_moments(np.concatenate([x, x]), {k: tf.concat([v, v], 0) for k, v in t.items()})
    np.testing.assert_allclose(out.mean(axis=(1, 2), keepdims=True), beta[:1], atol=1e-3)
