"""Per-image lookup tables `[N, C, 256]` (int32) of the point ops, for the policy engine.

A point op maps each level of a channel through a table, so a program composes its point ops as tables
(`tfaug.policies.engine`). Statistics-free ops (invert, posterize, solarize, solarize_add, brightness)
are tables of their arguments alone; contrast, auto_contrast and equalize need statistics of the image
(gray mean, channel extremes, histogram), computed here from uint8 levels.
"""

import tensorflow as tf

from tfaug.ops.enhance import blend
from tfaug.ops.enhance import brightness
from tfaug.ops.enhance import grayscale
from tfaug.ops.histogram import auto_contrast_lut
from tfaug.ops.histogram import equalize_lut
from tfaug.ops.histogram import histogram_counts
from tfaug.ops.point import invert
from tfaug.ops.point import posterize
from tfaug.ops.point import solarize
from tfaug.ops.point import solarize_add


def identity_tables(batch, channels):
    """`[batch, C, 256]` int32 identity tables."""
    return tf.broadcast_to(tf.range(256, dtype=tf.int32)[None, None, :], tf.stack([batch, channels, 256]))


def gray_mean(levels):
    """PIL's `int(mean(gray) + 0.5)` per image, `[N]` int32 (exact integer form)."""
    if levels.shape[-1] == 3:
        gray = tf.cast(grayscale(levels, num_channels=1), tf.int32)[..., 0]
    else:
        gray = tf.cast(levels[..., 0], tf.int32)
    # Column sums first (a contiguous inner dimension): they fit in int32 (255 * height); the total may not.
    columns = tf.reduce_sum(gray, axis=1)
    total = tf.reduce_sum(tf.cast(columns, tf.int64), axis=1)
    count = tf.cast(tf.shape(gray)[1] * tf.shape(gray)[2], tf.int64)
    return tf.cast((2 * total + count) // (2 * count), tf.int32)


def extremes(levels):
    """Per-channel `[N, 2, C]` min and max levels."""
    shape = tf.shape(levels)
    # Reduce the rows first, over a contiguous `[W * C]` inner dimension, then the columns.
    rows = tf.reshape(levels, tf.stack([shape[0], shape[1], shape[2] * shape[3]]))
    lo = tf.reduce_min(tf.reshape(tf.reduce_min(rows, axis=1), tf.shape(levels[:, 0])), axis=1)
    hi = tf.reduce_max(tf.reshape(tf.reduce_max(rows, axis=1), tf.shape(levels[:, 0])), axis=1)
    return tf.stack([lo, hi], axis=1)


def level_grid(batch, channels):
    """uint8 `[B, C, 256, 1]`: C rows of every level, one channel. A pointwise op applied to this "image" is
    its lookup table, already in the `[B, C, 256]` layout (see `point_table`)."""
    return tf.broadcast_to(tf.cast(tf.range(256), tf.uint8)[None, None, :, None], tf.stack([batch, channels, 256, 1]))


def point_table(op, batch, channels, args):
    """`[B, C, 256]` int32 table of the statistics-free point op `op` (a registry record) per image."""
    return tf.cast(op.table(level_grid(batch, channels), args), tf.int32)[..., 0]


# Point ops: `table(grid, args)` applies the op to `level_grid`.


def invert_table(grid, args):
    return invert(grid)


def posterize_table(grid, args):
    return posterize(grid, tf.cast(args, tf.int32))


def solarize_table(grid, args):
    return solarize(grid, args)


def solarize_add_table(grid, args):
    return solarize_add(grid, args, 128)


def brightness_table(grid, args):
    return brightness(grid, args)


# Statistics ops: `table(levels, args)`, `[N, C, 256]` int32 from uint8 `levels` `[N, H, W, C]`.


def contrast_table(levels, args):
    mean = gray_mean(levels)
    shape = tf.stack([tf.shape(levels)[0], 1, 256, tf.shape(levels)[3]])
    grid = tf.broadcast_to(tf.cast(tf.range(256), tf.uint8)[None, None, :, None], shape)
    degenerate = tf.cast(tf.broadcast_to(mean[:, None, None, None], shape), tf.uint8)
    return tf.transpose(tf.cast(blend(grid, degenerate, args), tf.int32)[:, 0], [0, 2, 1])


def auto_contrast_table(levels, args):
    lo_hi = tf.cast(extremes(levels), tf.int32)
    return auto_contrast_lut(lo_hi[:, 0], lo_hi[:, 1])


def equalize_table(levels, args):
    return equalize_lut(histogram_counts(tf.cast(levels, tf.int32)))


def remapped_histogram(counts, tables):
    """The histogram of `tables[levels]` from the histogram `counts` of `levels` (both `[N, C, 256]`)."""
    shape = tf.shape(counts)
    rows = tf.range(shape[0] * shape[1])[:, None] * 256
    segments = tf.reshape(tables + tf.reshape(rows, tf.stack([shape[0], shape[1], 1])), [-1])
    counts = tf.math.unsorted_segment_sum(tf.reshape(counts, [-1]), segments, shape[0] * shape[1] * 256)
    return tf.reshape(counts, shape)


def monotone(tables):
    """bool `[N]`: every channel's table of the row is non-decreasing or non-increasing."""
    steps = tables[..., 1:] - tables[..., :-1]
    return tf.reduce_all(tf.reduce_all(steps >= 0, axis=-1) | tf.reduce_all(steps <= 0, axis=-1), axis=-1)


def mapped_extremes(xc, pc):
    """Per-channel `[N, 2, C]` int32 min and max of `pc[xc]` for monotone tables `pc`: the table's values at
    the stored extremes (swapped for a decreasing table), so no pixel goes through the table."""
    lo_hi = tf.cast(extremes(xc), tf.int32)
    ends = tf.transpose(tf.gather(pc, tf.transpose(lo_hi, [0, 2, 1]), batch_dims=2), [0, 2, 1])
    return tf.stack([tf.reduce_min(ends, axis=1), tf.reduce_max(ends, axis=1)], axis=1)


def extremes_table(lo_hi):
    """auto_contrast's `[N, C, 256]` table from per-channel extremes `[N, 2, C]` (`extremes`)."""
    return auto_contrast_lut(lo_hi[:, 0], lo_hi[:, 1])
