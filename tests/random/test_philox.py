"""tfaug's Philox generator against TensorFlow's CPU kernels, and the same bits in every execution mode."""

import numpy as np
import pytest
import tensorflow as tf

from tfaug import random as tfr
from tfaug.random import philox

# Small, large, negative (dataset element seeds) and int32 seeds.
SEEDS = ([0, 0], [3, 1], [2**62 + 5, 2**40 + 3], [5, -18], [2**31 - 1, 7])


def mantissa_uniform(words):
    return (words & 0x7FFFFF).astype(np.float32) * np.float32(2.0**-23)


@pytest.mark.parametrize("values", SEEDS)
def test_bits_are_tensorflows_stateless_philox_stream(values):
    seed = tf.constant(values, tf.int64)
    for count in (1, 5, 8, 203):
        expected = tf.random.stateless_uniform([count], seed=seed, alg="philox").numpy()
        np.testing.assert_array_equal(mantissa_uniform(philox.random_bits(seed, count).numpy()), expected)
    np.testing.assert_array_equal(
        tfr.split_seed(seed, 3).numpy(), tf.random.experimental.stateless_split(seed, 3).numpy()
    )


def test_samplers_match_tensorflows_on_cpu():
    seed = tf.constant([7, 9], tf.int64)
    np.testing.assert_array_equal(tfr.uniform(seed, [6, 7]).numpy(), tf.random.stateless_uniform([6, 7], seed).numpy())
    # Box-Muller through TensorFlow's sin, cos and log instead of the C library's: the last float32 bits.
    np.testing.assert_allclose(
        tfr.normal(seed, [6, 7], 2.0, 3.0).numpy(),
        tf.random.stateless_normal([6, 7], seed, 2.0, 3.0).numpy(),
        rtol=3e-6,
        atol=1e-6,
    )


def test_int32_seeds_give_the_int64_seeds_draws():
    np.testing.assert_array_equal(
        philox.random_bits(tf.constant([3, 4], tf.int32), 9).numpy(),
        philox.random_bits(tf.constant([3, 4], tf.int64), 9).numpy(),
    )


def test_bits_are_the_same_eagerly_in_graphs_in_tf_data_and_under_xla():
    seed = tf.constant([11, -3], tf.int64)

    def draw(seed_):
        return philox.random_bits(seed_, 1001), tfr.split_seed(seed_, 4), tfr.fold_in(seed_, 2)

    eager = draw(seed)
    others = (
        tf.function(draw)(seed),
        tf.function(draw, jit_compile=True)(seed),
        next(iter(tf.data.Dataset.from_tensors(seed).map(draw))),
    )
    for other in others:
        for a, b in zip(eager, other):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("blocks", [1, philox._GRAPH_BLOCKS, philox._GRAPH_BLOCKS + 1])
def test_eager_draws_either_side_of_the_graph_threshold_give_the_compiled_bits(blocks):
    # Small eager draws skip XLA (`_graph_blocks`), larger ones and draws in graphs are compiled.
    seed = tf.constant([5, 2**40 + 1], tf.int64)
    counters = tf.cast(tf.range(blocks), tf.uint32)
    compiled = philox._compiled_blocks(seed, counters).numpy()
    np.testing.assert_array_equal(philox._graph_blocks(seed, counters).numpy(), compiled)
    np.testing.assert_array_equal(philox.random_bits(seed, 4 * blocks).numpy(), compiled)


def test_bits_are_uniform_and_independent():
    from scipy import stats

    words = philox.random_bits(tf.constant([1, 2], tf.int64), 200_000).numpy()
    # Each byte of each word uniform on 0..255; consecutive words uncorrelated.
    for shift in (0, 8, 16, 24):
        counts = np.bincount((words >> shift) & 0xFF, minlength=256)
        assert stats.chisquare(counts).pvalue > 1e-3
    u = words.astype(np.float64) / 2**32
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 5 / np.sqrt(len(u))


def test_fold_in_gives_distinct_reproducible_seeds():
    seed = tf.constant([5, 1], tf.int64)
    folded = [tuple(tfr.fold_in(seed, k).numpy()) for k in range(4)]
    assert len(set(folded)) == 4
    assert folded[2] == tuple(tfr.fold_in(seed, 2).numpy())
