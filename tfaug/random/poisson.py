"""Poisson draws on tfaug's Philox stream, exact in distribution and XLA-safe, for rates from 0 up.

TensorFlow's Poisson op has no XLA kernel and draws another stream on every device. This sampler uses two
exact methods, each where it is cheap: inversion for rates below 10 and Hörmann's transformed rejection
(PTRS) from 10 up, where inversion would need a long CDF search. Both run in float64 on 32-bit uniforms,
so the result is exact up to the uniforms' 2**-32 resolution and rounding differences between TensorFlow's
and XLA's `exp`, `log` and `lgamma` almost never move a draw across a boundary.

Reference: W. Hörmann, "The transformed rejection method for generating Poisson random variables",
Insurance: Mathematics and Economics 12 (1993) 39-45.
"""

import tensorflow as tf

from tfaug.random.philox import random_bits
from tfaug.random.seeds import split_seed

# PTRS is valid from rate 10 up; below it, inversion.
_LARGE_RATE = 10.0
# Inversion compares the uniform with the CDF at 0 .. 38, so it returns at most 39: for rates below 10 a
# draw above 39 has probability below 1e-12, under the uniforms' resolution, so the cap never binds.
_INVERSION_TERMS = 40
# Rejection rounds: each accepts a proposal with probability >= 0.75 (0.75 at rate 10, 0.87 at 500), so
# an element is still unaccepted after all rounds with probability below 0.25**32 = 5e-20; it then gets
# its rate rounded (the mode). Rounds stop as soon as every element is accepted: their number grows with
# the logarithm of the number of elements, about 5 for a 32 x 32 RGB image, 11 for 16 RGB images of 224 x 224.
_MAX_ROUNDS = 32


def _unit64(words):
    """Float64 uniforms on the open interval (0, 1) from uint32 words: `(w + 0.5) * 2**-32`, exact."""
    return (tf.cast(words, tf.float64) + 0.5) * (2.0**-32)


def _inversion(u, rate):
    """The smallest `k` with `CDF(k) > u`: the count of CDF values at or below `u`, term by term."""
    term = tf.exp(-rate)
    cdf = term
    count = tf.zeros_like(u)
    for k in range(1, _INVERSION_TERMS):
        count += tf.cast(cdf <= u, tf.float64)
        term = term * rate / k
        cdf += term
    return count


def _ptrs(u, v, rate):
    """One PTRS proposal per element from two uniforms: `(k, accepted)`. `rate` >= 10."""
    b = 0.931 + 2.53 * tf.sqrt(rate)
    a = -0.059 + 0.02483 * b
    inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
    v_r = 0.9277 - 3.6224 / (b - 2.0)
    u = u - 0.5
    us = 0.5 - tf.abs(u)
    k = tf.floor((2.0 * a / us + b) * u + rate + 0.43)
    # The squeeze: a region under the target where proposals are accepted without evaluating it (most are).
    squeezed = (us >= 0.07) & (v <= v_r)
    safe_k = tf.maximum(k, 0.0)
    log_target = -rate + safe_k * tf.math.log(rate) - tf.math.lgamma(safe_k + 1.0)
    log_hat = tf.math.log(v) + tf.math.log(inv_alpha) - tf.math.log(a / (us * us) + b)
    possible = (k >= 0.0) & ~((us < 0.013) & (v > us))
    return k, squeezed | (possible & (log_hat <= log_target))


def _rejection(seeds, rate):
    """PTRS for the elements of rate 10 and more, and the uniform each element's inversion needs.

    Rounds of one proposal per element until every large rate has been accepted; every round draws for every
    element from its own seed, so an element's draw does not depend on how many rounds the others needed.
    The inversion takes the first round's uniform `u`: an element uses one method only, so the two never
    share a draw, and the sampler holds a single Philox computation.

    Returns `(counts, u)`: PTRS counts (meaningful where the rate is 10 or more) and the first uniforms.
    """
    size = tf.size(rate)
    pending = rate >= _LARGE_RATE
    rate = tf.maximum(rate, _LARGE_RATE)

    def unfinished(round_, count, done, first):
        return (round_ == 0) | ((round_ < _MAX_ROUNDS) & tf.reduce_any(pending & ~done))

    def propose(round_, count, done, first):
        u = tf.reshape(_unit64(random_bits(seeds[round_], 2 * size)), [2, -1])
        k, accepted = _ptrs(u[0], u[1], rate)
        count = tf.where(accepted & ~done, k, count)
        first = tf.where(round_ == 0, u[0], first)
        return round_ + 1, count, done | accepted, first

    start = (tf.constant(0), tf.round(rate), tf.zeros_like(pending), tf.zeros_like(rate))
    _, counts, _, first = tf.while_loop(unfinished, propose, start)
    return counts, first


def poisson(seed, shape, rate, dtype=tf.float32):
    """Poisson(`rate`) counts of `shape`, as `dtype` (float or integer); `rate` >= 0 broadcasts to `shape`.

    A rate of 0 gives 0. Exact in distribution up to the 2**-32 resolution of the uniforms (and, for rates
    of 10 and more, a failure chance below 5e-20 per element that returns the rounded rate); the same draws
    eagerly, in `tf.function`, in `tf.data` and under `jit_compile`.
    """
    rate = tf.reshape(tf.broadcast_to(tf.cast(rate, tf.float64), shape), [-1])
    large, first_u = _rejection(split_seed(seed, _MAX_ROUNDS), rate)
    small = _inversion(first_u, tf.minimum(rate, _LARGE_RATE))
    counts = tf.where(rate >= _LARGE_RATE, large, small)
    return tf.reshape(tf.cast(counts, dtype), shape)
