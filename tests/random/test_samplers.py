"""Statistical tests of the stateless samplers at fixed seeds.

Every distribution is checked against an independent reference (NumPy's generator or SciPy's exact CDF)
with a two-sample / one-sample Kolmogorov-Smirnov test or a chi-square test at p > 0.001, plus moments
within five standard errors. The seeds are fixed, so the suite is deterministic: a failure means the
sampler changed, not bad luck.
"""

import numpy as np
import pytest
import tensorflow as tf
from scipy import special
from scipy import stats

from tfaug import random as tfr

N = 20_000
P_MIN = 1e-3


def seed(a, b=0):
    return tf.constant([a, b], tf.int64)


def beta_reference(alpha, beta_, n, rng_seed):
    # Rounded to float32 like the sampler: float32 cannot hold values within 6e-8 of 1, where Beta(0.2, 0.2)
    # puts about 2% of its mass, so a float64 reference differs there by representation alone.
    return np.random.default_rng(rng_seed).beta(alpha, beta_, n).astype(np.float32)


def within(value, expected, standard_error, sigmas=5.0):
    return abs(value - expected) <= sigmas * standard_error


# -- beta -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.2, 0.8, 1.0])
def test_beta_matches_numpy_beta(alpha):
    x = tfr.beta(seed(11, int(alpha * 10)), [N], alpha).numpy()
    ref = beta_reference(alpha, alpha, N, rng_seed=int(alpha * 10))
    assert x.dtype == np.float32 and x.shape == (N,)
    assert np.all((x >= 0.0) & (x <= 1.0))
    assert stats.ks_2samp(x, ref).pvalue > P_MIN
    variance = 1.0 / (4.0 * (2.0 * alpha + 1.0))
    assert within(x.mean(), 0.5, np.sqrt(variance / N))
    # Standard error of the sample variance, estimated from the reference draws.
    assert within(x.var(), variance, np.std((ref - 0.5) ** 2) / np.sqrt(N))


def test_beta_two_parameters_matches_exact_cdf():
    x = tfr.beta(seed(5), [N], 2.0, 5.0).numpy()
    assert stats.kstest(x, stats.beta(2.0, 5.0).cdf).pvalue > P_MIN
    assert within(x.mean(), 2.0 / 7.0, stats.beta(2.0, 5.0).std() / np.sqrt(N))


def test_beta_per_element_alpha_broadcasts():
    alphas = tf.constant([0.3, 1.0, 4.0])
    x = tfr.beta(seed(6), [N, 3], alphas).numpy()
    for j, alpha in enumerate([0.3, 1.0, 4.0]):
        assert stats.ks_2samp(x[:, j], beta_reference(alpha, alpha, N, rng_seed=j)).pvalue > P_MIN


def test_beta_tiny_alpha_stays_finite_and_symmetric():
    # alpha = 0.02: Gamma draws underflow float32 when taken out of log space; the sampler must not.
    x = tfr.beta(seed(7), [N], 0.02).numpy()
    assert np.all(np.isfinite(x)) and np.all((x >= 0.0) & (x <= 1.0))
    assert stats.binomtest(int(np.sum(x < 0.5)), N, 0.5).pvalue > P_MIN
    # Most of the mass lies within 1e-3 of an end; a sampler that lost the small-alpha boost would not.
    ends = np.mean((x < 1e-3) | (x > 1 - 1e-3))
    expected = stats.beta(0.02, 0.02).cdf(1e-3) * 2
    assert within(ends, expected, np.sqrt(expected * (1 - expected) / N))


def test_beta_compiles_under_xla_with_the_same_distribution():
    compiled = tf.function(lambda s: tfr.beta(s, [N], 0.2), jit_compile=True)
    x = compiled(seed(3)).numpy()
    np.testing.assert_array_equal(compiled(seed(3)).numpy(), x)
    assert not np.array_equal(compiled(seed(4)).numpy(), x)
    assert stats.ks_2samp(x, beta_reference(0.2, 0.2, N, rng_seed=3)).pvalue > P_MIN
    # Equal in distribution to the eager draws of the same seed.
    assert stats.ks_2samp(x, tfr.beta(seed(3), [N], 0.2).numpy()).pvalue > P_MIN


# -- gamma_log --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.2, 1.0, 3.0])
def test_gamma_log_matches_gamma_distribution(alpha):
    log_g = tfr.gamma_log(seed(21, int(alpha * 10)), [N], alpha).numpy()
    g = np.exp(log_g.astype(np.float64))
    assert stats.kstest(g, stats.gamma(alpha).cdf).pvalue > P_MIN
    # E[G] = Var[G] = alpha; E[log G] = digamma(alpha), Var[log G] = trigamma(alpha).
    assert within(g.mean(), alpha, np.sqrt(alpha / N))
    # Central fourth moment of Gamma(alpha) is 3 alpha^2 + 6 alpha.
    assert within(g.var(), alpha, np.sqrt((2 * alpha**2 + 6 * alpha) / N))
    assert within(log_g.mean(), special.digamma(alpha), np.sqrt(special.polygamma(1, alpha) / N))


def test_gamma_log_small_alpha_in_log_space():
    # Gamma(0.01) draws are around exp(-100): far below float32's range, fine in log space.
    alpha = 0.01
    log_g = tfr.gamma_log(seed(22), [N], alpha).numpy().astype(np.float64)
    assert np.all(np.isfinite(log_g))
    assert within(log_g.mean(), special.digamma(alpha), np.sqrt(special.polygamma(1, alpha) / N))
    assert within(log_g.var(), special.polygamma(1, alpha), special.polygamma(1, alpha) * np.sqrt(10.0 / N))


def test_gamma_log_compiles_under_xla():
    compiled = tf.function(lambda s: tfr.gamma_log(s, [N], 0.5), jit_compile=True)
    g = np.exp(compiled(seed(23)).numpy().astype(np.float64))
    assert stats.kstest(g, stats.gamma(0.5).cdf).pvalue > P_MIN


# -- bernoulli, randint, uniform, normal, log_uniform --------------------------------------------------------


def test_bernoulli_rate():
    x = tfr.bernoulli(seed(31), [N], 0.3).numpy()
    assert x.dtype == bool
    assert stats.binomtest(int(x.sum()), N, 0.3).pvalue > P_MIN


def test_bernoulli_per_element_probability_and_extremes():
    probabilities = [0.0, 0.1, 0.5, 0.9, 1.0]
    x = tfr.bernoulli(seed(32), [N, 5], tf.constant(probabilities)).numpy()
    assert not x[:, 0].any() and x[:, 4].all()
    for j in (1, 2, 3):
        assert stats.binomtest(int(x[:, j].sum()), N, probabilities[j]).pvalue > P_MIN


def test_randint_per_element_bounds_range_and_uniformity():
    minval = tf.constant([0, 5, -3, 7, 100])
    maxval = tf.constant([3, 12, 4, 8, 1100])
    x = tfr.randint(seed(41), [N, 5], minval, maxval).numpy()
    assert x.dtype == np.int32
    for j, (lo, hi) in enumerate(zip(minval.numpy(), maxval.numpy())):
        column = x[:, j]
        assert column.min() >= lo and column.max() < hi
        counts = np.bincount(column - lo, minlength=hi - lo)
        assert len(counts) == hi - lo
        if hi - lo > 1:
            assert stats.chisquare(counts).pvalue > P_MIN
        else:
            assert np.all(column == lo)


def test_randint_empty_range_gives_minval():
    x = tfr.randint(seed(42), [4], tf.constant([3, 3, 5, 0]), tf.constant([3, 1, 5, 0])).numpy()
    np.testing.assert_array_equal(x, [3, 3, 5, 0])


def test_uniform_bounds_and_distribution():
    x = tfr.uniform(seed(51), [N], 2.0, 5.0).numpy()
    assert x.min() >= 2.0 and x.max() < 5.0
    assert stats.kstest(x, stats.uniform(2.0, 3.0).cdf).pvalue > P_MIN


def test_normal_distribution():
    x = tfr.normal(seed(52), [N], 3.0, 2.0).numpy()
    assert stats.kstest(x, stats.norm(3.0, 2.0).cdf).pvalue > P_MIN


def test_log_uniform_is_uniform_in_log_space():
    x = tfr.log_uniform(seed(53), [N], 0.3, 3.3).numpy()
    assert x.min() >= 0.3 * (1 - 1e-6) and x.max() <= 3.3 * (1 + 1e-6)
    assert stats.kstest(np.log(x), stats.uniform(np.log(0.3), np.log(3.3 / 0.3)).cdf).pvalue > P_MIN


# -- permutation, derangement -------------------------------------------------------------------------------


def test_permutation_is_uniform_over_orderings():
    draw = tf.function(lambda s: tfr.permutation(s, 3))
    orders = [tuple(draw(seed(61, k)).numpy()) for k in range(1200)]
    assert all(sorted(order) == [0, 1, 2] for order in orders)
    counts = [orders.count(order) for order in sorted(set(orders))]
    assert len(counts) == 6 and stats.chisquare(counts).pvalue > P_MIN


@pytest.mark.parametrize("n", [2, 3, 4, 7, 16])
def test_derangement_is_a_single_cycle_without_fixed_points(n):
    for k in range(20):
        partner = tfr.derangement(seed(71, k), n).numpy()
        assert sorted(partner) == list(range(n))
        assert np.all(partner != np.arange(n))
        # One cycle through every index (what the docstring promises: no closed sub-groups).
        i, visited = 0, set()
        while i not in visited:
            visited.add(i)
            i = partner[i]
        assert len(visited) == n


def test_derangement_of_one_is_the_identity():
    np.testing.assert_array_equal(tfr.derangement(seed(72), 1).numpy(), [0])


def test_derangement_partners_are_uniform_over_the_others():
    n, draws = 5, 1500
    draw = tf.function(lambda s: tfr.derangement(s, n))
    counts = np.zeros([n, n], int)
    for k in range(draws):
        counts[np.arange(n), draw(seed(73, k)).numpy()] += 1
    assert np.all(np.diag(counts) == 0)
    for i in range(n):
        assert stats.chisquare(np.delete(counts[i], i)).pvalue > P_MIN


# -- seeds --------------------------------------------------------------------------------------------------

SAMPLERS = {
    "beta": lambda s: tfr.beta(s, [64], 0.5),
    "gamma_log": lambda s: tfr.gamma_log(s, [64], 2.0),
    "bernoulli": lambda s: tfr.bernoulli(s, [64], 0.5),
    "randint": lambda s: tfr.randint(s, [64], 0, 1000),
    "uniform": lambda s: tfr.uniform(s, [64]),
    "normal": lambda s: tfr.normal(s, [64]),
    "log_uniform": lambda s: tfr.log_uniform(s, [64], 0.5, 2.0),
    "permutation": lambda s: tfr.permutation(s, 64),
    "derangement": lambda s: tfr.derangement(s, 64),
}


#: Draws through log, sin, sqrt and pow may differ in the last float32 bits between TensorFlow's and XLA's
#: elementary functions; every other draw is identical to the bit.
EXACT = {"bernoulli", "randint", "uniform", "permutation", "derangement"}


def in_every_mode(sample, seed_):
    """`sample(seed_)` eagerly, in `tf.function`, in `tf.data` and under `jit_compile`, as NumPy arrays."""
    return {
        "eager": sample(seed_).numpy(),
        "tf.function": tf.function(sample)(seed_).numpy(),
        "tf.data": next(iter(tf.data.Dataset.from_tensors(seed_).map(sample))).numpy(),
        "jit_compile": tf.function(sample, jit_compile=True)(seed_).numpy(),
    }


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_same_seed_same_draw_in_every_execution_mode(name):
    draws = in_every_mode(SAMPLERS[name], seed(81, 1))
    for mode, draw in draws.items():
        assert draw.dtype == draws["eager"].dtype and draw.shape == draws["eager"].shape, mode
        if name in EXACT:
            np.testing.assert_array_equal(draw, draws["eager"], err_msg=mode)
        else:
            np.testing.assert_allclose(draw, draws["eager"], rtol=2e-6, atol=1e-6, err_msg=mode)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_different_seeds_different_draws(name):
    sample = SAMPLERS[name]
    first = sample(seed(81, 1)).numpy()
    assert not np.array_equal(sample(seed(81, 2)).numpy(), first)
    assert not np.array_equal(sample(seed(82, 1)).numpy(), first)
