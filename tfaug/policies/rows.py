"""A policy program's per-row machinery: kernels on the rows (images, or copies of them) that chose an op.

Rows hold stored uint8 levels and pending lookup tables (see `tfaug.policies.engine`); the helpers here
read a row's stored or current levels, run a kernel on the chosen rows in fixed-size chunks
(`tfaug.ops.selection.apply_to_rows`), and compute the tables of the ops that need statistics of the
image (contrast, auto_contrast, equalize), with the histograms that copies of a batch share.
"""

import tensorflow as tf

from tfaug.ops._xla import fused
from tfaug.ops.histogram import apply_lut
from tfaug.ops.histogram import equalize_lut
from tfaug.ops.histogram import histogram_counts
from tfaug.ops.selection import apply_to_rows
from tfaug.ops.selection import group_rows
from tfaug.policies.tables import mapped_extremes_table
from tfaug.policies.tables import monotone
from tfaug.policies.tables import remapped_histogram
from tfaug.policies.tables import statistic_table

#: Statistics whose computation is faster on materialised current levels.
REREADING_STATISTICS = ("contrast",)


def materialized(t):
    """`t`, computed into a buffer of its own: XLA does not fuse a scatter into its consumers.

    Without it, XLA fuses a table's computation into the per-pixel gather that reads it and recomputes
    the table for every pixel (about 20 times slower). The identity scatter is cheap on a `[B, C, 256]`.
    """
    rows = tf.shape(t)[0]
    return tf.tensor_scatter_nd_update(tf.zeros_like(t), tf.range(rows)[:, None], t)


def lut(tables, levels):
    """uint8 `tables[b, c, levels[b, h, w, c]]`; `tables` None is the identity."""
    if tables is None:
        return levels
    return apply_lut(tables, levels, tf.uint8)


def current(x, pending, materialize=False):
    """The current levels of a chunk: stored levels `x` through their pending tables.

    `materialize` puts them in a buffer of their own, for kernels that read a pixel several times (XLA
    would otherwise redo the table lookup for every read).
    """
    if pending is None:
        return x
    levels = lut(pending, x)
    return materialized(levels) if materialize else levels


def selected_rows(selected):
    """`(order, start, count)` of the selected images, for `on_rows`."""
    order, starts, counts = group_rows(tf.cast(~selected, tf.int32), 1)
    return order, starts[0], counts[0]


def apply_stored(fn, rows, x, tensors, output, chunk):
    """`apply_to_rows` of `fn(stored levels, *chunks of tensors)` over the images `rows` (`(order, start,
    count)`). Row `r` reads `x[r % len(x)]`: `x` holds every row, or one buffer shared by the copies of
    the batch (see `tfaug.policies.engine`); when `x` is also the output, its running value."""

    def kernel(index, xs, *chunks):
        # The chunk's source rows in a buffer of their own: fused into the gather, the modulo would be
        # evaluated for every pixel.
        return fn(tf.gather(xs, materialized(index % tf.shape(xs)[0])), *chunks)

    return apply_to_rows(kernel, *rows, tensors, output, chunk, whole=(x,))


def on_rows(fn, rows, x, pending, extra, output, chunk, materialize=False):
    """Writes `fn(current levels, *extra)` of the images `rows` (`(order, start, count)`) into `output`."""
    if pending is None:
        return apply_stored(fn, rows, x, extra, output, chunk)
    kernel = lambda xc, pc, *e: fn(current(xc, pc, materialize), *e)  # noqa: E731
    return apply_stored(kernel, rows, x, (pending,) + extra, output, chunk)


def equalize_from_histogram(counts, pending):
    """Equalize's `[N, C, 256]` tables of the current levels, from the histograms `counts` of the stored
    levels and the pending tables (the current levels' histogram is the stored one, remapped)."""
    return equalize_lut(remapped_histogram(counts, pending))


def table_loop(name, rows, x, pending, args, tables, chunk):
    """Writes the `[C, 256]` table of statistics op `name` of the images `rows` into `tables`."""
    if name == "equalize" and pending is not None:
        # The histogram of the current levels is the stored levels' histogram, remapped by the pending table.
        def equalize_table(xc, pc):
            return equalize_from_histogram(histogram_counts(tf.cast(xc, tf.int32)), pc)

        return apply_stored(equalize_table, rows, x, (pending,), tables, chunk)
    if name == "auto_contrast" and pending is not None:
        # Images whose pending tables are monotone read only their stored levels; the others (after a
        # solarize, say) their current levels.
        order, start, count = rows
        position = tf.math.invert_permutation(order)
        chosen = (position >= start) & (position < start + count)
        groups = tf.where(chosen, tf.where(monotone(pending), 0, 1), -1)
        order, starts, counts = group_rows(groups, 2)
        tables = apply_stored(mapped_extremes_table, (order, starts[0], counts[0]), x, (pending,), tables, chunk)
        rows = (order, starts[1], counts[1])
    return on_rows(lambda xc, ac: statistic_table(name, xc, ac), rows, x, pending, (args,), tables, chunk,
                   materialize=name in REREADING_STATISTICS)


@fused
def histograms(x, chosen, chunk):
    """Histograms `[B, C, 256]` of the uint8 images `x` `[B, H, W, C]` with `chosen` (bool `[B]`), zero for the
    others: a loop over chunks of the chosen images (one thread)."""
    empty = tf.zeros(tf.stack([tf.shape(x)[0], tf.shape(x)[3], 256]), tf.int32)
    return apply_stored(lambda xc: histogram_counts(tf.cast(xc, tf.int32)), selected_rows(chosen), x, (), empty,
                        chunk)


def shared_histograms(x, op_ids, k, copies, chunk, parts=2):
    """Histograms `[copies * B, C, 256]` of the stored levels `x` `[B, H, W, C]` that `copies` stacked copies
    of a batch share, counted once per image, for the images some copy of which chooses op `k` (zero for
    the others). Equalize reads them remapped by each copy's pending table.

    The batch is counted in `parts` slices by XLA computations of their own, which TensorFlow can run on
    several threads at once (a histogram loop is a scatter, which runs on one).
    """
    sources = tf.shape(x)[0]
    chosen = tf.reduce_any(tf.reshape(tf.reduce_any(tf.equal(op_ids, k), axis=1), tf.stack([copies, sources])),
                           axis=0)
    bounds = [sources * i // parts for i in range(parts + 1)]
    counts = tf.concat([histograms(x[a:b], chosen[a:b], chunk) for a, b in zip(bounds[:-1], bounds[1:])], axis=0)
    return tf.tile(counts, [copies, 1, 1])
