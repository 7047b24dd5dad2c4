"""Run a kernel only on the images of a batch that chose it, in fixed-size chunks (XLA-compatible).

A per-sample policy picks a different op per image. Running every op on every image and keeping one is
K times the work; gathering "the images that chose op k" gives a data-dependent shape that XLA cannot
compile. `apply_to_selected` does the work in a `tf.while_loop` over chunks of `chunk_size` selected
images (static shapes), so the cost follows the number of images that chose the op, and scatters the
results back. The last chunk is padded with a repeat of the last selected image, whose result is
identical, so duplicate scatter indices all carry the same value.

When `output` itself is one of `tensors` (an in-place kernel), its chunks are read from the loop's running
output rather than from the input: every selected row belongs to one chunk and is read before it is
written, so the values are the same, and inside XLA the loop then updates the buffer in place instead of
keeping a copy of the input alive beside it (a full copy of the batch per loop).
"""

import tensorflow as tf


def _selected_order(selected):
    """Indices with the selected images first (stable), and how many are selected."""
    order = tf.argsort(tf.cast(~selected, tf.int32), stable=True)
    return order, tf.reduce_sum(tf.cast(selected, tf.int32))


def apply_to_selected(fn, selected, tensors, output, chunk_size, whole=None):
    """Writes `fn(*chunk_of_tensors)` into `output` at the selected rows; other rows keep `output`.

    Args:
        fn: maps a tuple of `[chunk_size, ...]` slices of `tensors` to a `[chunk_size, ...]` tensor with
            the trailing shape and dtype of `output`. It must be deterministic.
        selected: bool `[B]`.
        tensors: tuple of `[B, ...]` tensors to slice (images, per-image parameters, ...).
        output: `[B, ...]` tensor the results are written into.
        chunk_size: static int >= 1.
        whole: as in `apply_to_rows` (then `fn` also takes the chunk's row indices first).

    Returns:
        `output` with the selected rows replaced.
    """
    order, count = _selected_order(selected)
    return apply_to_rows(fn, order, 0, count, tensors, output, chunk_size, whole)


def group_rows(groups, num_groups):
    """Rows grouped by their group id, for `apply_to_rows`: one sort for several kernels.

    Args:
        groups: int32 `[B]`, ids in `[0, num_groups)`; other values (such as -1) belong to no group.
        num_groups: static int.

    Returns:
        `(order, starts, counts)`: `order` `[B]` lists the rows by group (stable), group `k` being
        `order[starts[k]:starts[k] + counts[k]]`.
    """
    groups = tf.convert_to_tensor(groups, tf.int32)
    order = tf.argsort(groups, stable=True)
    ids = tf.range(num_groups, dtype=tf.int32)[:, None]
    starts = tf.reduce_sum(tf.cast(groups[None, :] < ids, tf.int32), axis=1)
    counts = tf.reduce_sum(tf.cast(groups[None, :] == ids, tf.int32), axis=1)
    return order, starts, counts


def first_slot_results(fn):
    """Wraps an `apply_to_rows` kernel that takes the chunk's rows first (`whole` given) so that every slot of
    a row returns the result of the row's first slot.

    The last chunk repeats its last row. A kernel whose result depends on the slot (a random draw per position
    in the chunk) would give the repeats different values, and the scatter would write them to one row in an
    unspecified order (the last on a CPU, any on a GPU). `fn` may return a tensor or a tuple of tensors.
    """

    def kernel(rows, *args):
        results = fn(rows, *args)
        size = tf.shape(rows)[0]
        slots = tf.range(size, dtype=tf.int32)
        first = tf.reduce_min(tf.where(rows[:, None] == rows[None, :], slots[None, :], size), axis=1)
        if isinstance(results, tuple):
            return tuple(tf.gather(result, first) for result in results)
        return tf.gather(results, first)

    return kernel


def apply_to_rows(fn, order, start, count, tensors, output, chunk_size, whole=None):
    """`apply_to_selected` for the rows `order[start:start + count]` (distinct row indices).

    `output` may also be a tuple of tensors, `fn` then returning a tuple of chunks, one per output.
    With `whole` (a tuple of `[B, ...]` tensors), `fn` is called as `fn(rows, *whole, *chunks)`: the
    chunk's row indices and the `whole` tensors unsliced (an output among them is the running output),
    for a kernel that reads its rows itself (a gather from the whole batch needs no copy of the chunk).
    """
    outputs = output if isinstance(output, tuple) else (output,)
    if any(o.shape.rank and o.shape[0] == 0 for o in outputs):
        # No rows (an empty batch, or an empty slice of one): nothing to write, and a scatter into a tensor
        # known to be empty is refused when the graph is built.
        return output
    num_chunks = (count + chunk_size - 1) // chunk_size
    offsets = tf.range(chunk_size, dtype=tf.int32)

    def body(i, *outs):
        position = start + tf.minimum(i * chunk_size + offsets, count - 1)
        index = tf.gather(order, position)

        # An output that is also an input is read from the running output (see the module docstring).
        def running(tensors):
            return [next((o for o, init in zip(outs, outputs) if t is init), t) for t in tensors]

        chunks = [tf.gather(t, index) for t in running(tensors)]
        results = fn(*chunks) if whole is None else fn(index, *running(whole), *chunks)
        results = results if isinstance(output, tuple) else (results,)
        updated = [tf.tensor_scatter_nd_update(o, index[:, None], tf.cast(r, o.dtype)) for o, r in zip(outs, results)]
        return (i + 1, *updated)

    final = tf.while_loop(lambda i, *_: i < num_chunks, body, (tf.constant(0), *outputs))[1:]
    return tuple(final) if isinstance(output, tuple) else final[0]
