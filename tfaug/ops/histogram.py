"""Histogram kernels: `auto_contrast` and `equalize`, exact with `PIL.ImageOps` on uint8.

Both build a per-image, per-channel lookup table `[B, C, 256]` and apply it with one batched `tf.gather`;
histograms are one `unsorted_segment_sum` over `B * C * 256` segments, so the ops vectorise over the batch
and compile under XLA. Conventions (value ranges, the uint8 path) are those of `tfaug.ops.point`.
"""

import tensorflow as tf

from tfaug.ops._xla import fused
from tfaug.ops.point import check_images
from tfaug.ops.point import finish
from tfaug.ops.point import from_level
from tfaug.ops.point import nearest_level
from tfaug.ops.point import working
from tfaug.validation import check_value_range


def histogram_counts(levels):
    """Counts `[B, C, 256]` (int32) of int32 levels `[B, H, W, C]` in [0, 255]."""
    shape = tf.shape(levels)
    batch = tf.range(shape[0])[:, None, None, None]
    channel = tf.range(shape[3])[None, None, None, :]
    segments = (batch * shape[3] + channel) * 256 + levels
    counts = tf.math.unsorted_segment_sum(tf.ones_like(levels), segments, shape[0] * shape[3] * 256)
    return tf.reshape(counts, [shape[0], shape[3], 256])


def apply_lut(lut, levels, dtype=tf.int32):
    """`lut[b, c, levels[b, h, w, c]]` as `dtype`, for int32 `lut` `[B, C, 256]` and int levels `[B, H, W, C]`.

    One gather from the flattened table (`dtype` uint8 halves the time of an int32 table on CPU).
    """
    shape = tf.shape(levels)
    rows = tf.reshape(tf.range(shape[0]), [-1, 1, 1, 1]) * shape[3] + tf.range(shape[3])
    index = rows * 256 + tf.cast(levels, tf.int32)
    return tf.gather(tf.cast(tf.reshape(lut, [-1]), dtype), index)


def auto_contrast_lut(lo, hi):
    """PIL's LUT `clip(int(i * scale + offset), 0, 255)`, `scale = 255 / (hi - lo)`, `offset = -lo * scale`.

    PIL evaluates this in Python float64, where `i * scale + offset` truncates to one level less than the
    exact `255 * (i - lo) / (hi - lo)` in 12094 of the 8.4 million (lo, hi, i) cases. XLA would contract the
    multiply-add into a fused multiply-add (one rounding, 18733 cases differ), so no float is multiplied
    here: scale = S * 2**-e with a 53-bit integer S (rounded to nearest even in int64 arithmetic), the
    products `i * S` and `lo * S` are exact 61-bit integers, and converting each to float64 rounds it as
    the float64 product rounds (the power of two `2**-e` changes no rounding). The one float64 subtraction
    rounds as PIL's addition does, and the truncation is a shift by `e` of the integer-valued difference.
    `lo`, `hi`: int32 `[...]`; returns int32 `[..., 256]`, the identity where `hi <= lo`.
    """
    lo = tf.cast(lo, tf.int64)[..., None]
    hi = tf.cast(hi, tf.int64)[..., None]
    n = tf.maximum(hi - lo, 1)
    # scale = RN(255 / n) = S * 2**-e with 2**52 <= S <= 2**53; 2**j <= 255 / n < 2**(j + 1).
    j = tf.add_n([tf.cast(n * (1 << k) <= 255, tf.int64) for k in range(1, 8)])
    e = 52 - j
    numerator = tf.bitwise.left_shift(tf.constant(255, tf.int64), e)
    quotient = numerator // n
    twice_rest = 2 * (numerator - quotient * n)
    odd = tf.bitwise.bitwise_and(quotient, 1) == 1
    scale = quotient + tf.cast((twice_rest > n) | ((twice_rest == n) & odd), tf.int64)
    i = tf.range(256, dtype=tf.int64)
    # RN(i * scale) - RN(lo * scale), rounded: `difference * 2**-e` is PIL's `i * scale + offset`.
    difference = tf.cast(i * scale, tf.float64) - tf.cast(lo * scale, tf.float64)
    value = tf.where(difference > 0, tf.bitwise.right_shift(tf.cast(difference, tf.int64), e), 0)
    lut = tf.cast(tf.clip_by_value(value, 0, 255), tf.int32)
    return tf.where(hi > lo, lut, tf.range(256, dtype=tf.int32))


@fused
def _auto_contrast(images, value_range):
    x = working(images, value_range)
    lo = tf.reduce_min(x, axis=[1, 2])
    hi = tf.reduce_max(x, axis=[1, 2])
    if x.dtype.is_integer:
        return finish(apply_lut(auto_contrast_lut(lo, hi), x), images)
    low, high = value_range
    lo, hi = lo[:, None, None, :], hi[:, None, None, :]
    stretched = (x - lo) * ((high - low) / tf.where(hi > lo, hi - lo, 1.0)) + low
    return finish(tf.where(hi > lo, stretched, x), images)


def auto_contrast(images, value_range=(0, 255)):
    """Stretches each channel so its darkest level becomes 0 and its brightest 255 (`PIL.ImageOps.autocontrast`).

    A constant channel (`hi <= lo`) is left unchanged. uint8: PIL's float64 LUT, bit for bit, quirks
    included (its rounding maps the brightest level to 254 for 4852 of the 32640 ranges, e.g. [0, 25]).
    Floats: the continuous stretch of `[min, max]` onto `value_range` per channel (no truncation), within
    one level of the uint8 result on images that hold exact levels. No cutoff or ignored value (PIL's
    defaults).

    Args:
        images: `[B, H, W, C]`, any dtype, values in `value_range`.
        value_range: `(low, high)`, default `(0, 255)`.

    Returns:
        Same shape and dtype.
    """
    return _auto_contrast(check_images(images, "auto_contrast"), check_value_range(value_range))


def equalize_lut(counts):
    """PIL's equalize LUT from `[..., 256]` counts: `(step // 2 + cumsum_before_i) // step`, clipped to 255.

    `step = (total - count of the last non-zero bin) // 255`; identity when step is 0 or at most one bin is
    non-zero. PIL's `Image.point` clips LUT entries above 255 (they occur: step 1 allows up to 509).
    """
    levels = tf.range(256, dtype=tf.int32)
    nonzero = counts > 0
    last = tf.reduce_max(tf.where(nonzero, levels, 0), axis=-1, keepdims=True)
    last_count = tf.gather(counts, last, batch_dims=counts.shape.rank - 1)
    step = (tf.reduce_sum(counts, axis=-1, keepdims=True) - last_count) // 255
    before = tf.cumsum(counts, axis=-1, exclusive=True)
    lut = tf.clip_by_value((step // 2 + before) // tf.maximum(step, 1), 0, 255)
    identity = (tf.reduce_sum(tf.cast(nonzero, tf.int32), axis=-1, keepdims=True) <= 1) | (step == 0)
    return tf.where(identity, levels, lut)


@fused
def _equalize(images, value_range):
    x = working(images, value_range)
    levels = nearest_level(x, value_range)
    equalized = apply_lut(equalize_lut(histogram_counts(levels)), levels)
    return finish(from_level(equalized, x, value_range), images)


def equalize(images, value_range=(0, 255)):
    """Histogram equalisation per channel, PIL's LUT (`PIL.ImageOps.equalize`), bit for bit on uint8.

    Float pixels are rounded to the nearest of 256 levels (the histogram's bins), so the output holds
    levels: within one level of the uint8 result on images that hold exact levels.

    Args:
        images: `[B, H, W, C]`, any dtype, values in `value_range`.
        value_range: `(low, high)`, default `(0, 255)`.

    Returns:
        Same shape and dtype.
    """
    return _equalize(check_images(images, "equalize"), check_value_range(value_range))
