"""Statistical tests of the Poisson sampler at fixed seeds, against NumPy's generator and the exact pmf.

Each rate is checked by a chi-square test of the binned counts against `numpy.random.poisson` draws
(two-sample) and against the exact pmf (one-sample), both at p > 0.001, and by mean and variance within five
standard errors. Rates 0.3 and 5 take the inversion path, 30 and 500 the rejection path, 9.99 and 10 sit on
either side of the switch. The seeds are fixed, so a failure means the sampler changed, not bad luck.
"""

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from tfaug import random as tfr

# The size of the corruption tests' batches: the random-bit kernels compile once per size.
N = 92_160
P_MIN = 1e-3


def seed(a, b=0):
    return tf.constant([a, b], tf.int64)


def binned(*samples, min_expected=20):
    """Counts of each sample per bin, bins merged from both tails until each holds `min_expected` of the
    pooled counts (what a chi-square test needs)."""
    values = np.concatenate(samples)
    edges = [values.min()]
    pooled = np.bincount(values - values.min())
    total = 0
    for offset, count in enumerate(pooled):
        total += count
        if total >= min_expected * len(samples) and pooled[offset + 1 :].sum() >= min_expected * len(samples):
            edges.append(values.min() + offset + 1)
            total = 0
    edges = np.asarray(edges + [values.max() + 1])
    return np.stack([np.histogram(s, edges)[0] for s in samples]), edges


@pytest.mark.parametrize("rate", [0.3, 5.0, 9.99, 10.0, 30.0, 500.0])
def test_poisson_matches_numpy_and_the_exact_pmf(rate):
    x = tfr.poisson(seed(1, int(rate * 100)), [N], rate, dtype=tf.int32).numpy()
    ref = np.random.default_rng(int(rate * 100)).poisson(rate, N)
    assert x.dtype == np.int32 and x.shape == (N,) and x.min() >= 0
    counts, _ = binned(x, ref)
    assert stats.chi2_contingency(counts).pvalue > P_MIN
    counts, edges = binned(x)
    expected = np.diff(stats.poisson(rate).cdf(edges - 1))
    expected[0], expected[-1] = stats.poisson(rate).cdf(edges[1] - 1), stats.poisson(rate).sf(edges[-2] - 1)
    assert stats.chisquare(counts[0], expected * N).pvalue > P_MIN
    assert abs(x.mean() - rate) <= 5 * np.sqrt(rate / N)
    # The sample variance of a Poisson has standard error sqrt((rate + 2 rate^2) / N).
    assert abs(x.var() - rate) <= 5 * np.sqrt((rate + 2 * rate**2) / N)


def test_rate_zero_gives_zero_and_rates_broadcast_per_element():
    rates = tf.constant([0.0, 0.3, 5.0, 30.0, 500.0])
    x = tfr.poisson(seed(2), [N // 5, 5], rates).numpy()
    assert x.dtype == np.float32 and np.all(x == np.round(x))
    assert np.all(x[:, 0] == 0.0)
    for j, rate in enumerate(rates.numpy()[1:], start=1):
        assert abs(x[:, j].mean() - rate) <= 5 * np.sqrt(rate / (N // 5))
    # Columns are independent draws, not one uniform pushed through five CDFs.
    assert abs(np.corrcoef(x[:, 3], x[:, 4])[0, 1]) < 5 / np.sqrt(N // 5)


def test_same_draws_eagerly_and_under_xla():
    # Rates across both methods, in one tensor.
    rates = tf.constant(np.linspace(0.0, 60.0, N), tf.float32)

    def sample(seed_):
        return tfr.poisson(seed_, [N], rates, dtype=tf.int32)

    eager = sample(seed(3)).numpy()
    np.testing.assert_array_equal(tf.function(sample, jit_compile=True)(seed(3)).numpy(), eager)
    np.testing.assert_array_equal(sample(seed(3)).numpy(), eager)
    assert not np.array_equal(sample(seed(4)).numpy(), eager)


def test_same_draws_in_graphs_and_tf_data_with_an_unknown_batch_size():
    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
    def sample(rates):
        return tfr.poisson(seed(5), tf.shape(rates), rates)

    rates = tf.constant([[0.0, 2.0, 40.0]] * 7)
    x = sample(rates).numpy()
    assert x.shape == (7, 3) and np.all(x[:, 0] == 0.0) and np.all(x[:, 2] > 0.0)
    np.testing.assert_array_equal(x, tfr.poisson(seed(5), [7, 3], rates).numpy())
    mapped = tf.data.Dataset.from_tensors(rates).map(lambda r: tfr.poisson(seed(5), tf.shape(r), r))
    np.testing.assert_array_equal(next(iter(mapped)).numpy(), x)
