"""Vectorised stateless samplers on tfaug's own Philox stream: the same draws in every execution mode.

Each takes a `[2]` integer `seed` tensor and returns a tensor of the requested shape. Distribution
parameters may be Python numbers or tensors that broadcast to `shape`.
"""

import math

import tensorflow as tf

from tfaug.random.philox import random_bits

# Marsaglia-Tsang accepts > 95% of proposals for shape >= 1; with 8 proposals per sample drawn at once the
# chance that all fail is below 1e-10, and the fallback (the mode) is a valid draw-sized value anyway.
_GAMMA_PROPOSALS = 8
_MANTISSA = 0x7FFFFF
# Box-Muller's radius is finite: its uniform is clamped away from 0, as in TensorFlow's normal kernel.
_SMALLEST_UNIFORM = 1e-7


def _size(shape):
    return tf.reduce_prod(tf.cast(shape, tf.int32))


def _unit(words):
    """Float32 uniforms on `[0, 1)` with 23 random bits each (TensorFlow's conversion)."""
    return tf.cast(tf.bitwise.bitwise_and(words, tf.constant(_MANTISSA, tf.uint32)), tf.float32) * (2.0**-23)


def _unit_uniform(seed, shape):
    return tf.reshape(_unit(random_bits(seed, _size(shape))), shape)


def _box_muller(u):
    """Standard normals from a flat, even-length tensor of uniforms, two from each consecutive pair."""
    u = tf.reshape(u, [-1, 2])
    radius = tf.sqrt(-2.0 * tf.math.log(tf.maximum(u[:, 0], _SMALLEST_UNIFORM)))
    # The angle is rounded once from float64, as in TensorFlow's kernel.
    angle = tf.cast(2.0 * math.pi * tf.cast(u[:, 1], tf.float64), tf.float32)
    return tf.reshape(tf.stack([tf.sin(angle) * radius, tf.cos(angle) * radius], axis=-1), [-1])


def uniform(seed, shape, minval=0.0, maxval=1.0):
    """Float32 uniform on `[minval, maxval)`; bounds broadcast to `shape`."""
    minval = tf.cast(minval, tf.float32)
    maxval = tf.cast(maxval, tf.float32)
    return minval + _unit_uniform(seed, shape) * (maxval - minval)


def normal(seed, shape, mean=0.0, stddev=1.0):
    """Float32 Normal(mean, stddev), by Box-Muller on consecutive pairs of uniforms."""
    size = _size(shape)
    z = _box_muller(_unit(random_bits(seed, (size + 1) // 2 * 2)))
    return tf.cast(mean, tf.float32) + tf.cast(stddev, tf.float32) * tf.reshape(z[:size], shape)


def log_uniform(seed, shape, minval, maxval):
    """`exp(U(log minval, log maxval))`: log-uniform on `[minval, maxval)` (aspect ratios)."""
    lo = tf.math.log(tf.cast(minval, tf.float32))
    hi = tf.math.log(tf.cast(maxval, tf.float32))
    return tf.exp(uniform(seed, shape, lo, hi))


def bernoulli(seed, shape, probability):
    """Boolean tensor, True with `probability` (exactly never for 0, always for 1)."""
    return _unit_uniform(seed, shape) < tf.cast(probability, tf.float32)


def randint(seed, shape, minval, maxval):
    """Integers uniform on `[minval, maxval)`; bounds are per-element int tensors allowed.

    Where `maxval <= minval` the result is `minval`.
    """
    minval = tf.cast(minval, tf.int32)
    maxval = tf.cast(maxval, tf.int32)
    span = tf.maximum(maxval - minval, 1)
    u = _unit_uniform(seed, shape)
    # floor(u * span) can round up to span for u close to 1 in float32: clip back.
    offset = tf.minimum(tf.cast(tf.floor(u * tf.cast(span, tf.float32)), tf.int32), span - 1)
    return minval + offset


def permutation(seed, n):
    """A uniformly random permutation of `range(n)` (argsort of i.i.d. uniforms), int32."""
    keys = _unit_uniform(seed, [n])
    return tf.argsort(keys, stable=True)


def gamma_log(seed, shape, alpha):
    """Log of a Gamma(alpha, 1) draw, by Marsaglia-Tsang with a fixed number of vectorised proposals.

    TensorFlow's gamma op has no XLA kernel; this sampler does. For `alpha < 1` it uses
    `Gamma(a) = Gamma(a + 1) * U**(1/a)`, applied in log space so that tiny values do not underflow.
    """
    alpha = tf.broadcast_to(tf.cast(alpha, tf.float32), shape)
    size = _size(shape)
    proposals = _GAMMA_PROPOSALS * size
    # One draw: proposals' normals (an even count), their acceptance uniforms, the boost uniforms.
    u = _unit(random_bits(seed, 2 * proposals + size))
    proposals_shape = tf.concat([[_GAMMA_PROPOSALS], tf.shape(alpha)], axis=0)
    x = tf.reshape(_box_muller(u[:proposals]), proposals_shape)
    accept_u = tf.reshape(u[proposals : 2 * proposals], proposals_shape)
    boosted = alpha < 1.0
    a = tf.where(boosted, alpha + 1.0, alpha)
    d = a - 1.0 / 3.0
    c = tf.math.rsqrt(9.0 * d)
    v = (1.0 + c * x) ** 3
    safe_v = tf.where(v > 0.0, v, 1.0)
    accepted = (v > 0.0) & (tf.math.log(accept_u) < 0.5 * x * x + d - d * safe_v + d * tf.math.log(safe_v))
    # The first accepted proposal of each element: accepted and no accepted one before it.
    first = accepted & (tf.cumsum(tf.cast(accepted, tf.int32), axis=0) == 1)
    chosen_v = tf.reduce_sum(tf.where(first, safe_v, 0.0), axis=0)
    chosen_v = tf.where(tf.reduce_any(accepted, axis=0), chosen_v, 1.0)
    log_g = tf.math.log(d) + tf.math.log(chosen_v)
    # 1 - U lies in (0, 1]: log never sees 0.
    boost_u = 1.0 - tf.reshape(u[2 * proposals :], shape)
    return tf.where(boosted, log_g + tf.math.log(boost_u) / alpha, log_g)


def beta(seed, shape, alpha, beta_=None):
    """Beta(alpha, beta_) draws (`beta_` defaults to `alpha`), XLA-safe, float32 in [0, 1].

    Computed as `X / (X + Y)` with `X ~ Gamma(alpha)`, `Y ~ Gamma(beta_)`, as a sigmoid of their log
    difference, which is exact at the extremes that small `alpha` produces.
    """
    beta_ = alpha if beta_ is None else beta_
    alphas = tf.stack([tf.broadcast_to(tf.cast(a, tf.float32), shape) for a in (alpha, beta_)])
    log_x, log_y = tf.unstack(gamma_log(seed, tf.shape(alphas), alphas))
    return tf.sigmoid(log_x - log_y)


def derangement(seed, n):
    """A random cyclic permutation: `partner[i] != i` for every `i` when `n >= 2`.

    Built from a uniform permutation `s`: `partner[s[k]] = s[(k + 1) % n]`. Every image gets a partner
    drawn uniformly from the others, so no image is "mixed" with itself (a plain permutation leaves about
    one image per batch unmixed).
    """
    order = permutation(seed, n)
    position = tf.argsort(order, stable=True)
    return tf.gather(tf.roll(order, shift=-1, axis=0), position)
