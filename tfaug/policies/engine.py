"""Applies per-image op programs (RandAugment, AutoAugment, TrivialAugment, AugMix chains) to a batch.

A program gives every image one op per slot: `op_ids[i, s]` indexes the layer's op table (-1 = skip),
`arguments[i, s]` is that op's argument in its own units (`tfaug.policies.levels.argument`), and
`centers[i, s]` the box centre for `cutout`.

The program runs on uint8 levels, as PIL does: float images are rounded to the nearest of 256 levels of
their `value_range` on the way in and mapped back on the way out, so every input dtype gets the uint8
result (bit-exact with PIL for the point and colour ops). Per slot:

1. Point ops (invert, posterize, solarize, solarize_add, brightness, contrast, auto_contrast, equalize)
   are lookup tables: each image gets its op's `[C, 256]` table (the identity for other ops) and the
   whole batch goes through one gather. The statistics a table needs (gray mean, channel extremes,
   histograms) are computed only for the images that chose contrast / auto_contrast / equalize.
2. Colour, sharpness and cutout run only on the images that chose them
   (`tfaug.ops.selection.apply_to_selected`, fixed-size chunks, XLA-compatible).
3. Geometric ops of all slots compose into one matrix per image, resampled once at the end
   (`tfaug.ops.geometry.transform`), so an image that rotates and shears is interpolated once. This
   moves geometric ops after the image's pixel ops (the same result except in the fill area, which keeps
   `fill_value`).

No op is computed for every image and then discarded. Each step is its own XLA cluster: inside one
cluster XLA would fuse the small lookup-table computation into the per-pixel gather and redo it for
every pixel.
"""

import tensorflow as tf

from tfaug.ops import geometry
from tfaug.ops.boxes import centered_boxes
from tfaug.ops.color import blend
from tfaug.ops.color import brightness
from tfaug.ops.color import color
from tfaug.ops.color import grayscale
from tfaug.ops.color import invert
from tfaug.ops.color import posterize
from tfaug.ops.color import sharpness
from tfaug.ops.color import solarize
from tfaug.ops.color import solarize_add
from tfaug.ops.dtypes import from_float
from tfaug.ops.erasing import fill_boxes
from tfaug.ops.histogram import _apply_lut
from tfaug.ops.histogram import _auto_contrast_lut
from tfaug.ops.histogram import _equalize_lut
from tfaug.ops.histogram import _histogram
from tfaug.ops._xla import fused
from tfaug.ops.selection import apply_to_selected
from tfaug.policies.levels import GEOMETRIC

#: Ops whose result is a per-image lookup table of the (current) image.
POINT_OPS = ("invert", "posterize", "solarize", "solarize_add", "brightness", "contrast", "auto_contrast", "equalize")
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
    """Images per chunk of the selected-image loops: small, so rarely chosen ops waste little."""
    if batch_size is None:
        return 2
    return max(1, min(4, batch_size // 16))


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


def _gray_mean(levels):
    """PIL's `int(mean(gray) + 0.5)` per image, `[B]` int32 (exact integer form)."""
    gray = grayscale(levels, num_channels=1) if levels.shape[-1] == 3 else levels
    total = tf.reduce_sum(tf.cast(gray, tf.int64), axis=[1, 2, 3])
    count = tf.cast(tf.shape(gray)[1] * tf.shape(gray)[2], tf.int64)
    return tf.cast((2 * total + count) // (2 * count), tf.int32)


def _extremes(levels):
    """Per-channel `[B, 2, C]` min and max levels."""
    return tf.stack([tf.reduce_min(levels, axis=[1, 2]), tf.reduce_max(levels, axis=[1, 2])], axis=1)


@fused
def _lookup_tables(x, ops, ids, args, chunk):
    """`[B, C, 256]` int32 table per image for the point op it chose (identity otherwise)."""
    shape = tf.shape(x)
    batch, channels = shape[0], shape[3]
    # A [B, 1, 256, C] "image" holding every level: a pointwise op applied to it is its table.
    grid = tf.broadcast_to(tf.range(256, dtype=tf.int32)[None, None, :, None], tf.stack([batch, 1, 256, channels]))
    grid_u8 = tf.cast(grid, tf.uint8)
    tables = grid
    for k, name in enumerate(ops):
        if name not in POINT_OPS:
            continue
        chosen = tf.equal(ids, k)
        if name == "invert":
            table = tf.cast(invert(grid_u8), tf.int32)
        elif name == "posterize":
            table = tf.cast(posterize(grid_u8, tf.cast(args, tf.int32)), tf.int32)
        elif name == "solarize":
            table = tf.cast(solarize(grid_u8, args), tf.int32)
        elif name == "solarize_add":
            table = tf.cast(solarize_add(grid_u8, args, 128), tf.int32)
        elif name == "brightness":
            table = tf.cast(brightness(grid_u8, args), tf.int32)
        elif name == "contrast":
            mean = apply_to_selected(_gray_mean, chosen, (x,), tf.zeros([batch], tf.int32), chunk)
            degenerate = tf.cast(tf.broadcast_to(mean[:, None, None, None], tf.shape(grid)), tf.uint8)
            table = tf.cast(blend(grid_u8, degenerate, args), tf.int32)
        elif name == "auto_contrast":
            zeros = tf.zeros(tf.stack([batch, 2, channels]), x.dtype)
            lo_hi = tf.cast(apply_to_selected(_extremes, chosen, (x,), zeros, chunk), tf.int32)
            table = tf.transpose(_auto_contrast_lut(lo_hi[:, 0], lo_hi[:, 1]), [0, 2, 1])[:, None]
        else:  # equalize
            counts = apply_to_selected(
                lambda xc: _histogram(tf.cast(xc, tf.int32)), chosen, (x,),
                tf.zeros(tf.stack([batch, channels, 256]), tf.int32), chunk,
            )
            table = tf.transpose(_equalize_lut(counts), [0, 2, 1])[:, None]
        tables = tf.where(chosen[:, None, None, None], table, tables)
    return tf.transpose(tables[:, 0], [0, 2, 1])


def _cutout(xc, side, center, fill_level):
    shape = tf.shape(xc)
    side = tf.cast(side, tf.int32)
    boxes = centered_boxes(center[:, 0], center[:, 1], side, side, shape[1], shape[2])
    fill = tf.fill(tf.stack([shape[0], 1, shape[3]]), fill_level)
    return fill_boxes(xc, boxes[:, None, :], fill)


@fused
def _apply_tables(x, tables):
    return tf.cast(_apply_lut(tables, tf.cast(x, tf.int32)), tf.uint8)


@fused
def _run_selected(x, chosen, args, center, name, fill_level, chunk):
    kernel = SELECTED_KERNELS[name]
    return apply_to_selected(lambda xc, ac, cc: kernel(xc, ac, cc, fill_level), chosen, (x, args, center), x, chunk)


SELECTED_KERNELS = {
    "color": lambda xc, a, c, fill: color(xc, a),
    "sharpness": lambda xc, a, c, fill: sharpness(xc, a),
    "cutout": _cutout,
}


def apply_program(images, op_ids, arguments, centers, ops, value_range, fill_level, interpolation, chunk):
    """Runs a program (see module docstring) on `images` `[B, H, W, C]`; returns the same dtype.

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
    """
    x = to_uint8_levels(images, value_range)
    shape = tf.shape(x)
    height, width = shape[1], shape[2]
    has_point = any(name in POINT_OPS for name in ops)
    matrix = None
    for s in range(op_ids.shape[1]):
        ids, args, center = op_ids[:, s], arguments[:, s], centers[:, s]
        if has_point:
            x = _apply_tables(x, _lookup_tables(x, ops, ids, args, chunk))
        slot_matrix = None
        for k, name in enumerate(ops):
            chosen = tf.equal(ids, k)
            if name in GEOMETRIC:
                base = geometry.identity_matrix(shape[0]) if slot_matrix is None else slot_matrix
                slot_matrix = tf.where(chosen[:, None, None], MATRICES[name](args, height, width), base)
            elif name in SELECTED_KERNELS:
                x = _run_selected(x, chosen, args, center, name, float(fill_level), chunk)
        if slot_matrix is not None:
            matrix = slot_matrix if matrix is None else geometry.compose(matrix, slot_matrix)
    if matrix is not None:
        x = geometry.transform(x, matrix, interpolation=interpolation, fill_value=float(fill_level))
    return from_uint8_levels(x, images, value_range)
