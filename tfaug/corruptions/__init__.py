"""The ImageNet-C corruptions (Hendrycks and Dietterich, ICLR 2019) as batched, seeded TensorFlow ops.

    >>> foggy = tfaug.corruptions.corrupt(images, "fog", severity=3, seed=0)

Nineteen corruptions at five severities: the fifteen of the benchmark in four groups (`GROUPS`: noise,
blur, weather, digital; `COMMON`) and the four the paper holds out for validation (`HELD_OUT`). They follow
the `imagecorruptions` package's definitions and parameters, with the departures each function's docstring
states; every one runs on a whole batch in the graph, with per-image severities and random draws from one
seed, eagerly, in `tf.function`, in `tf.data` and under `jit_compile`.

Image size: at least `MIN_SIDE` (8) pixels per side (the reference package asks for 32), and static
height and width (resize first in a pipeline). ImageNet-C's parameters are for 224-pixel images;
smaller images get the kernels and amplitudes of the paper's small-image variants (`table="auto"`):
CIFAR-10-C's up to 48 pixels, Tiny-ImageNet-C's up to 128, ImageNet-C's above (`table_for`).

Measuring robustness: evaluate on `COMMON` and never train on those corruptions (the held-out four are
for choosing hyper-parameters); `recipes.robustness` computes corruption errors and mCE.
"""

import numbers

import numpy as np
import tensorflow as tf

from tfaug import validation as v
from tfaug.corruptions import blur
from tfaug.corruptions import compression
from tfaug.corruptions import digital
from tfaug.corruptions import noise
from tfaug.corruptions import weather
from tfaug.corruptions._params import MIN_SIDE
from tfaug.corruptions._params import SEVERITIES
from tfaug.corruptions._params import TABLES
from tfaug.corruptions._params import table_for
from tfaug.ops.dtypes import compute_dtype
from tfaug.ops.dtypes import from_float
from tfaug.random import make_seed

#: Every corruption by name, in the benchmark's order: the fifteen common ones, then the four held out.
CORRUPTIONS = {
    "gaussian_noise": noise.gaussian_noise,
    "shot_noise": noise.shot_noise,
    "impulse_noise": noise.impulse_noise,
    "defocus_blur": blur.defocus_blur,
    "glass_blur": blur.glass_blur,
    "motion_blur": blur.motion_blur,
    "zoom_blur": blur.zoom_blur,
    "snow": weather.snow,
    "frost": weather.frost,
    "fog": weather.fog,
    "brightness": weather.brightness,
    "contrast": digital.contrast,
    "elastic_transform": digital.elastic_transform,
    "pixelate": compression.pixelate,
    "jpeg_compression": compression.jpeg_compression,
    "speckle_noise": noise.speckle_noise,
    "gaussian_blur": blur.gaussian_blur,
    "spatter": weather.spatter,
    "saturate": digital.saturate,
}
#: The fifteen corruptions of the benchmark (mCE is their mean).
COMMON = tuple(CORRUPTIONS)[:15]
#: The four corruptions held out for validation.
HELD_OUT = tuple(CORRUPTIONS)[15:]
GROUPS = {"noise": COMMON[0:3], "blur": COMMON[3:7], "weather": COMMON[7:11], "digital": COMMON[11:15]}


def check_corruption(name, argument="corruption"):
    """`name` if it names a corruption, else a `ValueError` listing them."""
    if not isinstance(name, str) or name not in CORRUPTIONS:
        raise ValueError(f"`{argument}` must be one of {list(CORRUPTIONS)}, got {name!r}.")
    return name


def check_corruptions(names, argument="corruptions"):
    """`names` as a tuple if it is a non-empty list or tuple of distinct corruption names, else a `ValueError`."""
    if isinstance(names, str) or not isinstance(names, (tuple, list)) or not names:
        raise ValueError(f"`{argument}` must be a non-empty list of names in {list(CORRUPTIONS)}, got {names!r}.")
    for name in names:
        check_corruption(name, argument)
    if len(set(names)) != len(names):
        raise ValueError(f"`{argument}` must not repeat a name, got {list(names)}.")
    return tuple(names)


def check_images(images, owner="corrupt"):
    """`images` as a float tensor `[B, H, W, C]` (or `[H, W, C]`), checked for what every corruption needs."""
    images = tf.convert_to_tensor(images)
    if images.shape.rank not in (3, 4):
        raise ValueError(f"`{owner}` expects `images` of shape [batch, height, width, channels], got {images.shape}.")
    height, width, channels = images.shape[-3:]
    if height is None or width is None:
        raise ValueError(
            f"`{owner}` needs images of a static height and width (got {images.shape}): resize them to a fixed "
            "size first."
        )
    if min(height, width) < MIN_SIDE:
        raise ValueError(
            f"`{owner}` needs images of at least {MIN_SIDE} x {MIN_SIDE} pixels, got {height} x {width}: resize "
            "them first."
        )
    if channels not in (1, 3):
        raise ValueError(f"`{owner}` needs images with 1 (gray) or 3 (RGB) channels, got {channels}.")
    return images


def check_severity(severity, argument="severity"):
    """An int in 1..5, or a `[batch]` sequence / tensor of them (tensors are checked when they run)."""
    if tf.is_tensor(severity):
        if not severity.dtype.is_integer:
            raise ValueError(f"`{argument}` must be an integer tensor of severities in 1..5, got {severity.dtype}.")
        return severity
    values = np.asarray(severity)
    integral = values.dtype != bool and np.issubdtype(values.dtype, np.integer)
    if not integral or values.ndim > 1 or values.size == 0 or values.min() < 1 or values.max() > 5:
        raise ValueError(f"`{argument}` must be an int in 1..5 (or a [batch] sequence of them), got {severity!r}.")
    return severity


def check_table(table):
    return v.check_choice("table", table, ("auto",) + TABLES)


def corrupt(images, corruption, severity=3, seed=None, value_range=None, table="auto"):
    """Applies one corruption at a severity (or one severity per image) to a batch of images.

    Args:
        images: `[B, H, W, C]` or `[H, W, C]` images, C = 1 or 3, H and W static and >= 8; any dtype.
        corruption: a name in `CORRUPTIONS`.
        severity: 1..5, or one per image (a `[B]` sequence or integer tensor).
        seed: int or a `[2]` integer seed tensor; the same seed gives the same corruption. `None` draws
            one from OS entropy.
        value_range: `(low, high)` of pixel values; default `(0, 255)`.
        table: `"auto"` (by image size) or one of `TABLES`: whose parameters to use.

    Returns:
        The corrupted images, same shape and dtype (integers rounded half-to-even).

    Raises:
        ValueError: for an unknown corruption, a severity outside 1..5, or images the corruptions cannot
            take (see `check_images`).
    """
    check_corruption(corruption)
    images = check_images(images)
    check_severity(severity)
    table = check_table(table)
    low, high = (0.0, 255.0) if value_range is None else v.check_value_range(value_range)
    unbatched = images.shape.rank == 3
    batch = images[None] if unbatched else images
    out = apply(batch, corruption, _severities(severity, batch), _seed_tensor(seed), table, (low, high))
    return out[0] if unbatched else out


def apply(images, corruption, severity, seed, table, value_range):
    """`corrupt` on checked arguments: `severity` an int32 `[B]` tensor, `seed` a `[2]` tensor, `table`
    `"auto"` or a name in `TABLES`. What the layers and `corrupt` share."""
    low, high = value_range
    height, width = images.shape[1], images.shape[2]
    table = table_for(height, width) if table == "auto" else table
    unit = (tf.cast(images, tf.float32) - low) / (high - low)
    out = CORRUPTIONS[corruption](tf.clip_by_value(unit, 0.0, 1.0), severity, seed, table)
    out = tf.clip_by_value(out, 0.0, 1.0) * (high - low) + low
    return from_float(tf.cast(out, compute_dtype(images.dtype)), images.dtype)


def _severities(severity, images):
    """An int32 `[B]` tensor of severities, checked at run time to lie in 1..5."""
    severity = tf.broadcast_to(tf.cast(severity, tf.int32), tf.shape(images)[:1])
    check = tf.debugging.assert_equal(
        tf.reduce_all((severity >= 1) & (severity <= 5)), True, message="`severity` must lie in 1..5."
    )
    with tf.control_dependencies([check]):
        return tf.identity(severity)


def _seed_tensor(seed):
    if tf.is_tensor(seed):
        return tf.cast(seed, tf.int64)
    if isinstance(seed, numbers.Integral) or seed is None:
        return tf.constant([make_seed(None if seed is None else int(seed)), 0], tf.int64)
    raise TypeError(f"`seed` must be an int, a [2] integer tensor or None, got {seed!r}.")


__all__ = [
    "COMMON",
    "CORRUPTIONS",
    "GROUPS",
    "HELD_OUT",
    "MIN_SIDE",
    "SEVERITIES",
    "TABLES",
    "apply",
    "check_corruption",
    "check_corruptions",
    "corrupt",
    "table_for",
]
