"""Crop windows: torchvision's random resized crop, per image and vectorised, and the evaluation centre crop.

A window is int32 `(top, left, height, width)` in pixels, the rows `[top, top + height)` and columns
`[left, left + width)` of its image. The random windows take their uniforms from `tfaug.random` (a `[2]`
seed); `resized_crop_sizes` turns given uniforms into window sizes, deterministically, so tests can feed
the same uniforms to a reference implementation.
"""

import math

import tensorflow as tf

from tfaug import random as tfr

#: Tries per image before the central fallback, as torchvision's `RandomResizedCrop.get_params`.
ATTEMPTS = 10


def _sides(heights, widths):
    heights = tf.cast(tf.reshape(heights, [-1]), tf.int32)
    widths = tf.cast(tf.reshape(widths, [-1]), tf.int32)
    return heights, widths


def resized_crop_sizes(area_draws, ratio_draws, heights, widths, scale, ratio):
    """Window sizes from uniforms: torchvision's tries, each image's first one that fits, else its fallback.

    Try `t` of image `i`: `target_area = H * W * (scale[0] + u * (scale[1] - scale[0]))` with
    `u = area_draws[i, t]`, `aspect = exp(log ratio[0] + v * (log ratio[1] - log ratio[0]))` with
    `v = ratio_draws[i, t]` (aspect is width / height), `w = round(sqrt(target_area * aspect))`,
    `h = round(sqrt(target_area / aspect))` (half to even, as Python's `round`); it fits if `0 < w <= W` and
    `0 < h <= H`. Computed in float64 from the float32 draws, as torchvision computes from Python floats.
    Without a fitting try: the whole image, or, where `W / H` lies outside `ratio`, the largest centred
    window of aspect `ratio[0]` (too tall) or `ratio[1]` (too wide); its sides are at least 1.

    Args:
        area_draws, ratio_draws: float `[B, T]` uniforms in [0, 1), one column per try.
        heights, widths: int `[B]` image sides (at least 1).
        scale: `(min, max)` area fraction; ratio: `(min, max)` aspect ratio (width / height).

    Returns:
        `(crop_heights, crop_widths, fits)`: int32 `[B]`, int32 `[B]`, bool `[B]` (False: the fallback).
    """
    heights, widths = _sides(heights, widths)
    h = tf.cast(heights, tf.float64)
    w = tf.cast(widths, tf.float64)
    area = (h * w)[:, None]
    target = area * (scale[0] + tf.cast(area_draws, tf.float64) * (scale[1] - scale[0]))
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    aspect = tf.exp(log_lo + tf.cast(ratio_draws, tf.float64) * (log_hi - log_lo))
    try_w = tf.round(tf.sqrt(target * aspect))
    try_h = tf.round(tf.sqrt(target / aspect))
    fits = (try_w > 0) & (try_w <= w[:, None]) & (try_h > 0) & (try_h <= h[:, None])
    # The first try that fits: the sequential loop's choice, from all tries drawn at once.
    first = fits & (tf.cumsum(tf.cast(fits, tf.int32), axis=1) == 1)
    found = tf.reduce_any(fits, axis=1)
    chosen_w = tf.reduce_sum(tf.where(first, try_w, 0.0), axis=1)
    chosen_h = tf.reduce_sum(tf.where(first, try_h, 0.0), axis=1)
    in_ratio = w / h
    too_tall, too_wide = in_ratio < ratio[0], in_ratio > ratio[1]
    fallback_w = tf.where(too_wide, tf.round(h * ratio[1]), w)
    fallback_h = tf.where(too_tall, tf.round(w / ratio[0]), h)
    crop_w = tf.clip_by_value(tf.where(found, chosen_w, fallback_w), 1.0, w)
    crop_h = tf.clip_by_value(tf.where(found, chosen_h, fallback_h), 1.0, h)
    return tf.cast(crop_h, tf.int32), tf.cast(crop_w, tf.int32), found


def random_resized_crop_windows(seed, heights, widths, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0)):
    """One random resized crop window per image: torchvision's `RandomResizedCrop.get_params`, vectorised.

    All `ATTEMPTS` tries of every image are drawn at once (`resized_crop_sizes`); the top-left corner of a
    window that fits is uniform over the positions inside the image, a fallback window is centred
    (`(H - h) // 2`, `(W - w) // 2`). The same seed and sides give the same windows in every execution mode.

    Args:
        seed: `[2]` int seed tensor.
        heights, widths: int `[B]` image sides, each at least 1 (a scalar is one image).
        scale: `(min, max)` area fraction, `0 < min <= max <= 1`. Default (0.08, 1.0).
        ratio: `(min, max)` aspect ratio width / height, `0 < min <= max`. Default (3/4, 4/3).

    Returns:
        int32 `[B, 4]` windows `(top, left, height, width)`.

    Example:
        >>> random_resized_crop_windows(tf.constant([0, 1]), [375, 480], [500, 640])
    """
    heights, widths = _sides(heights, widths)
    n = tf.shape(heights)[0]
    # One draw for everything (per image: the tries' areas and aspects, then the corner): in a per-element
    # input pipeline each sampler call is a Philox evaluation of its own.
    draws = tfr.uniform(seed, [n, 2 * ATTEMPTS + 2])
    area_draws, ratio_draws = draws[:, :ATTEMPTS], draws[:, ATTEMPTS : 2 * ATTEMPTS]
    crop_h, crop_w, fits = resized_crop_sizes(area_draws, ratio_draws, heights, widths, scale, ratio)
    top = tf.where(fits, _position(draws[:, -2], heights - crop_h + 1), (heights - crop_h) // 2)
    left = tf.where(fits, _position(draws[:, -1], widths - crop_w + 1), (widths - crop_w) // 2)
    return tf.stack([top, left, crop_h, crop_w], axis=-1)


def _position(u, count):
    """Integers uniform on `[0, count)` from uniforms `u` in [0, 1), as `tfaug.random.randint` draws them."""
    return tf.minimum(tf.cast(tf.floor(u * tf.cast(count, tf.float32)), tf.int32), count - 1)


def aspect_crop_windows(heights, widths, size):
    """The largest centred window of each image with the aspect of `size` `(height, width)`: int32 `[B, 4]`.

    As Keras's `smart_resize`: window sides `floor(min(H, W * h / w))` by `floor(min(W, H * w / h))` (at
    least 1), offsets `(H - height) // 2` and `(W - width) // 2`. Resized to `size`, it is the image seen
    whole, cut to the output's aspect, with no distortion.
    """
    heights, widths = _sides(heights, widths)
    h = tf.cast(heights, tf.float64)
    w = tf.cast(widths, tf.float64)
    out_h, out_w = float(size[0]), float(size[1])
    crop_h = tf.cast(tf.clip_by_value(tf.floor(tf.minimum(h, w * out_h / out_w)), 1.0, h), tf.int32)
    crop_w = tf.cast(tf.clip_by_value(tf.floor(tf.minimum(w, h * out_w / out_h)), 1.0, w), tf.int32)
    return tf.stack([(heights - crop_h) // 2, (widths - crop_w) // 2, crop_h, crop_w], axis=-1)


def shorter_side_size(height, width, side):
    """`(new_height, new_width)` int32 scalars with the shorter side `side`, as torchvision's `Resize(side)`.

    The longer side becomes `int(side * long / short)` (truncated), computed in float64.
    """
    h = tf.cast(height, tf.float64)
    w = tf.cast(width, tf.float64)
    side_f = tf.constant(float(side), tf.float64)
    new_h = tf.where(h <= w, side_f, tf.floor(side_f * h / w))
    new_w = tf.where(h <= w, tf.floor(side_f * w / h), side_f)
    return tf.cast(new_h, tf.int32), tf.cast(new_w, tf.int32)


def center_crop_offsets(height, width, size):
    """`(top, left)` of a centred `size` window, as torchvision's `CenterCrop`: `round((H - h) / 2)` half to
    even (the window must fit)."""
    top = tf.round(tf.cast(height - size[0], tf.float64) / 2.0)
    left = tf.round(tf.cast(width - size[1], tf.float64) / 2.0)
    return tf.cast(top, tf.int32), tf.cast(left, tf.int32)
