"""Per-image filters the corruptions share: Gaussian blur, motion blur, clipped zoom and 2-D correlation.

Every filter takes a batch `[B, H, W, C]` (a single map `[B, H, W, 1]` too) with static H and W and one set
of parameters per image (`[B]` tensors). Kernels whose size depends on a parameter are padded with zero
weights to a static size (`max_sigma`, `max_width`, the kernels' own shape), so a batch of severities runs
as one op and compiles under XLA. Borders follow the libraries the corruptions were defined with:

- "nearest": the edge pixel repeated (scipy's 'nearest', OpenCV's BORDER_REPLICATE);
- "reflect": mirrored with the edge pixel repeated, `cba|abcd|dcb` (scipy's 'reflect', NumPy's 'symmetric');
- "reflect101": mirrored about the edge pixel, `dcb|abcd|cba` (OpenCV's default BORDER_REFLECT_101, scipy's
  'mirror').

Filters compute in float32: results match the float64 references to float32 rounding. Integer positions
(kernel radii, motion-blur offsets, zoom crops) are computed in float64 where the reference does, so they
round the same way.
"""

import numpy as np
import tensorflow as tf

BORDERS = ("nearest", "reflect", "reflect101")


def border_index(index, size, mode):
    """The source index of each (possibly out-of-range) `index` into an axis of `size` under border `mode`."""
    index = np.asarray(index)
    if mode == "nearest":
        return np.clip(index, 0, size - 1)
    if mode == "reflect":
        index = np.mod(index, 2 * size)
        return np.where(index < size, index, 2 * size - 1 - index)
    if mode == "reflect101":
        if size == 1:
            return np.zeros_like(index)
        period = 2 * size - 2
        index = np.mod(index, period)
        return np.where(index < size, index, period - index)
    raise ValueError(f"`mode` must be one of {BORDERS}, got {mode!r}.")


def pad(images, before, after, axis, mode):
    """`images` extended by `before` and `after` pixels along `axis` (1 rows, 2 columns) under border `mode`.

    A gather with a constant index, so any pad width works, wider than the image included."""
    size = images.shape[axis]
    index = border_index(np.arange(-before, size + after), size, mode)
    return tf.gather(images, tf.constant(index, tf.int32), axis=axis)


def _per_image(value, images):
    """`value` (a Python number or a `[B]` tensor) as a float32 `[B]` tensor."""
    return tf.broadcast_to(tf.cast(value, tf.float32), tf.shape(images)[:1])


def window(images, axis, begin, size):
    """`size` pixels of `images` from `begin` (an int32 scalar tensor) along `axis`; every other dimension
    keeps its static size (a plain `tf.slice` would lose it)."""
    starts = tf.one_hot(axis, 4, dtype=tf.int32) * begin
    sizes = [-1 if d is None else d for d in images.shape]
    sizes[axis] = size
    return tf.slice(images, starts, sizes)


def sum_over(count, term):
    """`sum(term(i) for i in range(count))`, `i` an int32 scalar tensor, in that order.

    Written as a `tf.while_loop`, so the graph holds one copy of `term`: compiling a filter with hundreds of
    taps stays quick. `term` must give tensors of one shape for every `i` (use `window` and `tf.gather`
    with `i`, not Python slicing)."""
    total = term(tf.constant(0))
    if count == 1:
        return total
    _, total = tf.while_loop(lambda i, _: i < count, lambda i, t: (i + 1, t + term(i)), (tf.constant(1), total))
    return total


def _correlate1d(images, weights, axis, mode):
    """Correlates each image along `axis` with its own odd-length kernel: `weights` `[B, K]`, centred."""
    taps = weights.shape[1]
    radius = taps // 2
    size = images.shape[axis]
    padded = pad(images, radius, radius, axis, mode)

    def tap(k):
        return tf.gather(weights, k, axis=1)[:, None, None, None] * window(padded, axis, k, size)

    return sum_over(taps, tap)


def gaussian_weights(sigma, max_sigma, truncate=4.0):
    """Per-image 1-D Gaussian kernels `[B, 2R + 1]`, R = `int(truncate * max_sigma + 0.5)`.

    Each image's kernel is scipy's: radius `int(truncate * sigma + 0.5)`, weights `exp(-x^2 / (2 sigma^2))`
    normalised to sum 1; taps beyond that radius weigh 0. A sigma of 0 gives the identity."""
    radius = int(truncate * max_sigma + 0.5)
    x = tf.range(-radius, radius + 1, dtype=tf.float32)[None, :]
    sigma = sigma[:, None]
    own_radius = tf.floor(truncate * sigma + 0.5)
    weights = tf.exp(-0.5 * tf.square(x) / tf.maximum(tf.square(sigma), 1e-12))
    weights = tf.where(tf.abs(x) <= own_radius, weights, 0.0)
    return weights / tf.reduce_sum(weights, axis=1, keepdims=True)


def gaussian_filter(images, sigma, max_sigma, mode="nearest", truncate=4.0):
    """Blurs each image with its own Gaussian, as `scipy.ndimage.gaussian_filter` (and hence
    `skimage.filters.gaussian` with `channel_axis=-1`) on each image's rows and columns.

    Args:
        images: float32 `[B, H, W, C]`.
        sigma: standard deviation in pixels: a float32 `[B]` tensor (one per image) or a Python float.
        max_sigma: static Python float, the largest sigma any image gets: it fixes the kernel size
            `2 * int(truncate * max_sigma + 0.5) + 1`; smaller kernels are padded with zero weights.
        mode: border, "nearest" (skimage's default) or "reflect" (scipy's: the edge pixel repeated).
        truncate: kernel radius in sigmas, as scipy's.

    Returns:
        float32 `[B, H, W, C]`.
    """
    if mode not in ("nearest", "reflect"):
        raise ValueError(f"`mode` must be 'nearest' or 'reflect', got {mode!r}.")
    images = tf.convert_to_tensor(images, tf.float32)
    weights = gaussian_weights(_per_image(sigma, images), max_sigma, truncate)
    return _correlate1d(_correlate1d(images, weights, 1, mode), weights, 2, mode)


def filter2d(images, kernels, mode="reflect101"):
    """Correlates each image with its own 2-D kernel, as `cv2.filter2D` (anchor at the kernel's centre).

    Args:
        images: float32 `[B, H, W, C]`; every channel gets the same kernel.
        kernels: float32 `[B, K, L]` (one kernel per image) or `[K, L]` (one for all), K and L odd and
            static. Pad smaller kernels with zeros around their centre to share one size.
        mode: border, "reflect101" (OpenCV's default), "reflect" or "nearest".

    Returns:
        float32 `[B, H, W, C]`.
    """
    images = tf.convert_to_tensor(images, tf.float32)
    kernels = tf.convert_to_tensor(kernels, tf.float32)
    rows, cols = kernels.shape[-2], kernels.shape[-1]
    if kernels.shape.rank == 2:
        kernels = tf.broadcast_to(kernels[None], tf.concat([tf.shape(images)[:1], [rows, cols]], 0))
    if rows is None or cols is None or rows % 2 == 0 or cols % 2 == 0:
        raise ValueError(f"`kernels` must have a static, odd height and width, got {kernels.shape}.")
    height, width = images.shape[1], images.shape[2]
    padded = pad(pad(images, rows // 2, rows // 2, 1, mode), cols // 2, cols // 2, 2, mode)

    def kernel_row(i):
        band = window(padded, 1, i, height)
        weights = tf.gather(kernels, i, axis=1)
        terms = [weights[:, j, None, None, None] * band[:, :, j : j + width] for j in range(cols)]
        return tf.add_n(terms)

    return sum_over(rows, kernel_row)


def motion_blur(images, width, sigma, angle, max_width):
    """Blurs each image along a line, as imagecorruptions' `_motion_blur`.

    Tap `i` (0 <= i < width) is the image shifted by `-ceil(i * sin(angle) - 0.5)` rows and
    `-ceil(i * cos(angle) - 0.5)` columns with the edge pixels repeated, weighted by a half Gaussian,
    `exp(-i^2 / (2 sigma^2))` normalised over the `width` taps. As in the reference, taps from the first one
    shifted by the image's height or width on weigh 0 (the weights are not renormalised).

    Args:
        images: float32 `[B, H, W, C]`.
        width: number of taps per image (the reference's `2 * radius + 1`), a `[B]` tensor or a number.
        sigma: the half Gaussian's standard deviation in taps, `[B]` or a number.
        angle: direction in degrees per image, `[B]` or a number (0: along the rows, towards the left).
        max_width: static Python int, the largest `width`: the number of taps computed.

    Returns:
        float32 `[B, H, W, C]`.
    """
    images = tf.convert_to_tensor(images, tf.float32)
    height, cols = images.shape[1], images.shape[2]
    width = tf.cast(_per_image(width, images), tf.float64)
    sigma = tf.cast(_per_image(sigma, images), tf.float64)
    radians = tf.cast(_per_image(angle, images), tf.float64) * (np.pi / 180.0)
    # The reference's direction vector: (width sin, width cos) over its length.
    point_y, point_x = width * tf.sin(radians), width * tf.cos(radians)
    length = tf.sqrt(point_y * point_y + point_x * point_x)
    taps = tf.range(max_width, dtype=tf.float64)[None, :]
    weights = tf.where(taps < width[:, None], tf.exp(-tf.square(taps) / (2.0 * tf.square(sigma[:, None]))), 0.0)
    weights = weights / tf.reduce_sum(weights, axis=1, keepdims=True)
    shift_y = -tf.math.ceil(taps * point_y[:, None] / length[:, None] - 0.5)
    shift_x = -tf.math.ceil(taps * point_x[:, None] / length[:, None] - 0.5)
    inside = (tf.abs(shift_y) < height) & (tf.abs(shift_x) < cols)
    # The reference stops at the first tap outside the image.
    inside = tf.math.cumprod(tf.cast(inside, tf.float64), axis=1)
    weights = tf.cast(weights * inside, tf.float32)
    shift_y, shift_x = tf.cast(shift_y, tf.int32), tf.cast(shift_x, tf.int32)

    def tap(i):
        rows = tf.clip_by_value(tf.range(height)[None, :] - tf.gather(shift_y, i, axis=1)[:, None], 0, height - 1)
        columns = tf.clip_by_value(tf.range(cols)[None, :] - tf.gather(shift_x, i, axis=1)[:, None], 0, cols - 1)
        shifted = tf.gather(tf.gather(images, rows, axis=1, batch_dims=1), columns, axis=2, batch_dims=1)
        return tf.gather(weights, i, axis=1)[:, None, None, None] * shifted

    return sum_over(max_width, tap)


def _zoom_axis(images, zoom, axis):
    """One axis of `clipped_zoom`: the central `ceil(n / zoom)` pixels stretched linearly to `n`."""
    size = images.shape[axis]
    crop = tf.math.ceil(size / zoom)
    top = tf.math.floordiv(size - crop, 2.0)
    # scipy.ndimage.zoom without grid_mode: output o samples input o * (crop - 1) / (out - 1).
    out = tf.round(crop * zoom)
    step = tf.math.divide_no_nan(crop - 1.0, out - 1.0)
    coordinate = tf.range(size, dtype=tf.float64)[None, :] * step[:, None]
    low = tf.floor(coordinate)
    fraction = tf.cast(coordinate - low, tf.float32)
    low_index = tf.cast(top[:, None] + low, tf.int32)
    high_index = tf.cast(top[:, None] + tf.minimum(low + 1.0, crop[:, None] - 1.0), tf.int32)
    lower = tf.gather(images, low_index, axis=axis, batch_dims=1)
    upper = tf.gather(images, high_index, axis=axis, batch_dims=1)
    shape = [-1, size, 1, 1] if axis == 1 else [-1, 1, size, 1]
    fraction = tf.reshape(fraction, shape)
    return lower + fraction * (upper - lower)


def clipped_zoom(images, zoom):
    """Zooms into each image's centre, as imagecorruptions' `clipped_zoom` followed by its crop to H x W.

    The central `ceil(H / zoom)` x `ceil(W / zoom)` pixels are resized by `scipy.ndimage.zoom(..., order=1)`
    (bilinear, corners aligned: the output has `round(n * zoom)` pixels, of which the first H x W are kept).

    Args:
        images: float32 `[B, H, W, C]`.
        zoom: zoom factor >= 1 per image, a `[B]` tensor or a number. Pass float64 to have the crop sizes
            round exactly as NumPy's (float32 values of the reference's factors are off in the last bits).

    Returns:
        float32 `[B, H, W, C]`.
    """
    images = tf.convert_to_tensor(images, tf.float32)
    zoom = tf.broadcast_to(tf.cast(zoom, tf.float64), tf.shape(images)[:1])
    return _zoom_axis(_zoom_axis(images, zoom, 1), zoom, 2)
