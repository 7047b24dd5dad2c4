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


def _ranks(values):
    return tuple(len(v.shape) if hasattr(v, "shape") else None for v in values)


def fused(fn):
    """Decorator: call `fn` through an XLA-compiled `tf.function` (one compilation per input signature).

    Traces may relax dimensions (`reduce_retracing`) but never ranks: one `tf.function` per tuple of
    argument ranks, so a kernel that branches on a rank (segmentation masks `[B, H, W]` beside images
    `[B, H, W, C]`) never sees an unknown one. Kernels use `tf.while_loop` / `tf.cond` and Python control
    flow on static values only, so AutoGraph is off: converting the policy engine took most of a policy
    layer's first call.
    """
    compiled = {}

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if not ENABLED:
            return fn(*args, **kwargs)
        key = (_ranks(args), tuple(sorted(kwargs)), _ranks(kwargs[k] for k in sorted(kwargs)))
        if key not in compiled:
            compiled[key] = tf.function(fn, jit_compile=True, reduce_retracing=True, autograph=False)
        return compiled[key](*args, **kwargs)

    wrapper.python_function = fn
    return wrapper


def fusion_barrier(x):
    """`x` unchanged, computed into a buffer of its own: XLA does not fuse its producer into its consumers.

    XLA fuses a cheap elementwise producer into each consumer and evaluates it once per consumed element.
    That is usually right, and wrong in three places here: a per-image lookup table fused into the
    per-pixel gather that reads it is recomputed for every pixel; an index computed from coordinates is
    recomputed for every channel a gather reads; and a product fused into the sum that reads it may be
    contracted into a fused multiply-add in one computation and not in another, so that results depend on
    the caller. A kernel calls a barrier where its input must be computed once. (JAX calls the idea
    `lax.optimization_barrier`; TensorFlow exposes no such op, so the barrier is an op that XLA never fuses
    into a consumer.) This form copies `x` once, by an identity scatter of its rows: cheap for tables and
    other small tensors. For an image-sized result use `image_barrier`.
    """
    rows = tf.shape(x)[0]
    # The first row is written twice: XLA turns a scatter of a single row into a slice update and fuses it
    # away, so one row (a batch of one) would otherwise have no barrier.
    index = tf.concat([tf.range(rows), tf.range(tf.minimum(rows, 1))], axis=0)
    return tf.tensor_scatter_nd_update(tf.zeros_like(x), index[:, None], tf.gather(x, index))


def image_barrier(x):
    """`fusion_barrier` for an image-sized result: a reduction (the max of `x` and the dtype's smallest
    value, the identity), which XLA computes in the same pass as `x` itself, so the barrier costs no copy."""
    smallest = float("-inf") if x.dtype.is_floating else x.dtype.min
    return tf.reduce_max(tf.stack([x, tf.fill(tf.shape(x), tf.constant(smallest, x.dtype))], axis=-1), axis=-1)
