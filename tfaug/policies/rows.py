"""A policy program's per-row machinery: kernels on the rows (images, or copies of them) that chose an op.

Rows hold stored uint8 levels and pending lookup tables (see `tfaug.policies.engine`); the helpers here
read a row's stored or current levels, run a kernel on the chosen rows in fixed-size chunks
(`tfaug.ops.selection.apply_to_rows`), and compute the tables of the ops that need statistics of the
image (contrast, auto_contrast, equalize), with the histograms that copies of a batch share.
"""

from typing import NamedTuple

import tensorflow as tf

from tfaug.ops._xla import fusion_barrier
from tfaug.ops.histogram import apply_lut
from tfaug.ops.histogram import equalize_lut
from tfaug.ops.histogram import histogram_counts
from tfaug.ops.selection import apply_to_rows
from tfaug.ops.selection import group_rows
from tfaug.policies.tables import extremes
from tfaug.policies.tables import extremes_table
from tfaug.policies.tables import mapped_extremes
from tfaug.policies.tables import monotone
from tfaug.policies.tables import remapped_histogram

#: Rows per chunk of the loops that compute tables from statistics gathered beforehand (no pixels: few,
#: larger chunks).
TABLE_CHUNK = 8


def lut(tables, levels):
    """uint8 `tables[b, c, levels[b, h, w, c]]`; `tables` None is the identity."""
    if tables is None:
        return levels
    return apply_lut(tables, levels, tf.uint8)


def current(x, pending, rereads=False):
    """The current levels of a chunk: stored levels `x` through their pending tables.

    For a kernel that `rereads` each pixel they are computed into a buffer first (a fusion barrier):
    fused into the kernel, the table lookup would be redone for every read.
    """
    if pending is None:
        return x
    levels = lut(pending, x)
    return fusion_barrier(levels) if rereads else levels


class Rows(NamedTuple):
    """The rows `order[start:start + count]` (an op's rows, grouped by `group_rows`), run `chunk` at a time."""

    order: tf.Tensor
    start: tf.Tensor
    count: tf.Tensor
    chunk: int


def selected_rows(selected, chunk):
    """The `Rows` of the selected images."""
    order, starts, counts = group_rows(tf.cast(~selected, tf.int32), 1)
    return Rows(order, starts[0], counts[0], chunk)


def apply_stored(fn, rows, x, tensors, output):
    """`apply_to_rows` of `fn(stored levels, *chunks of tensors)` over `rows`. Row `r` reads `x[r % len(x)]`:
    `x` holds every row, or one buffer shared by the copies of the batch (`tfaug.policies.chains`); when
    `x` is also the output, its running value."""

    def kernel(index, xs, *chunks):
        # The chunk's source rows behind a barrier: fused into the gather, the modulo would be evaluated
        # for every pixel.
        return fn(tf.gather(xs, fusion_barrier(index % tf.shape(xs)[0])), *chunks)

    order, start, count, chunk = rows
    return apply_to_rows(kernel, order, start, count, tensors, output, chunk, whole=(x,))


def on_rows(fn, rows, levels, extra, output, rereads=False):
    """Writes `fn(current levels, *extra)` of `rows` into `output`; `levels` is `(stored levels, pending
    tables or None)`; `rereads`: `fn` reads each pixel several times (see `current`)."""
    x, pending = levels
    if pending is None:
        return apply_stored(fn, rows, x, extra, output)

    def kernel(xc, pc, *e):
        return fn(current(xc, pc, rereads), *e)

    return apply_stored(kernel, rows, x, (pending,) + extra, output)


def equalize_from_histogram(counts, pending):
    """Equalize's `[N, C, 256]` tables of the current levels, from the histograms `counts` of the stored
    levels and the pending tables (the current levels' histogram is the stored one, remapped)."""
    return equalize_lut(remapped_histogram(counts, pending))


def table_loop(op, rows, levels, args, tables):
    """Writes the `[C, 256]` table of statistics op `op` (a registry record) of the images `rows` into
    `tables`. Two ops have shortcuts that read the stored levels instead of the current ones: equalize
    remaps the stored levels' histogram through the pending table, and auto_contrast maps the stored
    extremes through a monotone pending table. `levels`: `(stored levels, pending tables or None)`."""
    x, pending = levels
    if op.name == "equalize" and pending is not None:

        def equalize_table(xc, pc):
            return equalize_from_histogram(histogram_counts(tf.cast(xc, tf.int32)), pc)

        return apply_stored(equalize_table, rows, x, (pending,), tables)
    if op.name == "auto_contrast":
        return _auto_contrast_tables(rows, levels, tables)
    return on_rows(op.table, rows, levels, (args,), tables, rereads=op.rereads)


def _auto_contrast_tables(rows, levels, tables):
    """auto_contrast's tables of the images `rows`: their extremes first, then the table of the extremes in
    one loop of its own (the table is costly to build; written once, it is traced and compiled once)."""
    x, pending = levels
    shape = tf.shape(x)
    lo_hi = tf.zeros(tf.stack([tf.shape(tables)[0], 2, shape[3]]), tf.int32)

    def current_extremes(levels):
        return tf.cast(extremes(levels), tf.int32)

    if pending is None:
        lo_hi = on_rows(current_extremes, rows, levels, (), lo_hi)
    else:
        # Images whose pending tables are monotone read only their stored levels; the others (after a
        # solarize, say) their current levels.
        position = tf.math.invert_permutation(rows.order)
        chosen = (position >= rows.start) & (position < rows.start + rows.count)
        groups = tf.where(chosen, tf.where(monotone(pending), 0, 1), -1)
        order, starts, counts = group_rows(groups, 2)
        lo_hi = apply_stored(mapped_extremes, Rows(order, starts[0], counts[0], rows.chunk), x, (pending,), lo_hi)
        lo_hi = on_rows(current_extremes, Rows(order, starts[1], counts[1], rows.chunk), levels, (), lo_hi)
    return apply_to_rows(extremes_table, rows.order, rows.start, rows.count, (lo_hi,), tables, TABLE_CHUNK)
