"""AugMix's chains: one program on several copies of a batch, sharing the batch's levels where they can.

A chain is a program on a copy of the batch (row `k * B + i` is chain `k` of image `i`). Without pixel
ops (colour, sharpness, cutout: AugMix's default ops) no op stores new levels before the geometry pass,
so the copies of an image keep its levels: they share one quantised batch instead of tiling it. The
slots read row `r % B` (`engine.run_slots`), equalize counts an image's histogram once for all its
copies, and with nearest resampling the copies' levels are never written: `SharedLevels` keeps the shared
batch and an index map per row, and the reader gathers each pixel through it. Otherwise the batch is
tiled (`engine.apply_deferred` with copies).

The quantised batch, the histograms (in two halves) and the index map are XLA computations of their own,
which TensorFlow runs side by side (a histogram loop is a scatter, which uses one thread), the map beside
the program's table work. The tests check every path against the program on the tiled batch.
"""

from typing import NamedTuple

import tensorflow as tf

from tfaug.ops import geometry
from tfaug.ops._xla import fused
from tfaug.ops.dtypes import from_float
from tfaug.ops.histogram import histogram_counts
from tfaug.policies import engine
from tfaug.policies import registry
from tfaug.policies.rows import apply_stored
from tfaug.policies.rows import lut
from tfaug.policies.rows import selected_rows
from tfaug.policies.tables import identity_tables


class SharedLevels(NamedTuple):
    """Chains stopped before their last lookup, on levels they share: each row's pixel `p` is
    `tables[r][stored[index[r, p]]]`, or the fill where `index` is -1."""

    stored: tf.Tensor  # uint8 [B, H, W, C]: the shared quantised batch
    tables: tf.Tensor  # int32 [copies * B, C, 256]: each row's pending table
    index: tf.Tensor  # int32 [copies * B, H, W]: flat pixel of `stored` each output pixel reads, -1 fill

    def rows(self, part):
        """The rows `part` (a slice) of the tables and the index map; the shared batch stays whole."""
        return SharedLevels(self.stored, self.tables[part], self.index[part])

    def current(self, fill_level):
        """uint8 `[rows, H, W, C]` levels of the rows."""
        channels = self.stored.shape[-1]
        # Three channels are gathered as four (one 32-bit element per pixel), which the gather reads faster.
        width = 4 if channels == 3 else channels
        padded = tf.pad(self.stored, [[0, 0], [0, 0], [0, 0], [0, width - channels]])
        pixels = tf.gather(tf.reshape(padded, [-1, width]), tf.maximum(self.index, 0))[..., :channels]
        fill = from_float(tf.constant(fill_level, tf.float32), tf.uint8)
        return tf.where(self.index[..., None] >= 0, lut(self.tables, pixels), fill)


def shares_levels(ops):
    """Whether copies of a batch under a program of `ops` can share its stored levels (no pixel op)."""
    return not registry.of_kind("pixel", ops)


def apply_chains(images, program, settings):
    """The deferred result of `program` on `settings.copies` copies of `images`: `SharedLevels` for shared
    levels with nearest resampling, else an `engine.Levels` of every row."""
    images, settings = engine.checked(images, program, settings)
    if not (images.dtype == tf.uint8 and tuple(settings.value_range) == (0.0, 255.0)):
        # The copies read the quantised batch several times (a tile, or gathers): it is computed once, so the
        # program reads it from a buffer rather than rounding the float batch at every read.
        images = _quantize(images, tuple(settings.value_range))
        settings = settings._replace(value_range=(0.0, 255.0))
    if not shares_levels(settings.ops):
        return engine.apply_deferred(images, program, settings)
    histograms = None
    if "equalize" in settings.ops:
        histograms = shared_histograms(images, program.op_ids, settings.ops.index("equalize"), settings)
    if program.matrices is None or settings.interpolation != "nearest":
        return _shared(images, program, settings, histograms)
    # After the histograms (one thread each, side by side), beside the program (mostly one thread).
    with tf.control_dependencies([] if histograms is None else [histograms]):
        index = _index_map(images, program, settings)
    stored, tables = _shared_tables(images, program._replace(matrices=None), settings, histograms)
    return SharedLevels(stored, tables, index)


def _index_map(images, program, settings):
    """`geometry.nearest_index` of every row into the shared batch (identity rows without geometry)."""
    geometric = engine.geometric_rows(program.op_ids, settings.ops)
    matrices = tf.where(geometric[:, None, None], program.matrices, tf.eye(3, batch_shape=[1]))
    shape = tf.shape(images)
    rows = tf.range(tf.shape(program.op_ids)[0]) % shape[0]
    return geometry.nearest_index(matrices, rows, shape[1], shape[2], affine=True)


@fused
def _quantize(images, value_range):
    return engine.to_uint8_levels(images, value_range)


@fused
def _shared_tables(images, program, settings, histograms):
    """The slots on the shared batch: `(shared levels, pending tables)`; no geometry."""
    images.set_shape([None, None, None, settings.channels])
    x, pending = engine.run_slots(images, program, settings, histograms)
    if pending is None:
        pending = identity_tables(tf.shape(program.op_ids)[0], tf.shape(x)[3])
    return x, pending


@fused
def _shared(images, program, settings, histograms):
    """The slots on the shared batch, then the copies tiled for bilinear geometry (or none): `Levels`."""
    images.set_shape([None, None, None, settings.channels])
    x, pending = engine.run_slots(images, program, settings, histograms)
    x = tf.tile(x, [settings.copies, 1, 1, 1])
    x, pending, inside = engine.resample(x, pending, program, settings)
    shape = tf.shape(x)
    if pending is None:
        pending = identity_tables(tf.shape(program.op_ids)[0], shape[3])
    if inside is None:
        inside = tf.ones(tf.stack([shape[0], shape[1], shape[2], 1]), tf.uint8)
    return engine.Levels(x, pending, inside)


@fused
def _histograms(x, chosen, chunk):
    """Histograms `[B, C, 256]` of the uint8 images `x` `[B, H, W, C]` with `chosen` (bool `[B]`), zero for
    the others: a loop over chunks of the chosen images (one thread)."""
    empty = tf.zeros(tf.stack([tf.shape(x)[0], tf.shape(x)[3], 256]), tf.int32)
    return apply_stored(lambda xc: histogram_counts(tf.cast(xc, tf.int32)), selected_rows(chosen, chunk), x, (), empty)


def shared_histograms(x, op_ids, k, settings, parts=2):
    """Histograms `[copies * B, C, 256]` of the stored levels `x` `[B, H, W, C]` that the copies share,
    counted once per image, for the images some copy of which chooses op `k` (zero for the others).
    Equalize reads them remapped by each copy's pending table. The batch is counted in `parts` slices by
    XLA computations of their own, which TensorFlow can run on several threads at once (one slice when the
    batch size is known only at run time, or smaller than `parts`)."""
    sources, copies = tf.shape(x)[0], settings.copies
    if x.shape[0] is None or x.shape[0] < parts:
        parts = 1  # a slice must not be empty: XLA cannot compile the loop on an empty one
    chosen_rows = tf.reduce_any(tf.equal(op_ids, k), axis=1)
    chosen = tf.reduce_any(tf.reshape(chosen_rows, tf.stack([copies, sources])), axis=0)
    bounds = [sources * i // parts for i in range(parts + 1)]
    counts = [_histograms(x[a:b], chosen[a:b], settings.chunk) for a, b in zip(bounds[:-1], bounds[1:])]
    return tf.tile(tf.concat(counts, axis=0), [copies, 1, 1])
