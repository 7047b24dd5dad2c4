"""Dtype handling: compute in float, return the input dtype (integers rounded half-to-even, clipped)."""

import tensorflow as tf


def compute_dtype(dtype):
    """float64 stays float64; every other dtype (ints, float16, bfloat16) is computed in float32."""
    return tf.float64 if dtype == tf.float64 else tf.float32


def to_float(x):
    return tf.cast(x, compute_dtype(x.dtype))


def from_float(x, dtype):
    """Casts a float result back to `dtype`; integers are rounded half-to-even and clipped, never wrapped."""
    dtype = tf.as_dtype(dtype)
    if dtype.is_integer:
        low, high = float(dtype.min), float(dtype.max)
        if x.dtype == tf.float32 and high >= 2.0**24:
            # 2**31 - 1 rounds up to 2**31 in float32, which would wrap on the cast: clip in float64.
            x = tf.cast(x, tf.float64)
        x = tf.clip_by_value(tf.round(x), tf.constant(low, x.dtype), tf.constant(high, x.dtype))
        if high >= 2.0**53:
            # int64's maximum is not a float64 either: saturate the values the cast would wrap.
            return tf.where(x >= 2.0**63, tf.constant(dtype.max, dtype), tf.cast(tf.minimum(x, 2.0**62), dtype))
    return tf.cast(x, dtype)
