"""The XLA helpers: a fusion barrier is the identity and stays a buffer of its own at every row count."""

import numpy as np
import pytest
import tensorflow as tf

from tfaug.ops import _xla


@pytest.mark.parametrize("rows", [0, 1, 4])
def test_fusion_barrier_is_the_identity_and_is_kept_by_xla(rows):
    x = tf.reshape(tf.range(rows * 6, dtype=tf.float32), [rows, 2, 3])

    @tf.autograph.experimental.do_not_convert
    def two_consumers(x):
        y = _xla.fusion_barrier(x * 3.0 + 1.0)
        return tf.floor(y), tf.cast(y, tf.int32)

    compiled = tf.function(two_consumers, jit_compile=True)
    for out in (two_consumers(x), compiled(x)):
        np.testing.assert_array_equal(out[0].numpy(), x.numpy() * 3.0 + 1.0)
    if rows:
        # XLA turns a one-row scatter into a slice update and fuses it away: the barrier writes a row twice.
        assert "scatter" in compiled.experimental_get_compiler_ir(x)(stage="optimized_hlo")
