"""Point kernels beneath RandAugment, AutoAugment and TrivialAugment, exact with PIL on uint8, and the
conventions every PIL-exact op shares (`tfaug.ops.enhance`, `tfaug.ops.histogram`).

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
The colour enhancers (`color`, `contrast`, `brightness`, `sharpness`, `grayscale`) live in
`tfaug.ops.enhance`, `auto_contrast` and `equalize` in `tfaug.ops.histogram`.
"""

import numpy as np
import tensorflow as tf

from tfaug.ops._xla import fused
from tfaug.ops.dtypes import compute_dtype
from tfaug.ops.dtypes import from_float
from tfaug.ops.dtypes import to_float
from tfaug.validation import check_value_range

# --- shared helpers (also used by tfaug.ops.enhance and tfaug.ops.histogram) ------------------------------


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


def per_image(p):
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
    step = per_image(tf.bitwise.left_shift(1, 8 - tf.clip_by_value(bits, 0, 8)))
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
    return tf.cast(nearest_level(x, value_range), tf.float32) < per_image(threshold)


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
        added = x + per_image(tf.cast(tf.round(addition), tf.int32))
    else:
        added = x + per_image(tf.cast(addition, x.dtype)) * ((high - low) / 255.0)
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
