"""Vectorised stateless samplers; all of them compile under XLA.

Each takes a `[2]` integer `seed` tensor and returns a tensor of the requested shape. Distribution
parameters may be Python numbers or tensors that broadcast to `shape`.
"""

import tensorflow as tf

from tfaug.random.seeds import split_seed

# Marsaglia-Tsang accepts > 95% of proposals for shape >= 1; with 8 proposals per sample drawn at once the
# chance that all fail is below 1e-10, and the fallback (the mode) is a valid draw-sized value anyway.
_GAMMA_PROPOSALS = 8


def uniform(seed, shape, minval=0.0, maxval=1.0, dtype=tf.float32):
    """Uniform on `[minval, maxval)`; bounds broadcast to `shape`."""
    u = tf.random.stateless_uniform(shape, seed=seed, dtype=dtype)
    minval = tf.cast(minval, dtype)
    maxval = tf.cast(maxval, dtype)
    return minval + u * (maxval - minval)


def normal(seed, shape, mean=0.0, stddev=1.0, dtype=tf.float32):
    """Normal(mean, stddev)."""
    return tf.random.stateless_normal(shape, seed=seed, mean=mean, stddev=stddev, dtype=dtype)


def log_uniform(seed, shape, minval, maxval):
    """`exp(U(log minval, log maxval))`: log-uniform on `[minval, maxval)` (aspect ratios)."""
    lo = tf.math.log(tf.cast(minval, tf.float32))
    hi = tf.math.log(tf.cast(maxval, tf.float32))
    return tf.exp(uniform(seed, shape, lo, hi))


def bernoulli(seed, shape, probability):
    """Boolean tensor, True with `probability` (exactly never for 0, always for 1)."""
    return tf.random.stateless_uniform(shape, seed=seed) < tf.cast(probability, tf.float32)


def randint(seed, shape, minval, maxval):
    """Integers uniform on `[minval, maxval)`; bounds are per-element int tensors allowed.

    Where `maxval <= minval` the result is `minval`.
    """
    minval = tf.cast(minval, tf.int32)
    maxval = tf.cast(maxval, tf.int32)
    span = tf.maximum(maxval - minval, 1)
    u = tf.random.stateless_uniform(shape, seed=seed, dtype=tf.float32)
    # floor(u * span) can round up to span for u close to 1 in float32: clip back.
    offset = tf.minimum(tf.cast(tf.floor(u * tf.cast(span, tf.float32)), tf.int32), span - 1)
    return minval + offset


def permutation(seed, n):
    """A uniformly random permutation of `range(n)` (argsort of i.i.d. uniforms), int32."""
    keys = tf.random.stateless_uniform([n], seed=seed)
    return tf.argsort(keys, stable=True)


def gamma_log(seed, shape, alpha):
    """Log of a Gamma(alpha, 1) draw, by Marsaglia-Tsang with a fixed number of vectorised proposals.

    TensorFlow's gamma op has no XLA kernel; this sampler does. For `alpha < 1` it uses
    `Gamma(a) = Gamma(a + 1) * U**(1/a)`, applied in log space so that tiny values do not underflow.
    """
    alpha = tf.broadcast_to(tf.cast(alpha, tf.float32), shape)
    normal_seed, accept_seed, boost_seed = tf.unstack(split_seed(seed, 3))
    boosted = alpha < 1.0
    a = tf.where(boosted, alpha + 1.0, alpha)
    d = a - 1.0 / 3.0
    c = tf.math.rsqrt(9.0 * d)
    proposals_shape = tf.concat([[_GAMMA_PROPOSALS], tf.shape(alpha)], axis=0)
    x = tf.random.stateless_normal(proposals_shape, seed=normal_seed)
    u = tf.random.stateless_uniform(proposals_shape, seed=accept_seed)
    v = (1.0 + c * x) ** 3
    safe_v = tf.where(v > 0.0, v, 1.0)
    accepted = (v > 0.0) & (tf.math.log(u) < 0.5 * x * x + d - d * safe_v + d * tf.math.log(safe_v))
    # The first accepted proposal of each element: accepted and no accepted one before it.
    first = accepted & (tf.cumsum(tf.cast(accepted, tf.int32), axis=0) == 1)
    chosen_v = tf.reduce_sum(tf.where(first, safe_v, 0.0), axis=0)
    chosen_v = tf.where(tf.reduce_any(accepted, axis=0), chosen_v, 1.0)
    log_g = tf.math.log(d) + tf.math.log(chosen_v)
    # 1 - U lies in (0, 1]: log never sees 0.
    boost_u = 1.0 - tf.random.stateless_uniform(shape, seed=boost_seed)
    return tf.where(boosted, log_g + tf.math.log(boost_u) / alpha, log_g)


def beta(seed, shape, alpha, beta_=None):
    """Beta(alpha, beta_) draws (`beta_` defaults to `alpha`), XLA-safe, float32 in [0, 1].

    Computed as `X / (X + Y)` with `X ~ Gamma(alpha)`, `Y ~ Gamma(beta_)`, as a sigmoid of their log
    difference, which is exact at the extremes that small `alpha` produces.
    """
    beta_ = alpha if beta_ is None else beta_
    x_seed, y_seed = tf.unstack(split_seed(seed, 2))
    return tf.sigmoid(gamma_log(x_seed, shape, alpha) - gamma_log(y_seed, shape, beta_))


def derangement(seed, n):
    """A random cyclic permutation: `partner[i] != i` for every `i` when `n >= 2`.

    Built from a uniform permutation `s`: `partner[s[k]] = s[(k + 1) % n]`. Every image gets a partner
    drawn uniformly from the others, so no image is "mixed" with itself (a plain permutation leaves about
    one image per batch unmixed).
    """
    order = permutation(seed, n)
    position = tf.argsort(order, stable=True)
    return tf.gather(tf.roll(order, shift=-1, axis=0), position)
