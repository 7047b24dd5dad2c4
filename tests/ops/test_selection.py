"""Running a kernel on the selected rows of a batch only."""

import numpy as np
import tensorflow as tf

from tfaug.ops.selection import apply_to_rows
from tfaug.ops.selection import apply_to_selected
from tfaug.ops.selection import first_slot_results
from tfaug.ops.selection import group_rows


def test_apply_to_selected_writes_the_selected_rows_only():
    x = tf.reshape(tf.range(7 * 3, dtype=tf.int32), [7, 3])
    selected = tf.constant([True, False, True, True, False, False, True])
    out = apply_to_selected(lambda rows: rows * 10, selected, (x,), x, 2).numpy()
    expected = np.where(selected.numpy()[:, None], x.numpy() * 10, x.numpy())
    np.testing.assert_array_equal(out, expected)


def test_group_rows_orders_rows_by_group():
    order, starts, counts = group_rows(tf.constant([2, -1, 0, 2, 1, 0]), 3)
    np.testing.assert_array_equal(counts.numpy(), [2, 1, 2])
    np.testing.assert_array_equal(order.numpy()[starts[2] : starts[2] + counts[2]], [0, 3])


def test_whole_tensors_come_unsliced_with_the_chunk_rows():
    # The kernel reads its rows itself from the running output: rows of an earlier chunk already hold their
    # new value, so with chunks of 2 row 3 (second chunk) sees the updated row 1 (first chunk).
    x = tf.constant(np.arange(6, dtype=np.int32)[:, None] * np.ones([1, 2], np.int32))
    order = tf.constant([1, 3, 4, 0, 2, 5])

    def kernel(rows, whole, offsets):
        return tf.gather(whole, rows) + offsets + whole[1]

    offsets = tf.constant(np.full([6, 2], 100, np.int32))
    out = apply_to_rows(kernel, order, 0, 3, (offsets,), x, 2, whole=(x,)).numpy()
    # Chunk 1 (rows 1, 3): x[r] + 100 + x[1] = r + 101. Chunk 2 (row 4, padded with a repeat): 4 + 100 + 102.
    np.testing.assert_array_equal(out[:, 0], [0, 102, 2, 104, 206, 5])


def test_a_repeated_row_takes_its_first_slots_result():
    # Three rows in chunks of two: the second chunk is (row 4, row 4). A kernel that returns the slot gives
    # row 4 slot 0's value once wrapped, whatever order the scatter writes the repeats in.
    def slot_kernel(rows, chunk):
        return tf.cast(tf.range(tf.shape(rows)[0]), tf.float32)[:, None] + tf.zeros_like(chunk)

    order, start, count = tf.constant([1, 3, 4, 0, 2]), 0, 3
    x = tf.fill([5, 1], -1.0)
    for compile_ in (False, True):

        def run(kernel):
            return tf.function(
                lambda x: apply_to_rows(kernel, order, start, count, (x,), x, 2, whole=()), jit_compile=compile_
            )(x)

        np.testing.assert_array_equal(run(first_slot_results(slot_kernel))[:, 0], [-1, 0, -1, 1, 0])
        assert run(slot_kernel)[4, 0] in (0.0, 1.0)  # unwrapped: either repeat's value
