"""Colour jitter kernels: hue rotation, the four jitter ops in a per-image order, per-image grayscale, noise.

Batched, per-image parameters, no randomness. Value conventions, the uint8 path and the float path are those
of `tfaug.ops.point`: on integer images holding levels (uint8 in practice) brightness, contrast and saturation
are `PIL.ImageEnhance`'s arithmetic bit for bit (`tfaug.ops.enhance`), which is what torchvision's
`ColorJitter` runs on PIL images; every other input takes the continuous definitions (torchvision's on float
tensors). Each op's result is stored at the images' precision before the next one runs (levels on uint8),
as in both references.
"""

import tensorflow as tf

from tfaug.ops._xla import fused
from tfaug.ops.dtypes import from_float
from tfaug.ops.dtypes import to_float
from tfaug.ops.enhance import blend_values
from tfaug.ops.enhance import gray_values
from tfaug.ops.enhance import mean_gray
from tfaug.ops.point import bounds
from tfaug.ops.point import check_images
from tfaug.ops.point import finish
from tfaug.ops.point import parameter
from tfaug.ops.point import per_image
from tfaug.ops.point import working
from tfaug.validation import check_value_range

#: The jitter ops by id, as `color_jitter`'s `order` names them (torchvision's order of arguments).
JITTER_OPS = ("brightness", "contrast", "saturation", "hue")
BRIGHTNESS, CONTRAST, SATURATION, HUE = range(4)
# HSV -> RGB: channel n in (R, G, B) is `V - C * clip(min(k, 4 - k), 0, 1)` with `k = (n + 6 H) mod 6`.
_SEXTANT_OFFSETS = (5.0, 3.0, 1.0)


def hue_values(x, shift, value_range):
    """Working RGB values `x` with each pixel's HSV hue turned by `shift` (`[B]`, in turns); V and S kept.

    torchvision's `adjust_hue` (RGB -> HSV, `H = (H + shift) mod 1`, HSV -> RGB) in closed form, scaled by
    the chroma `C = max - min` so that nothing is divided: `C * 6H` is `G - B`, `2C + B - R` or `4C + R - G`
    (red, green or blue the largest channel), and each channel comes back as `max - C * w` with the weight
    `C * w = clip(min(Ck, 4C - Ck), 0, C)`. On levels every step is exact in float64 (integers and one
    float32 shift times small integers), so the result does not depend on how a compiler contracts it; it
    is returned unrounded (float64 levels). Floats are computed in their own units, relative to `low`.
    Gray pixels (C = 0) keep their value.
    """
    exact = x.dtype.is_integer
    dtype = tf.float64 if exact else x.dtype
    low = 0.0 if exact else value_range[0]
    y = tf.cast(x, dtype) - tf.cast(low, dtype)
    r, g, b = y[..., 0:1], y[..., 1:2], y[..., 2:3]
    top = tf.reduce_max(y, axis=-1, keepdims=True)
    chroma = top - tf.reduce_min(y, axis=-1, keepdims=True)
    # torchvision's branches: red wins ties with green and blue, green wins ties with blue.
    hue = tf.where(top == r, g - b, tf.where(top == g, 2.0 * chroma + b - r, 4.0 * chroma + r - g))
    # The shift as a fraction of a turn in [0, 1] puts `k` in [0, 16C]; two conditional subtractions of the
    # period 6C then take it modulo 6C (a float remainder would cost more than the rest of the kernel).
    shift = tf.cast(shift, dtype)
    turn = 6.0 * chroma * per_image(shift - tf.floor(shift))
    period = 6.0 * chroma
    k = tf.constant(_SEXTANT_OFFSETS, dtype) * chroma + hue + turn
    for _ in range(2):
        k = tf.where(k >= period, k - period, k)
    weight = tf.clip_by_value(tf.minimum(k, 4.0 * chroma - k), 0.0, chroma)
    return top - weight + tf.cast(low, dtype)


def _stored(values, x):
    """Values back at the working precision of `x`: levels rounded to the nearest (int32), floats as they are."""
    if x.dtype.is_integer:
        return tf.cast(tf.round(values), x.dtype)
    return tf.cast(values, x.dtype)


@fused
def _adjust_hue(images, shift, value_range):
    x = working(images, value_range)
    return finish(_stored(hue_values(x, shift, value_range), x), images)


def adjust_hue(images, shift, value_range=(0, 255)):
    """torchvision's `adjust_hue`: rotates every pixel's HSV hue by `shift` turns, saturation and value kept.

    Args:
        images: RGB `[B, H, W, 3]`, or gray `[B, H, W, 1]` (returned unchanged: gray has no hue); any dtype,
            values in `value_range`.
        shift: number per image (a fraction of a full turn: 0.5 = 180 degrees, 1 = unchanged), `[B]` or a
            scalar; any finite value.
        value_range: `(low, high)`, default `(0, 255)`.

    Returns:
        Same shape and dtype. Integers are rounded to the nearest level (torchvision truncates
        `255.999 * x`, which differs by one level for some pixels); floats are not rounded.

    Raises:
        ValueError: if `images` has neither 3 nor 1 channels.
    """
    images = check_images(images, "adjust_hue", channels=(3, 1))
    shift = parameter("shift", shift, images)
    if images.shape[-1] == 1:
        return images
    return _adjust_hue(images, shift, check_value_range(value_range))


def _blend_step(x, op, factors, value_range, ops):
    """Brightness, contrast or saturation of image i by `op[i]`: one blend with a per-image degenerate image;
    an image whose op is its hue blends with factor 1, which returns `x` exactly on both paths."""
    factor = tf.where(tf.equal(op, HUE), 1.0, tf.gather(factors, tf.minimum(op, SATURATION), batch_dims=1))
    degenerate = tf.cast(bounds(x, value_range)[0], x.dtype)
    if CONTRAST in ops or SATURATION in ops:
        gray = gray_values(x) if x.shape[-1] == 3 else x
        if CONTRAST in ops:
            degenerate = tf.where(per_image(tf.equal(op, CONTRAST)), mean_gray(gray), degenerate)
        if SATURATION in ops:
            degenerate = tf.where(per_image(tf.equal(op, SATURATION)), gray, degenerate)
    return blend_values(x, tf.broadcast_to(degenerate, tf.shape(x)), factor, value_range)


def _hue_step(x, apply, shift, value_range):
    """The hue rotation of the images where `apply`."""
    return tf.where(per_image(apply), _stored(hue_values(x, shift, value_range), x), x)


def _hue_schedule(order, before, after):
    """`[before + after, B]` blend ops around one hue step: image i's ops before its hue in the first `before`
    steps (right-aligned), those after it in the last `after` (left-aligned); HUE elsewhere (factor 1, the
    identity). Each image then gets its one hue rotation in one step, at its own place in its order; a row
    without the hue runs all its ops before that step."""
    slots = order.shape[1]
    has_hue = tf.reduce_any(tf.equal(order, HUE), axis=1)
    # The hue's position (an order without it: after everything).
    position = tf.where(
        has_hue, tf.argmax(tf.cast(tf.equal(order, HUE), tf.int32), axis=1, output_type=tf.int32), slots
    )
    steps = []
    for k in range(before):
        j = k - (before - position)  # the row index that before-step k holds
        op = tf.gather(order, tf.clip_by_value(j, 0, slots - 1), batch_dims=1)
        steps.append(tf.where(j >= 0, op, HUE))
    for k in range(after):
        j = position + 1 + k
        op = tf.gather(order, tf.clip_by_value(j, 0, slots - 1), batch_dims=1)
        steps.append(tf.where(j < slots, op, HUE))
    return tf.stack(steps), has_hue


@fused
def _color_jitter(images, order, factors, shift, value_range, ops, slots, permutations):
    # `slots` is static (a Python int): the traces relax tensor shapes, which would hide it in `order`.
    x = working(images, value_range)
    blends = len(set(ops) - {HUE})
    if HUE not in ops or images.shape[-1] != 3:  # blends only (hue leaves gray images unchanged)
        if not blends:
            return images
        orders = tf.transpose(order)

        def body(i, x):
            return i + 1, _blend_step(x, tf.gather(orders, i), factors, value_range, ops)

        steps = slots
    else:
        # Up to `blends` blend steps, the hue step, up to `blends` blend steps: one hue rotation per image
        # (the costly op), each step its own computation reading a stored input (fused together, the hue's
        # several reads of a pixel would each recompute the blend before it).
        # Rows that are permutations of `ops` hold the hue once and `blends` other ops; any rows, at most
        # `slots` ops before the hue step (a row without it) and `slots - 1` after.
        before, after = (blends, blends) if permutations else (slots, slots - 1)
        schedule, has_hue = _hue_schedule(order, before, after)
        if before + after == 0:  # the hue alone
            return finish(_hue_step(x, has_hue, shift, value_range), images)
        middle = before

        def body(i, x):
            x = tf.cond(
                tf.equal(i, middle),
                lambda: _hue_step(x, has_hue, shift, value_range),
                lambda: _blend_step(
                    x, tf.gather(schedule, i - tf.cast(i > middle, i.dtype)), factors, value_range, ops
                ),
            )
            return i + 1, x

        steps = schedule.shape[0] + 1
    # A loop, so XLA compiles each step's kernel once rather than once per step.
    _, x = tf.while_loop(lambda i, _: i < steps, body, (tf.constant(0), x))
    return finish(x, images)


def color_jitter(images, order, factors, shift, value_range=(0, 255), ops=None):
    """torchvision's `ColorJitter` with drawn parameters: the jitter ops applied in each image's own order.

    Brightness blends with black (`low`), contrast with the image's mean gray, saturation with its gray
    (`tfaug.ops.enhance`: PIL's arithmetic on levels, ITU-R 601 luma), hue turns the HSV hue (`adjust_hue`).
    The blends run as steps whose degenerate image and factor are selected per image; with the hue, an image's
    blends before its hue are scheduled in the steps before one hue step, those after it in the steps after
    (identity elsewhere): `S` ops cost `S` blend steps without the hue, `2 (S - 1)` blend steps and one hue
    rotation with it (the hue rotation costs about two blends). Ops outside `ops` are left out.

    Args:
        images: RGB `[B, H, W, 3]` or gray `[B, H, W, 1]` (saturation and hue leave gray unchanged, as
            torchvision does), any dtype, values in `value_range`.
        order: int32 `[B, S]`: image i runs ops `order[i, 0]`, `order[i, 1]`, ... (ids of `JITTER_OPS`);
            `S` is static.
        factors: float `[B, 3]`: brightness, contrast and saturation factors (1 = unchanged; any finite value,
            results clamped to the value range when a factor is outside [0, 1]).
        shift: hue shift in turns, `[B]` or a scalar.
        value_range: `(low, high)`, default `(0, 255)`.
        ops: None (default: `order` may hold any ids of `JITTER_OPS`, the hue at most once per row, the others
            repeated or left out), or the op ids of which each row of `order` is a permutation (static; what
            ColorJitter draws): the ops outside it are left out of the computation and the hue is scheduled
            in fewer steps.

    Raises:
        ValueError: if `images` has neither 3 nor 1 channels, or `order` / `factors` have the wrong shape.
    """
    images = check_images(images, "color_jitter", channels=(3, 1))
    order = tf.convert_to_tensor(order, tf.int32)
    factors = tf.cast(factors, tf.float32)
    if order.shape.rank != 2 or order.shape[1] is None or factors.shape.rank != 2 or factors.shape[1] != 3:
        raise ValueError(
            f"`color_jitter` needs `order` [batch, slots] (static slots) and `factors` [batch, 3], got shapes "
            f"{order.shape} and {factors.shape}."
        )
    shift = parameter("shift", shift, images)
    if order.shape[1] == 0:
        return images
    permutations = ops is not None
    ops = tuple(range(len(JITTER_OPS))) if ops is None else tuple(sorted({int(op) for op in ops}))
    if permutations and len(ops) != order.shape[1]:
        raise ValueError(f"`order` rows must be permutations of `ops` {ops}, got {order.shape[1]} slots.")
    value_range = check_value_range(value_range)
    return _color_jitter(images, order, factors, shift, value_range, ops, int(order.shape[1]), permutations)


@fused
def _grayscale_where(images, apply, value_range):
    gray = tf.repeat(gray_values(working(images, value_range)), 3, axis=-1)
    return tf.where(per_image(apply), finish(gray, images), images)


def grayscale_where(images, apply, value_range=(0, 255)):
    """Image i becomes its gray (`tfaug.ops.grayscale`, ITU-R 601 luma, 3 equal channels) where `apply[i]`.

    Args:
        images: RGB `[B, H, W, 3]`, or gray `[B, H, W, 1]` (returned unchanged), any dtype.
        apply: `[B]` booleans.
        value_range: `(low, high)`, default `(0, 255)`.

    Raises:
        ValueError: if `images` has neither 3 nor 1 channels.
    """
    images = check_images(images, "grayscale_where", channels=(3, 1))
    apply = tf.broadcast_to(tf.convert_to_tensor(apply, tf.bool), tf.shape(images)[:1])
    if images.shape[-1] == 1:
        return images
    return _grayscale_where(images, apply, check_value_range(value_range))


@fused
def _add_noise(images, noise, stddev, value_range):
    low, high = value_range
    x = to_float(images)
    # The product is rounded to float32 by an explicit cast (exact in float64), so no compiler contracts it
    # with the sum into a fused multiply-add: integer results round alike in every execution mode.
    scaled = tf.cast(per_image(tf.cast(stddev, tf.float64)) * tf.cast(noise, tf.float64), x.dtype)
    return from_float(tf.clip_by_value(x + scaled, low, high), images.dtype)


def add_noise(images, noise, stddev=1.0, value_range=(0, 255)):
    """`images + stddev * noise`, clipped to `value_range`; integers rounded half to even (`tfaug.ops.from_float`).

    Args:
        images: `[B, H, W, C]`, any dtype, values in `value_range`.
        noise: float `[B, H, W, C]` (standard normals for Gaussian noise).
        stddev: number per image, `[B]` or a scalar, in the images' units.
        value_range: `(low, high)`, default `(0, 255)`.
    """
    images = check_images(images, "add_noise")
    noise = tf.broadcast_to(tf.cast(noise, tf.float32), tf.shape(images))
    stddev = parameter("stddev", stddev, images)
    return _add_noise(images, noise, stddev, check_value_range(value_range))
