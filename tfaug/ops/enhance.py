"""Colour kernels beneath the automatic policies, as `PIL.ImageEnhance` (and `Image.convert("L")`) on uint8.

`grayscale`, `blend` (the enhancers' interpolation against a degenerate image), `brightness`, `color`,
`contrast` and `sharpness`: batched, per-image factors, no randomness. Value conventions, the uint8 path
and the float path are those of `tfaug.ops.point`. The working-value helpers `gray_values`, `mean_gray` and
`blend_values` are shared with `tfaug.ops.jitter`, which composes them per image (ColorJitter).
"""

import tensorflow as tf

from tfaug.ops._xla import fused
from tfaug.ops.dtypes import to_float
from tfaug.ops.point import bounds
from tfaug.ops.point import check_images
from tfaug.ops.point import finish
from tfaug.ops.point import nearest_level
from tfaug.ops.point import parameter
from tfaug.ops.point import per_image
from tfaug.ops.point import working
from tfaug.validation import check_value_range

# Pillow's ITU-R 601-2 luma weights for "RGB" -> "L", in units of 2**-16 (they sum to 2**16).
GRAY_WEIGHTS = (19595, 38470, 7471)


def gray_values(x):
    """PIL "L" of RGB `[B, H, W, 3]` -> `[B, H, W, 1]`: rounded integer luma on levels, exact on floats."""
    r, g, b = x[..., 0:1], x[..., 1:2], x[..., 2:3]
    wr, wg, wb = GRAY_WEIGHTS
    if x.dtype.is_integer:
        return tf.bitwise.right_shift(r * wr + g * wg + b * wb + 0x8000, 16)
    return r * (wr / 65536.0) + g * (wg / 65536.0) + b * (wb / 65536.0)


@fused
def _grayscale(images, value_range, num_channels):
    gray = gray_values(working(images, value_range))
    return finish(tf.repeat(gray, num_channels, axis=-1), images)


def grayscale(images, value_range=(0, 255), num_channels=3):
    """PIL's `Image.convert("L")`: `(R*19595 + G*38470 + B*7471 + 0x8000) >> 16` (unrounded on floats).

    Args:
        images: RGB `[B, H, W, 3]`, any dtype, values in `value_range`.
        value_range: `(low, high)`, default `(0, 255)`.
        num_channels: 3 (default: the gray repeated, the input's shape, as PIL's "L" -> "RGB") or 1.

    Raises:
        ValueError: if `images` does not have 3 channels, or `num_channels` is not 1 or 3.
    """
    images = check_images(images, "grayscale", channels=(3,))
    if num_channels not in (1, 3) or isinstance(num_channels, bool):
        raise ValueError(f"`num_channels` must be 1 or 3, got {num_channels!r}.")
    return _grayscale(images, check_value_range(value_range), int(num_channels))


# --- ImageEnhance: blend with a degenerate image ----------------------------------------------------------


def blend_values(x, degenerate, factor, value_range):
    """`degenerate + factor * (x - degenerate)`, as PIL's `Image.blend` computes it on levels.

    Levels: PIL evaluates in float32 with two roundings (product, then sum), clamps to [0, 255] when the
    factor is outside [0, 1] (a no-op inside it) and truncates. XLA contracts a float32 multiply-add into a
    fused multiply-add (one rounding: 28000 of 40 million test cases then differ), so the product, exact in
    float64 (24 x 9 bits), is rounded to float32 by an explicit cast and only the sum is a float32 op.
    Floats: `x + (1 - factor) * (degenerate - x)`, exact at factor 1 and wherever `degenerate == x` (fused
    multiply-add or not), no truncation, clamped to the value range when the factor is outside [0, 1].
    """
    if x.dtype.is_integer:
        d = tf.cast(x - degenerate, tf.float64)
        product = tf.cast(per_image(tf.cast(factor, tf.float64)) * d, tf.float32)
        total = tf.cast(degenerate, tf.float32) + product
        return tf.cast(tf.clip_by_value(total, 0.0, 255.0), tf.int32)
    low, high = value_range
    f = per_image(tf.cast(factor, x.dtype))
    total = x + (1.0 - f) * (degenerate - x)
    return tf.where((f < 0.0) | (f > 1.0), tf.clip_by_value(total, low, high), total)


@fused
def _blend(images, degenerate, factor, value_range):
    x = working(images, value_range)
    if x.dtype.is_integer:
        deg = nearest_level(to_float(degenerate), (0.0, 255.0))
    else:
        deg = tf.cast(degenerate, x.dtype)
    return finish(blend_values(x, tf.broadcast_to(deg, tf.shape(x)), factor, value_range), images)


def blend(images, degenerate, factor, value_range=(0, 255)):
    """`degenerate + factor * (images - degenerate)`: PIL's `Image.blend(degenerate, images, factor)`.

    The core of `PIL.ImageEnhance`, exported as `tfaug.ops.blend_degenerate` (`tfaug.ops.blend` mixes a
    batch with itself). Factor 1 returns `images`, 0 `degenerate`, above 1 extrapolates away from it. On
    uint8 the arithmetic is PIL's (float32, two roundings, truncation); on floats it is continuous, so,
    rounded to levels, it is within one level of the uint8 result. The enhancers' degenerate images are
    rounded by PIL and not on floats; that adds at most `0.5 * |1 - factor|` levels (the float result,
    rounded, stays within one level for factors in [0, 2]).

    Args:
        images: `[B, H, W, C]`, any dtype, values in `value_range`.
        degenerate: broadcastable to `images`, in the same value range (rounded to levels on uint8).
        factor: number per image, any finite value; results are clamped to the value range when it is
            outside [0, 1], as PIL does. Tensor values are used as they are.
        value_range: `(low, high)`, default `(0, 255)`.
    """
    images = check_images(images, "blend")
    factor = parameter("factor", factor, images)
    return _blend(images, tf.convert_to_tensor(degenerate), factor, check_value_range(value_range))


def mean_gray(gray):
    """`[B, 1, 1, 1]` mean of each gray image `[B, H, W, 1]`: `int(mean + 0.5)` on levels, as PIL's Contrast."""
    if gray.dtype.is_integer:
        # PIL: int(mean + 0.5) of the "L" image in float64; this exact integer form equals it below 10**13
        # pixels (the float64 error cannot reach the distance from a half-integer, 1 / (2 * count)).
        total = tf.reduce_sum(tf.cast(gray, tf.int64), axis=[1, 2, 3], keepdims=True)
        count = tf.cast(tf.shape(gray)[1], tf.int64) * tf.cast(tf.shape(gray)[2], tf.int64)
        return tf.cast((2 * total + count) // (2 * count), tf.int32)
    return tf.reduce_mean(gray, axis=[1, 2, 3], keepdims=True)


@fused
def _brightness(images, factor, value_range):
    x = working(images, value_range)
    black = tf.fill(tf.shape(x), tf.cast(bounds(x, value_range)[0], x.dtype))
    return finish(blend_values(x, black, factor, value_range), images)


@fused
def _color(images, factor, value_range):
    x = working(images, value_range)
    return finish(blend_values(x, tf.repeat(gray_values(x), 3, axis=-1), factor, value_range), images)


@fused
def _contrast(images, factor, value_range):
    x = working(images, value_range)
    gray = gray_values(x) if images.shape[-1] == 3 else x
    return finish(blend_values(x, tf.broadcast_to(mean_gray(gray), tf.shape(x)), factor, value_range), images)


@fused
def _sharpness(images, factor, value_range):
    x = working(images, value_range)
    padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
    rows = padded[:, :-2] + padded[:, 1:-1] + padded[:, 2:]
    box = rows[:, :, :-2] + rows[:, :, 1:-1] + rows[:, :, 2:]
    # SMOOTH: neighbours weigh 1, the centre 5 (the 3x3 box holds it once), divisor 13. Pillow's integer
    # filter rounds half up: checked against it for every (neighbour sum, centre) pair.
    weighted = box + 4 * x
    smooth = (weighted + 6) // 13 if x.dtype.is_integer else weighted / 13.0
    shape = tf.shape(x)
    row = tf.range(shape[1])[None, :, None, None]
    col = tf.range(shape[2])[None, None, :, None]
    interior = (row >= 1) & (row < shape[1] - 1) & (col >= 1) & (col < shape[2] - 1)
    return finish(blend_values(x, tf.where(interior, smooth, x), factor, value_range), images)


def brightness(images, factor, value_range=(0, 255)):
    """`PIL.ImageEnhance.Brightness`: blend with black (level 0, `low`); see `blend` for the arithmetic.

    Args:
        images: `[B, H, W, C]`, any dtype, values in `value_range`.
        factor: number per image (1 = unchanged, 0 = black), `[B]` or a scalar; any finite value.
        value_range: `(low, high)`, default `(0, 255)`.
    """
    images = check_images(images, "brightness")
    return _brightness(images, parameter("factor", factor, images), check_value_range(value_range))


def color(images, factor, value_range=(0, 255)):
    """`PIL.ImageEnhance.Color`: blend with the image's gray (`grayscale`); see `blend` for the arithmetic.

    Args:
        images: RGB `[B, H, W, 3]`, or gray `[B, H, W, 1]` (returned unchanged: its own gray, as PIL's
            mode "L"); any dtype, values in `value_range`.
        factor: number per image (1 = unchanged, 0 = gray), `[B]` or a scalar; any finite value.
        value_range: `(low, high)`, default `(0, 255)`.

    Raises:
        ValueError: if `images` has neither 3 nor 1 channels.
    """
    images = check_images(images, "color", channels=(3, 1))
    factor = parameter("factor", factor, images)
    if images.shape[-1] == 1:
        return images
    return _color(images, factor, check_value_range(value_range))


def contrast(images, factor, value_range=(0, 255)):
    """`PIL.ImageEnhance.Contrast`: blend with the image's mean gray, `int(mean(gray) + 0.5)` on uint8.

    One mean per image, shared by its channels. See `blend` for the arithmetic.

    Args:
        images: RGB `[B, H, W, 3]`, or `[B, H, W, 1]` (its own gray, PIL mode "L"); values in `value_range`.
        factor: number per image (1 = unchanged, 0 = flat mean gray), `[B]` or a scalar; any finite value.
        value_range: `(low, high)`, default `(0, 255)`.

    Raises:
        ValueError: if `images` has neither 3 nor 1 channels.
    """
    images = check_images(images, "contrast", channels=(3, 1))
    return _contrast(images, parameter("factor", factor, images), check_value_range(value_range))


def sharpness(images, factor, value_range=(0, 255)):
    """`PIL.ImageEnhance.Sharpness`: blend with the SMOOTH filter `[[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13`.

    The filter rounds half up on uint8. Its border rows and columns are the input's, so borders keep their
    values and images smaller than 3x3 are returned unchanged, as in PIL.

    Args:
        images: `[B, H, W, C]`, any dtype, values in `value_range`.
        factor: number per image (1 = unchanged, 0 = smoothed, 2 = sharpened), `[B]` or a scalar.
        value_range: `(low, high)`, default `(0, 255)`.
    """
    images = check_images(images, "sharpness")
    return _sharpness(images, parameter("factor", factor, images), check_value_range(value_range))
