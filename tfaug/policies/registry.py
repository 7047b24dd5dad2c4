"""Every op a policy can run, one record each: the one place to add an op.

An op has one of five kinds, which say how the engine (`tfaug.policies.engine`) runs it on uint8 levels:

- `"identity"`: nothing.
- `"point"`: a lookup table of its argument alone, `table(grid, args)`: the op applied to a grid of all
  256 levels (`tfaug.policies.tables.level_grid`). An image's point ops compose into one table.
- `"statistic"`: a lookup table from statistics of the image, `table(levels, args)` on the image's
  current uint8 levels `[N, H, W, C]`, returning int32 `[N, C, 256]`.
- `"pixel"`: a kernel on the current levels of the images that chose it, `kernel(levels, args, centers,
  fill_level)`, run on those images only.
- `"geometric"`: a 3x3 matrix, `matrix(args, height, width)`, mapping output to input points
  (`tfaug.ops.geometry`). An image's geometric ops compose into one resampling; masks and boxes follow it.

`argument(scale, fraction, signed, height, width)` turns a magnitude into the op's argument: `scale` is a
`tfaug.policies.levels.Scale`, `fraction` the magnitude as a fraction of the scale's maximum (float32
`[...]`), `signed` that fraction times a random sign (used by `signed` ops). `rereads`: the kernel or
statistic reads each pixel several times, so its input is computed into a buffer first.

Adding an op: write its kernel in `tfaug.ops` (a batched function of per-image parameters, tested
against PIL), then add one `Op(...)` below. See `docs/adding_an_op.md`.
"""

import dataclasses
from collections.abc import Callable

import tensorflow as tf

from tfaug.ops import geometry
from tfaug.ops.boxes import centered_boxes
from tfaug.ops.enhance import color
from tfaug.ops.enhance import sharpness
from tfaug.ops.erasing import fill_boxes
from tfaug.policies import tables

KINDS = ("identity", "point", "statistic", "pixel", "geometric")


def no_argument(scale, fraction, signed, height, width):
    return tf.zeros_like(fraction)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Op:
    """One op's facts (see the module docstring)."""

    name: str
    kind: str
    signed: bool = False
    argument: Callable = no_argument
    table: Callable | None = None
    kernel: Callable | None = None
    matrix: Callable | None = None
    rereads: bool = False

    def __post_init__(self):
        needs = {"point": "table", "statistic": "table", "pixel": "kernel", "geometric": "matrix"}.get(self.kind)
        if self.kind not in KINDS or (needs and getattr(self, needs) is None):
            raise ValueError(f"op {self.name!r}: kind {self.kind!r} must be one of {KINDS} and have its {needs}.")


# -- arguments ------------------------------------------------------------------------------------------


def enhance(scale, fraction, signed, height, width):
    """The enhance factor: 1 is the identity."""
    return 1.0 + scale.enhance * signed


def rotate_degrees(scale, fraction, signed, height, width):
    return scale.rotate * signed


def shear(scale, fraction, signed, height, width):
    return scale.shear * signed


def translate_pixels(side):
    def argument(scale, fraction, signed, height, width):
        pixels = tf.cast(width if side == "width" else height, tf.float32) if scale.translate_relative else 1.0
        return scale.translate * signed * pixels

    return argument


def posterize_bits(scale, fraction, signed, height, width):
    reduce = tf.round if scale.posterize_round else tf.floor
    return 8.0 - reduce(fraction * scale.posterize_bits)


def posterize_increasing_bits(scale, fraction, signed, height, width):
    """timm's `PosterizeIncreasing`: `posterize_bits` bits kept at magnitude 0, down to none at the maximum."""
    reduce = tf.round if scale.posterize_round else tf.floor
    return scale.posterize_bits - reduce(fraction * scale.posterize_bits)


def solarize_threshold(scale, fraction, signed, height, width):
    if scale.solarize_timm:
        return 256.0 - tf.floor(256.0 * fraction)
    # A float threshold t inverting x >= t is, on integer levels, keeping x < ceil(t).
    return tf.math.ceil(255.0 * (1.0 - fraction) - 1e-4)


def solarize_add_amount(scale, fraction, signed, height, width):
    return tf.floor(110.0 * fraction)


def cutout_side(scale, fraction, signed, height, width):
    return tf.round(0.4 * fraction * tf.cast(tf.minimum(height, width), tf.float32))


# -- pixel kernels --------------------------------------------------------------------------------------


def cutout_kernel(levels, side, center, fill_level):
    shape = tf.shape(levels)
    side = tf.cast(side, tf.int32)
    boxes = centered_boxes(center[:, 0], center[:, 1], side, side, shape[1], shape[2])
    fill = tf.fill(tf.stack([shape[0], 1, shape[3]]), fill_level)
    return fill_boxes(levels, boxes[:, None, :], fill)


def color_kernel(levels, factor, center, fill_level):
    return color(levels, factor)


def sharpness_kernel(levels, factor, center, fill_level):
    return sharpness(levels, factor)


def sizeless(matrix):
    """A `matrix(args, height, width)` from a matrix function of the argument alone (shear, translate)."""
    return lambda args, height, width: matrix(args)


# -- the registry ----------------------------------------------------------------------------------------

# One line an op (a table: the formatter leaves it as written).
# fmt: off
OPS = {
    op.name: op
    for op in (
        Op(name="identity", kind="identity"),
        Op(name="auto_contrast", kind="statistic", table=tables.auto_contrast_table),
        Op(name="equalize", kind="statistic", table=tables.equalize_table),
        Op(name="invert", kind="point", table=tables.invert_table),
        Op(name="posterize", kind="point", argument=posterize_bits, table=tables.posterize_table),
        Op(name="posterize_increasing", kind="point", argument=posterize_increasing_bits, table=tables.posterize_table),
        Op(name="solarize", kind="point", argument=solarize_threshold, table=tables.solarize_table),
        Op(name="solarize_add", kind="point", argument=solarize_add_amount, table=tables.solarize_add_table),
        Op(name="color", kind="pixel", signed=True, argument=enhance, kernel=color_kernel, rereads=True),
        Op(name="contrast", kind="statistic", signed=True, argument=enhance, table=tables.contrast_table, rereads=True),
        Op(name="brightness", kind="point", signed=True, argument=enhance, table=tables.brightness_table),
        Op(name="sharpness", kind="pixel", signed=True, argument=enhance, kernel=sharpness_kernel, rereads=True),
        Op(name="rotate", kind="geometric", signed=True, argument=rotate_degrees, matrix=geometry.rotation_matrix),
        Op(name="shear_x", kind="geometric", signed=True, argument=shear, matrix=sizeless(geometry.shear_x_matrix)),
        Op(name="shear_y", kind="geometric", signed=True, argument=shear, matrix=sizeless(geometry.shear_y_matrix)),
        Op(name="translate_x", kind="geometric", signed=True, argument=translate_pixels("width"),
           matrix=sizeless(geometry.translate_x_matrix)),
        Op(name="translate_y", kind="geometric", signed=True, argument=translate_pixels("height"),
           matrix=sizeless(geometry.translate_y_matrix)),
        Op(name="cutout", kind="pixel", argument=cutout_side, kernel=cutout_kernel),
    )
}
# fmt: on


def of_kind(kind, ops=None):
    """The names in `ops` (default: every op) of kind `kind`, in their order."""
    return tuple(name for name in (OPS if ops is None else ops) if OPS[name].kind == kind)
