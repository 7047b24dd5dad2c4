"""Applies per-image op programs (RandAugment, AutoAugment, TrivialAugment, AugMix chains) to a batch.

A program gives every image one op per slot: `op_ids[i, s]` indexes the layer's op table (-1 = skip),
`arguments[i, s]` is that op's argument in its own units (`tfaug.policies.levels.argument`), and
`centers[i, s]` the box centre for `cutout`.

The program runs on uint8 levels, as PIL does: float images are rounded to the nearest of 256 levels of
their `value_range` on the way in and mapped back on the way out, so every input dtype gets the uint8
result (bit-exact with PIL for the point and colour ops). The whole program is one XLA computation
(`_program`), so its loops update the batch in place; a float batch is read once (quantised) and written
once (the last pass, fused with the table lookup):

1. Point ops (invert, posterize, solarize, solarize_add, brightness, contrast, auto_contrast, equalize)
   are lookup tables (`tfaug.policies.tables`). Each image carries a *pending* `[C, 256]` table, the
   composition of its point ops not yet applied (the identity at first): a slot's point op composes its
   table onto it, so the point ops of all slots cost one gather over the batch, at the end. The
   statistics a table needs (gray mean, channel extremes, histogram) are computed only for the images
   that chose contrast / auto_contrast / equalize, on their current levels (stored levels through the
   pending table; equalize remaps the stored levels' histogram instead, and auto_contrast maps the
   stored extremes through a monotone pending table, reading the current levels only after a
   non-monotone one such as solarize).
2. Colour, sharpness and cutout run only on the images that chose them, in fixed-size chunks
   (`tfaug.policies.rows`; one sort per slot groups the images by op): they read their
   current levels, store the result and reset the image's pending table to the identity.
3. Geometric ops of all slots compose into one matrix per image, resampled once at the end
   (`tfaug.ops.geometry.transform`) for the images that chose any, so an image that rotates and shears is
   interpolated once. This moves geometric ops after the image's pixel ops (the same result except in
   the fill area, which keeps `fill_value`). Nearest resampling copies pixels, so it runs on the stored
   levels (the pending table is applied afterwards, outside the fill); bilinear runs on current levels.
   The matrices are computed before the XLA computation, by TensorFlow's own kernels.

`apply_program(..., deferred=True)` stops before the last lookup, for a caller that folds it into its own
pass (AugMix's mix), and `copies` runs the program on several copies of the batch (AugMix's chains).
Without colour, sharpness or cutout no op stores new levels before the geometry pass, so the copies of an
image keep its levels: they share one quantised batch (statistics read row `r % B`, equalize counts an
image's histogram once for all its copies). With nearest resampling the copies' levels are never written:
the last lookup reads each copy's pixels through an index map (`current_levels`); with bilinear the
shared batch is tiled before the geometry pass. Otherwise the batch is tiled inside the computation.

No op is computed for every image and then discarded. Inside one XLA computation XLA would fuse a small
lookup-table computation into the per-pixel gather that reads it and redo it for every pixel (about 20
times slower); every table is therefore materialised (`tfaug.policies.rows.materialized`) before a gather
reads it, which also keeps an enclosing `jit_compile` fast.
"""
import tensorflow as tf

from tfaug.ops import geometry
from tfaug.ops._xla import fused
from tfaug.ops.boxes import centered_boxes
from tfaug.ops.dtypes import from_float
from tfaug.ops.enhance import color
from tfaug.ops.enhance import sharpness
from tfaug.ops.erasing import fill_boxes
from tfaug.ops.selection import apply_to_rows
from tfaug.ops.selection import group_rows
from tfaug.policies.levels import GEOMETRIC
from tfaug.policies.rows import equalize_from_histogram
from tfaug.policies.rows import lut
from tfaug.policies.rows import materialized
from tfaug.policies.rows import on_rows
from tfaug.policies.rows import selected_rows
from tfaug.policies.rows import shared_histograms
from tfaug.policies.rows import table_loop
from tfaug.policies.tables import identity_tables
from tfaug.policies.tables import point_table

#: Ops whose result is a per-image lookup table of the (current) image.
POINT_OPS = ("invert", "posterize", "solarize", "solarize_add", "brightness", "contrast", "auto_contrast", "equalize")
#: Point ops whose table needs statistics of the image.
STATISTIC_OPS = ("contrast", "auto_contrast", "equalize")
#: Ops run on the images that chose them only.
SELECTED_OPS = ("color", "sharpness", "cutout")

MATRICES = {
    "rotate": lambda a, h, w: geometry.rotation_matrix(a, h, w),
    "shear_x": lambda a, h, w: geometry.shear_x_matrix(a),
    "shear_y": lambda a, h, w: geometry.shear_y_matrix(a),
    "translate_x": lambda a, h, w: geometry.translate_x_matrix(a),
    "translate_y": lambda a, h, w: geometry.translate_y_matrix(a),
}


def chunk_size_for(batch_size):
    """Images per chunk of the selected-image loops: small, so rarely chosen ops waste little (the last chunk
    of a loop repeats an image); 2 from a batch of 32 (measured on batches of 64 and on AugMix's 3 x 64
    chains: 1 costs more loop overhead, 4 more repeats)."""
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


def _cutout(xc, side, center, fill_level):
    shape = tf.shape(xc)
    side = tf.cast(side, tf.int32)
    boxes = centered_boxes(center[:, 0], center[:, 1], side, side, shape[1], shape[2])
    fill = tf.fill(tf.stack([shape[0], 1, shape[3]]), fill_level)
    return fill_boxes(xc, boxes[:, None, :], fill)


#: Rows per chunk of the loops that compute tables from shared histograms (no pixels: few, larger chunks).
TABLE_CHUNK = 8

#: Selected kernels that read each pixel several times (their input is materialised first).
REREADING_KERNELS = ("sharpness", "color")

SELECTED_KERNELS = {
    "color": lambda xc, a, c, fill: color(xc, a),
    "sharpness": lambda xc, a, c, fill: sharpness(xc, a),
    "cutout": _cutout,
}


def _run(images, op_ids, arguments, centers, matrix, ops, value_range, fill_level, interpolation, chunk, slots,
         channels, copies=1, histograms=None, resample=True):
    """The program up to its last lookup: `(stored levels, pending tables or None, inside mark or None)`.

    For copies that share the batch's levels (computed by `apply_program`): `histograms`, with equalize
    among the ops, `shared_histograms`; `resample=False` (nearest resampling) stops before the geometry
    pass and returns the shared levels, which the last lookup reads through an index map.
    """
    # `fused` may trace with relaxed shapes: the slot and channel counts come from the caller.
    images.set_shape([None, None, None, channels])
    x = to_uint8_levels(images, value_range)
    # Without selected kernels, no op stores new levels before the geometry pass, so the copies of an image
    # keep its levels: they share the one quantised batch (row r of the program reads row r % B, and
    # equalize counts an image's histogram once for all its copies); they are tiled only where bilinear
    # geometry or the end needs rows of their own. Otherwise the batch is tiled in the computation's own
    # buffer, updated in place.
    shared = _shares_levels(ops, copies)
    if copies > 1 and not shared:
        x = tf.tile(x, [copies, 1, 1, 1])
    batch, num_channels = tf.shape(op_ids)[0], tf.shape(x)[3]
    identity = identity_tables(batch, num_channels)
    pending = None  # [B, C, 256] point ops not yet applied to x (None: the identity for all)
    for s in range(slots):
        ids, args, center = op_ids[:, s], arguments[:, s], centers[:, s]
        order, starts, counts = group_rows(ids, len(ops))
        # Colour, sharpness, cutout first: they store the current levels of their images (whose tables become
        # the identity) and leave the other images alone, so the statistics below can read the updated batch.
        reset = None
        for k, name in enumerate(ops):
            if name in SELECTED_KERNELS:
                kernel = SELECTED_KERNELS[name]
                x = on_rows(lambda xc, ac, cc, kernel=kernel: kernel(xc, ac, cc, fill_level),
                            (order, starts[k], counts[k]), x, pending, (args, center), x, chunk,
                            materialize=name in REREADING_KERNELS)
                chosen = tf.equal(ids, k)
                reset = chosen if reset is None else reset | chosen
        if reset is not None and pending is not None:
            pending = materialized(tf.where(reset[:, None, None], identity, pending))
        # Point ops: this slot's table per image, composed onto its pending tables.
        tables = None
        for k, name in enumerate(ops):
            if name in POINT_OPS and name not in STATISTIC_OPS:
                table = point_table(name, batch, num_channels, args)
                tables = tf.where(tf.equal(ids, k)[:, None, None], table, identity if tables is None else tables)
        for k, name in enumerate(ops):
            if name == "equalize" and histograms is not None:
                # Table-space work for the rows that chose equalize only, in chunks of TABLE_CHUNK rows.
                tables = apply_to_rows(equalize_from_histogram, order, starts[k], counts[k],
                                       (histograms, identity if pending is None else pending),
                                       identity if tables is None else tables, TABLE_CHUNK)
            elif name in STATISTIC_OPS:
                # Each chosen image's table, from its current levels, written into `tables`.
                tables = table_loop(name, (order, starts[k], counts[k]), x, pending, args,
                                     identity if tables is None else tables, chunk)
        if tables is not None:
            tables = materialized(tables)
            pending = tables if pending is None else materialized(tf.gather(tables, pending, batch_dims=2))
    inside = None  # [B, H, W, 1] uint8: 0 where geometry filled the pixel (None: nowhere)
    if not resample:
        # Shared copies, nearest: the rows are resampled by the last lookup itself (`current_levels`), which
        # reads each pixel of the shared batch through an index map (see `apply_program`): the copies'
        # levels are never written.
        return x, pending, None
    if matrix is not None:
        # One resampling of the images that chose a geometric op.
        geometric = _geometric_rows(op_ids, ops)
        if interpolation == "nearest" and pending is not None:
            # Nearest resampling copies pixels, so it commutes with the pending tables: resample the stored
            # levels (no table lookup here) and mark which pixels are fill.
            def resample(rows, xs, mc):
                # Reads the chunk's rows straight from the batch (no copy of them first).
                shape = tf.shape(xs)
                sample = geometry.nearest_index.python_function(mc, rows, shape[1], shape[2], affine=True,
                                                                materialize=True)
                return geometry.nearest_marked(xs, sample)

            inside = tf.ones(tf.stack([batch, tf.shape(x)[1], tf.shape(x)[2], 1]), tf.uint8)
            x, inside = apply_to_rows(resample, *selected_rows(geometric), (matrix,), (x, inside), chunk,
                                      whole=(x,))
        else:
            def resample(xc, mc):
                return geometry.transform(xc, mc, interpolation=interpolation, fill_value=fill_level)

            if shared:
                x, shared = tf.tile(x, [copies, 1, 1, 1]), False
            x = on_rows(resample, selected_rows(geometric), x, pending, (matrix,), x, chunk, materialize=True)
            if pending is not None:
                pending = materialized(tf.where(geometric[:, None, None], identity, pending))
    if shared:
        x = tf.tile(x, [copies, 1, 1, 1])
    return x, pending, inside


def _geometric_rows(op_ids, ops):
    """bool `[rows]`: the rows whose program has a geometric op."""
    return tf.reduce_any(tf.equal(op_ids[:, :, None], [k for k, name in enumerate(ops) if name in GEOMETRIC]),
                         axis=[1, 2])


def _shares_levels(ops, copies):
    """Whether the `copies` of a batch share its stored levels (no selected kernel stores new ones; see `_run`)."""
    return copies > 1 and not any(name in SELECTED_KERNELS for name in ops)


def current_levels(x, pending, inside, fill_level):
    """uint8 levels of a deferred program result (`apply_program(..., deferred=True)`): `pending[x]`,
    `fill_level` outside `inside`.

    `inside` is a uint8 mark `[N, H, W, 1]` (0 where geometry filled the pixel) for levels `x` of the same
    rows, or an int32 index map `[N, H, W]` into the pixels of a shared batch `x` `[B, H, W, C]` (-1 where
    filled; `geometry.nearest_index`): then each level is read through the map first.
    """
    fill = from_float(tf.constant(fill_level, tf.float32), tf.uint8)
    if inside is not None and inside.dtype == tf.int32:
        channels = x.shape[-1]
        # Three channels are gathered as four (one 32-bit element per pixel): the mix is about 15% faster.
        width = 4 if channels == 3 else channels
        table = tf.reshape(tf.pad(x, [[0, 0], [0, 0], [0, 0], [0, width - channels]]), [-1, width])
        x = tf.gather(table, tf.maximum(inside, 0))[..., :channels]
        return tf.where(inside[..., None] >= 0, lut(pending, x), fill)
    levels = lut(pending, x)
    if inside is not None:
        levels = tf.where(inside > 0, levels, fill)
    return levels


@fused
def _quantize(images, value_range):
    return to_uint8_levels(images, value_range)


@fused
def _program(images, op_ids, arguments, centers, matrix, ops, value_range, fill_level, interpolation, chunk, slots,
             channels):
    x, pending, inside = _run(images, op_ids, arguments, centers, matrix, ops, value_range, fill_level,
                              interpolation, chunk, slots, channels)
    return from_uint8_levels(current_levels(x, pending, inside, fill_level), images, value_range)


@fused
def _deferred(images, op_ids, arguments, centers, matrix, ops, value_range, fill_level, interpolation, chunk, slots,
              channels, copies, histograms, resample):
    x, pending, inside = _run(images, op_ids, arguments, centers, matrix, ops, value_range, fill_level,
                              interpolation, chunk, slots, channels, copies, histograms, resample)
    shape = tf.shape(x)
    if pending is None:
        pending = identity_tables(tf.shape(op_ids)[0], shape[3])
    if not resample:
        return x, pending
    if inside is None:
        inside = tf.ones(tf.stack([shape[0], shape[1], shape[2], 1]), tf.uint8)
    return x, pending, inside


def program_matrices(op_ids, arguments, ops, height, width):
    """float32 `[rows, 3, 3]`: each row's geometric ops composed in slot order (output to input points, as
    `tfaug.ops.geometry`), the identity for rows without one; None when `ops` has no geometric op.

    The program resamples its images through these matrices; segmentation masks and bounding boxes follow
    the same ones.
    """
    if not any(name in GEOMETRIC for name in ops):
        return None
    slots = int(op_ids.shape[1])
    # All slots at once ([rows, slots, 3, 3]; few small ops), then composed in slot order.
    slot_matrices = tf.broadcast_to(tf.eye(3), tf.stack([tf.shape(op_ids)[0], slots, 3, 3]))
    for k, name in enumerate(ops):
        if name in GEOMETRIC:
            chosen = tf.equal(op_ids, k)[:, :, None, None]
            slot_matrices = tf.where(chosen, MATRICES[name](arguments, height, width), slot_matrices)
    return geometry.compose(*tf.unstack(slot_matrices, num=slots, axis=1))


def apply_program(images, op_ids, arguments, centers, ops, value_range, fill_level, interpolation, chunk,
                  deferred=False, copies=1):
    """Runs a program (see module docstring) on `images` `[B, H, W, C]`; returns the same dtype.

    With `deferred=True` it stops before the last table lookup and returns `(levels, tables, inside)`:
    uint8 levels `[B, H, W, C]`, int32 tables `[B, C, 256]` and a uint8 mark `[B, H, W, 1]` (0 where
    geometry filled the pixel), whose `current_levels` are the result's levels; a caller that reads the
    result once (AugMix's mix) folds the lookup into its own pass. For copies that share the batch's
    levels with nearest resampling, `levels` is the shared quantised batch (B rows) and `inside` an int32
    index map `[copies * B, H, W]` into its pixels: the resampling, too, is left to `current_levels`.

    Args:
        images: `[B, H, W, C]`, any float or integer dtype, values in `value_range`.
        op_ids: int32 `[B, S]`, indices into `ops`, -1 to skip a slot.
        arguments: float32 `[B, S]`.
        centers: int32 `[B, S, 2]` `(cy, cx)` for cutout.
        ops: static tuple of op names.
        value_range: static `(low, high)`.
        fill_level: static fill for geometry and cutout, in uint8 levels (128 = mid-gray).
        interpolation: static `"nearest"` or `"bilinear"`.
        chunk: static chunk size for the selected-image loops.
        deferred: return the deferred result (above) instead of images.
        copies: with `deferred`, run the program on `copies` stacked copies of the batch (sharing its
            levels where they can, see the module docstring): row `k * B + i` is copy `k` of image `i`, and
            `op_ids`, `arguments`, `centers` and the result have `copies * B` rows (AugMix's chains).
    """
    images = tf.convert_to_tensor(images)
    op_ids = tf.convert_to_tensor(op_ids)
    if op_ids.shape.rank != 2 or op_ids.shape[1] is None:
        raise ValueError(f"`op_ids` must be [batch, slots] with a static number of slots, got {op_ids.shape}.")
    ops = tuple(ops)
    slots = int(op_ids.shape[1])
    # The matrices are computed here, outside the XLA computation, with TensorFlow's own sin and cos.
    shape = tf.shape(images)
    matrix = program_matrices(op_ids, arguments, ops, shape[1], shape[2])
    index = histograms = None
    if deferred and copies > 1 and not (images.dtype == tf.uint8 and tuple(value_range) == (0.0, 255.0)):
        # Copies read the quantised batch several times (a tile, or gathers): it is computed by an XLA
        # computation of its own, so the program reads it from a buffer rather than fusing the rounding of
        # the float batch into every read.
        images, value_range = _quantize(images, tuple(value_range)), (0.0, 255.0)
    if deferred and _shares_levels(ops, copies):
        # Copies that share the batch's levels (see `_run`): equalize's histograms and, for nearest
        # resampling, the index map of all rows (identity for rows without geometry) are computed by XLA
        # computations of their own, which TensorFlow runs side by side: the histogram halves (a scatter
        # loop uses one thread), then the map beside the program (mostly small table work). The map goes
        # back with the deferred result; `current_levels` gathers through it, so the copies' levels are
        # never written (computed inside that gather, the map would be recomputed per channel and copy).
        if "equalize" in ops:
            histograms = shared_histograms(images, op_ids, ops.index("equalize"), int(copies), int(chunk))
        if matrix is not None and interpolation == "nearest":
            matrix = tf.where(_geometric_rows(op_ids, ops)[:, None, None], matrix, tf.eye(3, batch_shape=[1]))
            rows = tf.range(tf.shape(op_ids)[0]) % tf.shape(images)[0]
            # After the histograms (one thread each, side by side), beside the program (mostly one thread).
            # Materialised: inside an enclosing `jit_compile` this computation is inlined into the mix's,
            # where XLA would otherwise fuse the map into the mix's gathers (AugMix about twice as slow).
            with tf.control_dependencies([] if histograms is None else [histograms]):
                index = geometry.nearest_index(matrix, rows, tf.shape(images)[1], tf.shape(images)[2], affine=True,
                                               materialize=True)
    # With an index map the program does no geometry: it needs no matrices.
    args = (images, op_ids, arguments, centers, matrix if index is None else None, ops, tuple(value_range),
            float(fill_level), interpolation, int(chunk), slots, images.shape[-1])
    if deferred:
        result = _deferred(*args, int(copies), histograms, index is None)
        return result if index is None else (*result, index)
    if copies != 1:
        raise ValueError(f"`copies` other than 1 needs `deferred=True`, got copies={copies!r}.")
    return _program(*args)
