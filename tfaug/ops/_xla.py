"""Runs a kernel as one XLA cluster, so an op costs about one memory pass even outside `jit_compile`.

Without XLA, TensorFlow runs `x * w + p * (1 - w)` as four full-size temporaries; compiled, it is one
fused loop. Kernels wrapped here are pure functions of their tensor arguments; inside an enclosing
`tf.function(jit_compile=True)` they are simply inlined. Set the environment variable `TFAUG_XLA=0` to run
them as ordinary TensorFlow ops (same results up to floating-point rounding).
"""

import functools
import os

import tensorflow as tf

ENABLED = os.environ.get("TFAUG_XLA", "1") != "0"


def fused(fn):
    """Decorator: call `fn` through an XLA-compiled `tf.function` (one compilation per input signature)."""
    compiled = tf.function(fn, jit_compile=True, reduce_retracing=True)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if ENABLED:
            return compiled(*args, **kwargs)
        return fn(*args, **kwargs)

    wrapper.python_function = fn
    return wrapper
