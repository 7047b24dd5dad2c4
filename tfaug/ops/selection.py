"""Run a kernel only on the images of a batch that chose it, in fixed-size chunks (XLA-compatible).

A per-sample policy picks a different op per image. Running every op on every image and keeping one is
K times the work; gathering "the images that chose op k" gives a data-dependent shape that XLA cannot
compile. `apply_to_selected` does the work in a `tf.while_loop` over chunks of `chunk_size` selected
images (static shapes), so the cost follows the number of images that chose the op, and scatters the
results back. The last chunk is padded with a repeat of the last selected image, whose result is
identical, so duplicate scatter indices all carry the same value.
"""

import tensorflow as tf


def _selected_order(selected):
    """Indices with the selected images first (stable), and how many are selected."""
    order = tf.argsort(tf.cast(~selected, tf.int32), stable=True)
    return order, tf.reduce_sum(tf.cast(selected, tf.int32))


def apply_to_selected(fn, selected, tensors, output, chunk_size):
    """Writes `fn(*chunk_of_tensors)` into `output` at the selected rows; other rows keep `output`.

    Args:
        fn: maps a tuple of `[chunk_size, ...]` slices of `tensors` to a `[chunk_size, ...]` tensor with
            the trailing shape and dtype of `output`. It must be deterministic.
        selected: bool `[B]`.
        tensors: tuple of `[B, ...]` tensors to slice (images, per-image parameters, ...).
        output: `[B, ...]` tensor the results are written into.
        chunk_size: static int >= 1.

    Returns:
        `output` with the selected rows replaced.
    """
    order, count = _selected_order(selected)
    num_chunks = (count + chunk_size - 1) // chunk_size
    offsets = tf.range(chunk_size, dtype=tf.int32)

    def body(i, out):
        position = tf.minimum(i * chunk_size + offsets, count - 1)
        index = tf.gather(order, position)
        result = fn(*[tf.gather(t, index) for t in tensors])
        return i + 1, tf.tensor_scatter_nd_update(out, index[:, None], tf.cast(result, out.dtype))

    _, output = tf.while_loop(lambda i, _: i < num_chunks, body, (tf.constant(0), output))
    return output
