"""Crop-and-resize of a batch: every image its own window, one output size, in one vectorised pass.

`resized_crop(images, windows, size)` equals cropping each image to its window and resizing the crop with
`tf.image.resize(crop, size, method, antialias)` (half-pixel centres; pixels outside the crop never
contribute), up to float rounding. The resampling is separable: for each output row and column, a few
source taps and their weights (a `[B, out, K]` index and weight table per axis), gathered and summed
along the height, then along the width. The weights are TensorFlow's `ScaleAndTranslate` ones: the
kernel evaluated at each tap's distance from the sampled point, divided by the kernel scale, taps
outside the crop dropped and the rest renormalised. `tf.image.crop_and_resize` samples with corners on
pixel centres (not half-pixel) and has no XLA kernel, hence this one.
"""

import math

import tensorflow as tf

from tfaug.ops._xla import fused
from tfaug.ops.dtypes import compute_dtype
from tfaug.ops.dtypes import from_float
from tfaug.ops.dtypes import to_float

INTERPOLATIONS = ("nearest", "bilinear", "bicubic")
#: Kernel radius in source pixels (before antialiasing widens it by the downscaling factor).
_RADIUS = {"bilinear": 1, "bicubic": 2}


def _triangle(x):
    return tf.maximum(1.0 - x, 0.0)


def _keys_cubic(x):
    """Keys' cubic with a = -0.5 (TensorFlow's and PIL's bicubic; PyTorch uses -0.75)."""
    near = (1.5 * x - 2.5) * x * x + 1.0
    far = ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0
    return tf.where(x <= 1.0, near, tf.where(x < 2.0, far, 0.0))


_KERNELS = {"bilinear": _triangle, "bicubic": _keys_cubic}


def _tap_count(interpolation, antialias, max_length, out_size):
    """Taps per output pixel: `2 * radius`, or with antialiasing enough for the largest crop (the whole side)."""
    radius = _RADIUS[interpolation]
    if not antialias:
        return 2 * radius
    if isinstance(max_length, int):
        return math.ceil(2 * radius * max(max_length / out_size, 1.0)) + 1
    ratio = tf.maximum(tf.cast(max_length, tf.float32) / float(out_size), 1.0)
    return tf.cast(tf.math.ceil(2.0 * radius * ratio), tf.int32) + 1


def _first_tap(lengths, out_size, radius, antialias):
    """int32 `[B, out]`: the first source pixel closer than the kernel's support to each sampled point.

    That is `floor(centre - 0.5 - support) + 1`, with pixel `s` at `s + 0.5`, the centre at `(2o + 1) L / 2n`
    and the support `radius * max(L / n, 1)` (antialiased) or `radius`, all over `2n`: computed in integers.
    In float32, XLA may contract the product and the difference into one fused multiply-add in one use of the
    centre and not in another, so that at a centre on a pixel boundary the indices and the weights would take
    different taps.
    """
    lengths = lengths[:, None]
    outputs = tf.range(out_size, dtype=tf.int32)[None, :]
    reach = tf.maximum(lengths, out_size) if antialias else out_size  # support * n
    numerator = (2 * outputs + 1) * lengths - out_size - 2 * radius * reach
    return tf.math.floordiv(numerator, 2 * out_size) + 1


def axis_taps(starts, lengths, out_size, interpolation, antialias=False, max_length=None):
    """Source taps of one axis: int32 `[B, out_size, K]` indices and float32 `[B, out_size, K]` weights.

    Output pixel `o` of image `b` samples the crop `[starts[b], starts[b] + lengths[b])` at
    `(o + 0.5) * lengths[b] / out_size` (half-pixel centres). Nearest takes the pixel under that point
    (`K = 1`, weight 1); bilinear and bicubic weigh the taps by their kernel, widened by the downscaling
    factor with `antialias`. `max_length` bounds `lengths` (it sets `K` under antialiasing).
    """
    starts = tf.cast(starts, tf.int32)[:, None, None]
    lengths = tf.cast(lengths, tf.int32)
    # Rounded once from float64: XLA turns a float32 division by a constant into a product with its rounded
    # reciprocal, which moves nearest's ties (40 / 50 * 2.5 falls below 2) away from tf.image.resize's.
    inv_scale = tf.cast(tf.cast(lengths, tf.float64)[:, None] / float(out_size), tf.float32)
    centre = (tf.range(out_size, dtype=tf.float32)[None, :] + 0.5) * inv_scale  # [B, out] crop coordinates
    last = (lengths - 1)[:, None, None]
    if interpolation == "nearest":
        index = tf.clip_by_value(tf.cast(tf.floor(centre), tf.int32)[..., None], 0, last)
        return starts + index, tf.ones(tf.shape(index), tf.float32)
    radius = _RADIUS[interpolation]
    kernel_scale = tf.maximum(inv_scale, 1.0) if antialias else tf.ones_like(inv_scale)
    taps = _tap_count(interpolation, antialias, max_length, out_size)
    source = _first_tap(lengths, out_size, radius, antialias)[..., None] + tf.range(taps)  # [B, out, K]
    inside = (source >= 0) & (source < lengths[:, None, None])
    distance = tf.abs(tf.cast(source, tf.float32) + 0.5 - centre[..., None]) / kernel_scale[..., None]
    weights = tf.where(inside, _KERNELS[interpolation](distance), 0.0)
    total = tf.reduce_sum(weights, axis=-1, keepdims=True)
    weights = weights / tf.where(tf.abs(total) > 1e-30, total, 1.0)
    index = tf.clip_by_value(source, 0, last)
    return starts + index, weights


def _resample(images, windows, size, interpolation, antialias):
    """The kernel on `[B, H, W, C]` images (see `resized_crop`)."""
    shape = tf.shape(images)
    height = images.shape[1] if images.shape[1] is not None else shape[1]
    width = images.shape[2] if images.shape[2] is not None else shape[2]
    top, left, crop_h, crop_w = tf.unstack(tf.cast(windows, tf.int32), 4, axis=-1)
    rows, row_weights = axis_taps(top, crop_h, size[0], interpolation, antialias, height)
    cols, col_weights = axis_taps(left, crop_w, size[1], interpolation, antialias, width)
    if interpolation == "nearest":  # no arithmetic on pixels: exact for every dtype
        out = tf.gather(images, rows[..., 0], axis=1, batch_dims=1)
        return tf.gather(out, cols[..., 0], axis=2, batch_dims=1)
    values = to_float(images)
    dtype = compute_dtype(images.dtype)
    out = tf.gather(values, rows, axis=1, batch_dims=1)  # [B, out_h, K, W, C]
    out = tf.reduce_sum(out * tf.cast(row_weights, dtype)[..., None, None], axis=2)
    out = tf.gather(out, cols, axis=2, batch_dims=1)  # [B, out_h, out_w, K, C]
    return tf.reduce_sum(out * tf.cast(col_weights, dtype)[:, None, :, :, None], axis=3)


@fused
def _resized_crop(images, windows, size, interpolation, antialias, value_range):
    out = _resample(images, windows, size, interpolation, antialias)
    if interpolation == "nearest":
        return out
    if value_range is not None:  # bicubic's negative lobes overshoot
        out = tf.clip_by_value(out, tf.cast(value_range[0], out.dtype), tf.cast(value_range[1], out.dtype))
    return from_float(out, images.dtype)


def resized_crop(images, windows, size, interpolation="bilinear", antialias=False, value_range=None):
    """Crops every image to its window and resizes the crops to one `size`, in one pass.

    Args:
        images: `[B, H, W, C]` or `[B, H, W]` (segmentation masks: use `"nearest"`), any dtype.
        windows: int `[B, 4]` `(top, left, height, width)` inside the images, sides at least 1.
        size: `(height, width)` of the output, Python ints.
        interpolation: `"nearest"` (exact, no arithmetic on pixels), `"bilinear"` or `"bicubic"` (Keys,
            a = -0.5; computed in float, integers rounded half-to-even).
        antialias: widen the bilinear / bicubic kernel by the downscaling factor where a crop shrinks (as
            `tf.image.resize(antialias=True)` and PIL); no effect on upscaling or on nearest.
        value_range: `(low, high)` to clip to (bicubic overshoots near edges); None clips only to the dtype.

    Returns:
        `[B, size[0], size[1], C]` (or `[B, size[0], size[1]]`), the dtype of `images`.

    Raises:
        ValueError: for an unknown `interpolation` or badly shaped `images` / `windows`.

    Example:
        >>> resized_crop(tf.zeros([2, 32, 48, 3]), [[0, 0, 32, 32], [8, 16, 16, 24]], (24, 24)).shape
        TensorShape([2, 24, 24, 3])
    """
    images = tf.convert_to_tensor(images)
    windows = tf.convert_to_tensor(windows)
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"`interpolation` must be one of {list(INTERPOLATIONS)}, got {interpolation!r}.")
    if images.shape.rank not in (3, 4):
        raise ValueError(f"`images` must be [B, H, W, C] (or [B, H, W] masks), got shape {images.shape.as_list()}.")
    if windows.shape.rank != 2 or windows.shape[-1] not in (None, 4):
        raise ValueError(f"`windows` must be [B, 4] (top, left, height, width), got shape {windows.shape.as_list()}.")
    size = (int(size[0]), int(size[1]))
    value_range = None if value_range is None else (float(value_range[0]), float(value_range[1]))
    if images.shape.rank == 3:
        return _resized_crop(images[..., None], windows, size, interpolation, antialias, value_range)[..., 0]
    return _resized_crop(images, windows, size, interpolation, antialias, value_range)
