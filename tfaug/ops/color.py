"""Point and colour kernels beneath RandAugment, AutoAugment and TrivialAugment, exact with PIL on uint8.

Every op takes a batch `images` `[B, H, W, C]` and per-image parameters (a `[B]` tensor, or a Python
number or sequence, broadcast over the batch); none draws random numbers. Parameters are given in uint8
levels (0..255) whatever the images' `value_range`, so one policy table serves every input.

Two paths, chosen statically from the dtype and `value_range`:

* Integer images with `value_range=(0, 255)` (uint8 in practice) follow PIL's integer arithmetic, roundings
  and truncations included, and match `PIL.ImageOps` / `PIL.ImageEnhance` / `Image.convert("L")` bit for
  bit.
* Every other input (floats, or integers in another range) takes the op's continuous formulation, in the
  images' own units (`low + level * (high - low) / 255` is level `level`): no truncation, no intermediate
  rounding, and factor 1 returns the input exactly. On images that hold exact levels the result, rounded
  to levels, is within one level of the uint8 path. Ops that quantise by nature (`posterize`, `equalize`)
  round each pixel to the nearest level first; `solarize` compares the nearest level with its threshold,
  so float noise cannot flip a pixel across it.

Output dtype = input dtype; integer output is rounded half-to-even and clipped (`tfaug.ops.from_float`).
`auto_contrast` and `equalize` live in `tfaug.ops.histogram`.
"""

import numpy as np
import tensorflow as tf

from tfaug._validation import check_value_range
from tfaug.ops._xla import fused
from tfaug.ops.dtypes import compute_dtype
from tfaug.ops.dtypes import from_float
from tfaug.ops.dtypes import to_float

# Pillow's ITU-R 601-2 luma weights for "RGB" -> "L", in units of 2**-16 (they sum to 2**16).
GRAY_WEIGHTS = (19595, 38470, 7471)


# --- shared helpers (also used by tfaug.ops.histogram) --------------------------------------------------


def check_images(images, op, channels=None):
    """`images` as a rank-4 tensor; `channels`: the allowed (static) channel counts, for colour ops."""
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4:
        raise ValueError(f"`{op}` expects `images` of shape [batch, height, width, channels], got {images.shape}.")
    if channels is not None and images.shape[-1] not in channels:
        expected = " or ".join(f"{c} ({'RGB' if c == 3 else 'gray'})" for c in channels)
        raise ValueError(
            f"`{op}` needs `images` with {expected} channels, got {images.shape[-1]} channels (shape {images.shape})."
        )
    return images


def parameter(name, value, images, low=None, high=None, integer=False):
    """A per-image parameter as a `[B]` tensor; Python numbers and sequences are range-checked here.

    Tensors are not checked (that would need their values); each op documents what it does with them.
    """
    if not (tf.is_tensor(value) or isinstance(value, tf.Variable)):
        array = np.asarray(value)
        ok = array.dtype != bool and np.issubdtype(array.dtype, np.number) and array.ndim <= 1
        ok = ok and bool(np.all(np.isfinite(array)))
        if ok and low is not None:
            ok = bool(np.all((array >= low) & (array <= high)))
        if ok and integer:
            ok = bool(np.all(array == np.round(array)))
        if not ok:
            form = "an int" if integer else "a finite number"
            bounds = f" in [{low}, {high}]" if low is not None else ""
            raise ValueError(f"`{name}` must be {form}{bounds} (or a [batch] sequence of them), got {value!r}.")
        if array.ndim == 1 and images.shape[0] is not None and array.shape[0] not in (1, images.shape[0]):
            raise ValueError(f"`{name}` must have one value per image ({images.shape[0]}), got {array.shape[0]}.")
    value = tf.cast(value, tf.int32 if integer else tf.float32)
    return tf.broadcast_to(value, tf.shape(images)[:1])


def is_exact(dtype, value_range):
    """The PIL-exact path: integer images holding uint8 levels."""
    return tf.as_dtype(dtype).is_integer and tuple(value_range) == (0.0, 255.0)


def working(images, value_range):
    """The values an op computes on: int32 levels in [0, 255] on the exact path, else floats in place."""
    if is_exact(images.dtype, value_range):
        return tf.clip_by_value(tf.cast(images, tf.int32), 0, 255)
    return to_float(images)


def bounds(x, value_range):
    """`(low, high)` of the working values: levels (0, 255) for ints, else the value range."""
    return (0, 255) if x.dtype.is_integer else value_range


def nearest_level(x, value_range):
    """int32 level in [0, 255] of each working value (float pixels are rounded to the nearest level)."""
    if x.dtype.is_integer:
        return x
    low, high = value_range
    return tf.cast(tf.round(tf.clip_by_value((x - low) * (255.0 / (high - low)), 0.0, 255.0)), tf.int32)


def from_level(levels, x, value_range):
    """int32 levels back to working values (the inverse of `nearest_level` on levels)."""
    if x.dtype.is_integer:
        return levels
    low, high = value_range
    return tf.cast(levels, x.dtype) * ((high - low) / 255.0) + low


def finish(y, images):
    """Working values back to the images' dtype (integers rounded half-to-even and clipped)."""
    return from_float(tf.cast(y, compute_dtype(images.dtype)), images.dtype)


def _per_image(p):
    return p[:, None, None, None]


# --- point ops ---------------------------------------------------------------------------------------------


def identity(images, value_range=(0, 255)):
    """Returns `images` unchanged (the policies' no-op branch); `value_range` is accepted for uniformity."""
    check_value_range(value_range)
    return check_images(images, "identity")


@fused
def _invert(images, value_range):
    x = working(images, value_range)
    low, high = bounds(x, value_range)
    return finish((low + high) - x, images)


def invert(images, value_range=(0, 255)):
    """`255 - x` (`PIL.ImageOps.invert`); `low + high - x` in other value ranges.

    Args:
        images: `[B, H, W, C]`, any dtype, values in `value_range`.
        value_range: `(low, high)` meaning of the pixel values, default `(0, 255)`.

    Returns:
        Same shape and dtype.
    """
    return _invert(check_images(images, "invert"), check_value_range(value_range))


@fused
def _posterize(images, bits, value_range):
    x = working(images, value_range)
    step = _per_image(tf.bitwise.left_shift(1, 8 - tf.clip_by_value(bits, 0, 8)))
    return finish(from_level((nearest_level(x, value_range) // step) * step, x, value_range), images)


def posterize(images, bits, value_range=(0, 255)):
    """Keeps the top `bits` bits of each level: `x & ~(2**(8 - bits) - 1)` (`PIL.ImageOps.posterize`).

    `bits=0` keeps no bit: every pixel becomes level 0 (`low`), the formula's natural extension (and
    torchvision's); Pillow 13 raises for it. Float pixels are first rounded to the nearest level.

    Args:
        images: `[B, H, W, C]`, any dtype, values in `value_range`.
        bits: int per image in [0, 8], `[B]` or a scalar. Python values outside [0, 8] raise; tensor values
            are cast to int32 and clipped to [0, 8].
        value_range: `(low, high)`, default `(0, 255)`.

    Example:
        >>> posterize(tf.fill([1, 2, 2, 3], tf.constant(200, tf.uint8)), 2)[0, 0, 0].numpy()
        array([192, 192, 192], dtype=uint8)
    """
    images = check_images(images, "posterize")
    bits = parameter("bits", bits, images, 0, 8, integer=True)
    return _posterize(images, bits, check_value_range(value_range))


def _below(x, threshold, value_range):
    return tf.cast(nearest_level(x, value_range), tf.float32) < _per_image(threshold)


@fused
def _solarize(images, threshold, value_range):
    x = working(images, value_range)
    low, high = bounds(x, value_range)
    return finish(tf.where(_below(x, threshold, value_range), x, (low + high) - x), images)


def solarize(images, threshold, value_range=(0, 255)):
    """`x if x < threshold else 255 - x` (`PIL.ImageOps.solarize`); threshold 256 is the identity.

    Float pixels are compared at their nearest level, then inverted (`low + high - x`) without rounding.

    Args:
        images: `[B, H, W, C]`, any dtype, values in `value_range`.
        threshold: level per image in [0, 256]. Python values outside raise; tensor values are used as they
            are (<= 0 inverts every pixel, > 255 none).
        value_range: `(low, high)`, default `(0, 255)`.
    """
    images = check_images(images, "solarize")
    threshold = parameter("threshold", threshold, images, 0, 256)
    return _solarize(images, threshold, check_value_range(value_range))


@fused
def _solarize_add(images, addition, threshold, value_range):
    x = working(images, value_range)
    low, high = bounds(x, value_range)
    if x.dtype.is_integer:
        added = x + _per_image(tf.cast(tf.round(addition), tf.int32))
    else:
        added = x + _per_image(tf.cast(addition, x.dtype)) * ((high - low) / 255.0)
    return finish(tf.where(_below(x, threshold, value_range), tf.clip_by_value(added, low, high), x), images)


def solarize_add(images, addition, threshold=128, value_range=(0, 255)):
    """`min(255, x + addition) if x < threshold else x` (AutoAugment's SolarizeAdd; not in PIL).

    Sums are clipped to [0, 255] (negative additions darken). Threshold as in `solarize`.

    Args:
        images: `[B, H, W, C]`, any dtype, values in `value_range`.
        addition: levels per image in [-255, 255] (AutoAugment uses 0..110); rounded to an int on the uint8
            path. Python values outside raise; tensor values are used as they are (sums saturate).
        threshold: level per image in [0, 256], default 128.
        value_range: `(low, high)`, default `(0, 255)`.
    """
    images = check_images(images, "solarize_add")
    addition = parameter("addition", addition, images, -255, 255)
    threshold = parameter("threshold", threshold, images, 0, 256)
    return _solarize_add(images, addition, threshold, check_value_range(value_range))


def _gray(x):
    """PIL "L" of RGB `[B, H, W, 3]` -> `[B, H, W, 1]`: rounded integer luma on levels, exact on floats."""
    r, g, b = x[..., 0:1], x[..., 1:2], x[..., 2:3]
    wr, wg, wb = GRAY_WEIGHTS
    if x.dtype.is_integer:
        return tf.bitwise.right_shift(r * wr + g * wg + b * wb + 0x8000, 16)
    return r * (wr / 65536.0) + g * (wg / 65536.0) + b * (wb / 65536.0)


@fused
def _grayscale(images, value_range, num_channels):
    gray = _gray(working(images, value_range))
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


def _blend_values(x, degenerate, factor, value_range):
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
        product = tf.cast(_per_image(tf.cast(factor, tf.float64)) * d, tf.float32)
        total = tf.cast(degenerate, tf.float32) + product
        return tf.cast(tf.clip_by_value(total, 0.0, 255.0), tf.int32)
    low, high = value_range
    f = _per_image(tf.cast(factor, x.dtype))
    total = x + (1.0 - f) * (degenerate - x)
    return tf.where((f < 0.0) | (f > 1.0), tf.clip_by_value(total, low, high), total)


@fused
def _blend(images, degenerate, factor, value_range):
    x = working(images, value_range)
    if x.dtype.is_integer:
        deg = nearest_level(to_float(degenerate), (0.0, 255.0))
    else:
        deg = tf.cast(degenerate, x.dtype)
    return finish(_blend_values(x, tf.broadcast_to(deg, tf.shape(x)), factor, value_range), images)


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


@fused
def _brightness(images, factor, value_range):
    x = working(images, value_range)
    black = tf.fill(tf.shape(x), tf.cast(bounds(x, value_range)[0], x.dtype))
    return finish(_blend_values(x, black, factor, value_range), images)


@fused
def _color(images, factor, value_range):
    x = working(images, value_range)
    return finish(_blend_values(x, tf.repeat(_gray(x), 3, axis=-1), factor, value_range), images)


@fused
def _contrast(images, factor, value_range):
    x = working(images, value_range)
    gray = _gray(x) if images.shape[-1] == 3 else x
    if x.dtype.is_integer:
        # PIL: int(mean + 0.5) of the "L" image in float64; this exact integer form equals it below 10**13
        # pixels (the float64 error cannot reach the distance from a half-integer, 1 / (2 * count)).
        total = tf.reduce_sum(tf.cast(gray, tf.int64), axis=[1, 2, 3], keepdims=True)
        count = tf.cast(tf.shape(gray)[1], tf.int64) * tf.cast(tf.shape(gray)[2], tf.int64)
        mean = tf.cast((2 * total + count) // (2 * count), tf.int32)
    else:
        mean = tf.reduce_mean(gray, axis=[1, 2, 3], keepdims=True)
    return finish(_blend_values(x, tf.broadcast_to(mean, tf.shape(x)), factor, value_range), images)


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
    return finish(_blend_values(x, tf.where(interior, smooth, x), factor, value_range), images)


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
        images: RGB `[B, H, W, 3]`, any dtype, values in `value_range`.
        factor: number per image (1 = unchanged, 0 = gray), `[B]` or a scalar; any finite value.
        value_range: `(low, high)`, default `(0, 255)`.

    Raises:
        ValueError: if `images` does not have 3 channels.
    """
    images = check_images(images, "color", channels=(3,))
    return _color(images, parameter("factor", factor, images), check_value_range(value_range))


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
