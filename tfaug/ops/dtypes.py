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
        x = tf.clip_by_value(tf.round(x), tf.cast(dtype.min, x.dtype), tf.cast(dtype.max, x.dtype))
    return tf.cast(x, dtype)
