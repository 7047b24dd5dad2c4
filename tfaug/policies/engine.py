"""Runs per-image op programs (RandAugment, AutoAugment, TrivialAugment, AugMix chains) on a batch.

A `Program` gives every row (image) one op per slot: `op_ids[i, s]` indexes `Settings.ops` (-1 = skip),
`arguments[i, s]` is that op's argument in its own units (`tfaug.policies.levels.argument`), `centers[i, s]`
the box centre for `cutout`, and `matrices[i]` the row's geometric ops composed (`program_matrices`).
What each op is and how it runs is its record in `tfaug.policies.registry`.

The program runs on uint8 levels, as PIL does: float images are rounded to the nearest of 256 levels of
their `value_range` on the way in and mapped back on the way out, so every input dtype gets the uint8
result (bit-exact with PIL for the point and colour ops). The whole program is one XLA computation, so its
loops update the batch in place; a float batch is read once (quantised) and written once (the last pass,
fused with the table lookup). Per slot:

1. Pixel ops (colour, sharpness, cutout) run only on the rows that chose them, in fixed-size chunks
   (`tfaug.policies.rows`; one sort per slot groups the rows by op): they read their current levels,
   store the result and reset the row's pending table to the identity.
2. Point ops are lookup tables. Each row carries a *pending* `[C, 256]` table, the composition of its
   point ops not yet applied (the identity at first): a slot's point op composes its table onto it, so the
   point ops of all slots cost one gather over the batch, at the end. Statistics ops (contrast,
   auto_contrast, equalize) compute their table only for the rows that chose them, from their current
   levels (`rows.table_loop`).

Then geometry: the geometric ops of all slots are one matrix per row, resampled once for the rows that
chose any, so a row that rotates and shears is interpolated once (geometric ops move after the row's
pixel ops; the same result except in the fill area, which keeps `fill_level`). Nearest resampling copies
pixels, so it runs on the stored levels and marks the fill (the pending table is applied afterwards,
outside the fill); bilinear runs on current levels.

No op is computed for every row and then discarded. Every table goes behind a fusion barrier
(`tfaug.ops._xla.fusion_barrier`) before a per-pixel gather reads it, which also keeps an enclosing
`jit_compile` fast. AugMix's chains that share their image's levels run in `tfaug.policies.chains`, from the
same pieces.
"""

from typing import NamedTuple

import tensorflow as tf

from tfaug.ops import geometry
from tfaug.ops._xla import fused
from tfaug.ops._xla import fusion_barrier
from tfaug.ops.dtypes import from_float
from tfaug.ops.selection import apply_to_rows
from tfaug.ops.selection import group_rows
from tfaug.policies import registry
from tfaug.policies.rows import TABLE_CHUNK
from tfaug.policies.rows import Rows
from tfaug.policies.rows import equalize_from_histogram
from tfaug.policies.rows import lut
from tfaug.policies.rows import on_rows
from tfaug.policies.rows import selected_rows
from tfaug.policies.rows import table_loop
from tfaug.policies.tables import identity_tables
from tfaug.policies.tables import point_table


class Program(NamedTuple):
    """A drawn program, one row per image (see the module docstring)."""

    op_ids: tf.Tensor  # int32 [N, S]
    arguments: tf.Tensor  # float32 [N, S]
    centers: tf.Tensor  # int32 [N, S, 2] (cy, cx)
    matrices: tf.Tensor | None  # float32 [N, 3, 3], None without geometric ops


class Settings(NamedTuple):
    """The static settings of a program run."""

    ops: tuple  # op names, indexed by `Program.op_ids`
    value_range: tuple  # (low, high) of the images
    fill_level: float  # fill of geometry and cutout, in uint8 levels
    interpolation: str  # "nearest" or "bilinear"
    chunk: int  # rows per chunk of the selected-row loops (`chunk_size_for`)
    channels: int  # the images' channel count
    copies: int = 1  # copies of the batch the program runs on (rows k * B + i), for `apply_deferred`
    slots: int = 0  # the program's slots (`op_ids.shape[1]`; filled in by `checked`)


class Levels(NamedTuple):
    """A program stopped before its last lookup: the result's levels are `current_levels(levels)`."""

    stored: tf.Tensor  # uint8 [N, H, W, C]
    tables: tf.Tensor  # int32 [N, C, 256]: the pending table of each row
    inside: tf.Tensor  # uint8 [N, H, W, 1]: 0 where geometry filled the pixel

    def rows(self, part):
        """The rows `part` (a slice) of each field."""
        return Levels(self.stored[part], self.tables[part], self.inside[part])

    def current(self, fill_level):
        return current_levels(self, fill_level)


class _Slot(NamedTuple):
    """One slot of a program, its rows grouped by op (op `k`'s rows: `order[starts[k]:][:counts[k]]`)."""

    op_ids: tf.Tensor
    arguments: tf.Tensor
    centers: tf.Tensor
    order: tf.Tensor
    starts: tf.Tensor
    counts: tf.Tensor
    identity: tf.Tensor  # [N, C, 256] identity tables
    chunk: int

    def rows(self, k):
        """The `rows.Rows` that chose op `k`."""
        return Rows(self.order, self.starts[k], self.counts[k], self.chunk)


def chunk_size_for(batch_size):
    """Rows per chunk of the selected-row loops: small, so rarely chosen ops waste little (the last chunk of
    a loop repeats a row); 2 from a batch of 32, 1 below."""
    if batch_size is None:
        return 2
    return max(1, min(2, batch_size // 32))


def to_uint8_levels(images, value_range):
    if images.dtype == tf.uint8 and tuple(value_range) == (0.0, 255.0):
        return images
    low, high = value_range
    x = tf.cast(images, tf.float32)
    if (low, high) != (0.0, 255.0):
        x = (x - low) * (255.0 / (high - low))
    return tf.cast(tf.clip_by_value(tf.round(x), 0.0, 255.0), tf.uint8)


def from_uint8_levels(levels, images, value_range):
    if images.dtype == tf.uint8 and tuple(value_range) == (0.0, 255.0):
        return levels
    low, high = value_range
    x = tf.cast(levels, tf.float32)
    if (low, high) != (0.0, 255.0):
        x = x * ((high - low) / 255.0) + low
    return from_float(x, images.dtype)


def program_matrices(op_ids, arguments, ops, height, width):
    """float32 `[rows, 3, 3]`: each row's geometric ops composed in slot order (output to input points, as
    `tfaug.ops.geometry`), the identity for rows without one; None when `ops` has no geometric op.

    The program resamples its images through these matrices; segmentation masks and bounding boxes follow
    the same ones. Computed with TensorFlow's own kernels (outside the program's XLA computation).
    """
    slots = int(op_ids.shape[1])
    if not registry.of_kind("geometric", ops) or slots == 0:
        return None
    # All slots at once ([rows, slots, 3, 3]; few small ops), then composed in slot order.
    slot_matrices = tf.broadcast_to(tf.eye(3), tf.stack([tf.shape(op_ids)[0], slots, 3, 3]))
    for k, name in enumerate(ops):
        if registry.OPS[name].kind == "geometric":
            chosen = tf.equal(op_ids, k)[:, :, None, None]
            slot_matrices = tf.where(chosen, registry.OPS[name].matrix(arguments, height, width), slot_matrices)
    return geometry.compose(*tf.unstack(slot_matrices, num=slots, axis=1))


def geometric_rows(op_ids, ops):
    """bool `[rows]`: the rows whose program has a geometric op."""
    geometric = [k for k, name in enumerate(ops) if registry.OPS[name].kind == "geometric"]
    return tf.reduce_any(tf.equal(op_ids[:, :, None], geometric), axis=[1, 2])


# -- the program, slot by slot -----------------------------------------------------------------------------


def run_slots(x, program, settings, histograms=None):
    """Every slot of `program` on stored levels `x`: `(stored levels, pending tables or None)`.

    Row `r` reads `x[r % len(x)]` (`rows.apply_stored`): `x` holds every row, or one batch that the rows
    share (`tfaug.policies.chains`). `histograms` (optional): equalize's histograms of the stored levels,
    `[N, C, 256]`, counted beforehand.

    Two or more slots run in a `tf.while_loop`, so one slot's kernels are traced and compiled once whatever
    the slot count (unrolled, a program's first call grows with every slot). The pending tables then start
    as the identity rather than None, which gives the same levels.
    """
    identity = identity_tables(tf.shape(program.op_ids)[0], tf.shape(x)[3])

    def run_slot(s, x, pending):
        ids = program.op_ids[:, s]
        slot = _Slot(
            ids,
            program.arguments[:, s],
            program.centers[:, s],
            *group_rows(ids, len(settings.ops)),
            identity,
            settings.chunk,
        )
        x, pending = _pixel_ops(x, pending, slot, settings)
        tables = _statistic_tables(x, pending, slot, settings, _point_tables(slot, settings), histograms)
        if tables is not None:
            tables = fusion_barrier(tables)
            pending = tables if pending is None else fusion_barrier(tf.gather(tables, pending, batch_dims=2))
        return x, pending

    if settings.slots < 2:
        return run_slot(0, x, None) if settings.slots else (x, None)
    # The pending tables stay None (the identity) in a program without table ops.
    tabled = registry.of_kind("point", settings.ops) + registry.of_kind("statistic", settings.ops)
    pending = identity if tabled else None

    def body(s, x, *pending):
        x, pending = run_slot(s, x, pending[0] if pending else None)
        return (s + 1, x) + (() if pending is None else (pending,))

    state = (tf.constant(0), x) + (() if pending is None else (pending,))
    state = tf.while_loop(lambda s, *_: s < settings.slots, body, state, maximum_iterations=settings.slots)
    return state[1], (state[2] if pending is not None else None)


def _pixel_ops(x, pending, slot, settings):
    """The slot's pixel ops, first: they store the current levels of their rows (whose pending tables become
    the identity) and leave the other rows alone, so the statistics after them read the updated batch."""
    reset = None
    for k, name in enumerate(settings.ops):
        op = registry.OPS[name]
        if op.kind != "pixel":
            continue

        def kernel(levels, args, centers, op=op):
            return op.kernel(levels, args, centers, settings.fill_level)

        x = on_rows(kernel, slot.rows(k), (x, pending), (slot.arguments, slot.centers), x, rereads=op.rereads)
        chosen = tf.equal(slot.op_ids, k)
        reset = chosen if reset is None else reset | chosen
    if reset is not None and pending is not None:
        pending = fusion_barrier(tf.where(reset[:, None, None], slot.identity, pending))
    return x, pending


def _point_tables(slot, settings):
    """The slot's statistics-free tables per row (the identity for rows without a point op), or None."""
    tables = None
    batch, channels = tf.shape(slot.identity)[0], tf.shape(slot.identity)[1]
    for k, name in enumerate(settings.ops):
        if registry.OPS[name].kind == "point":
            table = point_table(registry.OPS[name], batch, channels, slot.arguments)
            chosen = tf.equal(slot.op_ids, k)[:, None, None]
            tables = tf.where(chosen, table, slot.identity if tables is None else tables)
    return tables


def _statistic_tables(x, pending, slot, settings, tables, histograms):
    """`tables` with the slot's statistics tables written in, for the rows that chose them."""
    for k, name in enumerate(settings.ops):
        op = registry.OPS[name]
        if op.kind != "statistic":
            continue
        tables = slot.identity if tables is None else tables
        if name == "equalize" and histograms is not None:
            # Table-space work for the rows that chose equalize only, in chunks of TABLE_CHUNK rows.
            current = slot.identity if pending is None else pending
            rows = slot.rows(k)._replace(chunk=TABLE_CHUNK)
            tables = apply_to_rows(equalize_from_histogram, *rows[:3], (histograms, current), tables, rows.chunk)
        else:
            tables = table_loop(op, slot.rows(k), (x, pending), slot.arguments, tables)
    return tables


# -- geometry and the last lookup ----------------------------------------------------------------------------


def resample(x, pending, program, settings):
    """The geometry pass: `(stored levels, pending tables or None, inside mark or None)`."""
    if program.matrices is None:
        return x, pending, None
    geometric = geometric_rows(program.op_ids, settings.ops)
    if settings.interpolation == "nearest" and pending is not None:
        return _nearest_marked(x, pending, program.matrices, selected_rows(geometric, settings.chunk))

    def kernel(levels, matrices):
        return geometry.transform(levels, matrices, settings.interpolation, fill_value=settings.fill_level)

    rows = selected_rows(geometric, settings.chunk)
    x = on_rows(kernel, rows, (x, pending), (program.matrices,), x, rereads=True)
    if pending is not None:
        identity = identity_tables(tf.shape(pending)[0], tf.shape(pending)[1])
        pending = fusion_barrier(tf.where(geometric[:, None, None], identity, pending))
    return x, pending, None


def _nearest_marked(x, pending, matrices, rows):
    """Nearest resampling copies pixels, so it commutes with the pending tables: the stored levels are
    resampled (no lookup here) and the fill is marked, `(x, pending, inside)`."""

    def kernel(rows, xs, mc):
        # Reads the chunk's rows straight from the batch (no copy of them first).
        shape = tf.shape(xs)
        index = geometry.nearest_index.python_function(mc, rows, shape[1], shape[2], affine=True)
        return geometry.nearest_marked(xs, index)

    shape = tf.shape(x)
    inside = tf.ones(tf.stack([shape[0], shape[1], shape[2], 1]), tf.uint8)
    x, inside = apply_to_rows(
        kernel, rows.order, rows.start, rows.count, (matrices,), (x, inside), rows.chunk, whole=(x,)
    )
    return x, pending, inside


def current_levels(levels, fill_level):
    """uint8 levels of a deferred result (`Levels`): `tables[stored]`, `fill_level` outside `inside` (a None
    `tables` is the identity, a None `inside` marks no fill)."""
    current = lut(levels.tables, levels.stored)
    if levels.inside is None:
        return current
    fill = from_float(tf.constant(fill_level, tf.float32), tf.uint8)
    return tf.where(levels.inside > 0, current, fill)


def _run(images, program, settings):
    # `fused` may trace with relaxed shapes: the channel count comes from the settings.
    images.set_shape([None, None, None, settings.channels])
    x = to_uint8_levels(images, settings.value_range)
    if settings.copies > 1:
        # Copies are tiled in the computation's own buffer, updated in place.
        x = tf.tile(x, [settings.copies, 1, 1, 1])
    x, pending = run_slots(x, program, settings)
    return resample(x, pending, program, settings)


@fused
def _program(images, program, settings):
    levels = current_levels(Levels(*_run(images, program, settings)), settings.fill_level)
    return from_uint8_levels(levels, images, settings.value_range)


@fused
def _deferred(images, program, settings):
    x, pending, inside = _run(images, program, settings)
    shape = tf.shape(x)
    if pending is None:
        pending = identity_tables(tf.shape(program.op_ids)[0], shape[3])
    if inside is None:
        inside = tf.ones(tf.stack([shape[0], shape[1], shape[2], 1]), tf.uint8)
    return Levels(x, pending, inside)


def checked(images, program, settings):
    """`(images, settings)` with `settings.slots` set from the program, whose slot count must be static (the
    compiled program is traced with relaxed shapes)."""
    if program.op_ids.shape.rank != 2 or program.op_ids.shape[1] is None:
        raise ValueError(f"`op_ids` must be [batch, slots] with a static number of slots, got {program.op_ids.shape}.")
    return tf.convert_to_tensor(images), settings._replace(slots=int(program.op_ids.shape[1]))


def apply_program(images, program, settings):
    """Runs `program` (see the module docstring) on `images` `[B, H, W, C]` (any float or integer dtype,
    values in `settings.value_range`); returns the augmented images, same shape and dtype."""
    if settings.copies != 1:
        raise ValueError(f"`copies` other than 1 needs `apply_deferred`, got copies={settings.copies!r}.")
    images, settings = checked(images, program, settings)
    return _program(images, program, settings)


def apply_deferred(images, program, settings):
    """`apply_program` stopped before its last table lookup: a `Levels` record, for a caller that folds the
    lookup into its own pass (AugMix's mix). With `settings.copies > 1` the program runs on stacked copies
    of the batch: row `k * B + i` is copy `k` of image `i`, and `program` has `copies * B` rows."""
    images, settings = checked(images, program, settings)
    return _deferred(images, program, settings)
