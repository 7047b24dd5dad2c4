"""Magnitude scales: how a policy's magnitude becomes each op's argument.

A magnitude `m` on a scale with maximum `M` is the fraction `f = m / M` of every op's strongest setting.
Libraries disagree on `M` and on the strongest settings; tfaug names each convention:

| scale | M | rotate | shear | translate | enhance factor | posterize bits | solarize threshold |
|---|---|---|---|---|---|---|---|
| `"timm"` (RandAugment paper, timm `m9`) | 10 | 30 deg | 0.3 | 0.45 x side | 1 +- 0.9 f | 8 - floor(4 f) | 256 - floor(256 f) |
| `"torchvision"` (RandAugment, 31 bins) | 30 | 30 deg | 0.3 | 150/331 x side | 1 +- 0.9 f | 8 - round(4 f) | x >= 255 (1 - f) inverted |
| `"autoaugment"` (torchvision's AutoAugment, 10 bins) | 9 | 30 deg | 0.3 | 150/331 x side | 1 +- 0.9 f | 8 - round(4 f) | x >= 255 (1 - f) inverted |
| `"wide"` (TrivialAugmentWide, 31 bins) | 30 | 135 deg | 0.99 | 32 px | 1 +- 0.99 f | 8 - round(6 f) | x >= 255 (1 - f) inverted |

So timm's `m9` rotates by up to 27 degrees while torchvision's `magnitude=9` rotates by 9. Signed ops
(rotate, shear, translate, the four enhancers) get a random sign per image and slot; `solarize_add` adds
`floor(110 f)` below 128 on every scale; `cutout` erases a square of side `f * 0.4` of the shorter image
side (not in the default op lists).
"""

import math

import tensorflow as tf

#: op name -> whether its argument takes a random sign.
SIGNED = {
    "identity": False,
    "auto_contrast": False,
    "equalize": False,
    "invert": False,
    "posterize": False,
    "solarize": False,
    "solarize_add": False,
    "color": True,
    "contrast": True,
    "brightness": True,
    "sharpness": True,
    "rotate": True,
    "shear_x": True,
    "shear_y": True,
    "translate_x": True,
    "translate_y": True,
    "cutout": False,
}
OP_NAMES = tuple(SIGNED)
GEOMETRIC = ("rotate", "shear_x", "shear_y", "translate_x", "translate_y")


class Scale:
    """One magnitude convention (see the module table)."""

    def __init__(self, max_magnitude, rotate, shear, translate, translate_relative, enhance, posterize_bits,
                 posterize_round, solarize_timm):
        self.max_magnitude = max_magnitude
        self.rotate = rotate
        self.shear = shear
        self.translate = translate
        self.translate_relative = translate_relative
        self.enhance = enhance
        self.posterize_bits = posterize_bits
        self.posterize_round = posterize_round
        self.solarize_timm = solarize_timm


SCALES = {
    "timm": Scale(10, 30.0, 0.3, 0.45, True, 0.9, 4, False, True),
    "torchvision": Scale(30, 30.0, 0.3, 150.0 / 331.0, True, 0.9, 4, True, False),
    "autoaugment": Scale(9, 30.0, 0.3, 150.0 / 331.0, True, 0.9, 4, True, False),
    "wide": Scale(30, 135.0, 0.99, 32.0, False, 0.99, 6, True, False),
}


def argument(name, fraction, sign, scale, height, width):
    """The argument of op `name` at magnitude fraction `fraction` (`[B]` float in [0, 1]).

    `sign` is a `[B]` tensor of +-1 used by signed ops. Returns float32 `[B]`: degrees for rotate, the
    shear factor, pixels for translations (x from `width`, y from `height`), the enhance factor, posterize
    bits kept, the solarize threshold (pixels `< threshold` are kept), the solarize_add addition, the
    cutout side in pixels; zeros for ops without argument.
    """
    s = SCALES[scale]
    f = tf.cast(fraction, tf.float32)
    signed = f * tf.cast(sign, tf.float32)
    if name == "rotate":
        return s.rotate * signed
    if name in ("shear_x", "shear_y"):
        return s.shear * signed
    if name in ("translate_x", "translate_y"):
        side = tf.cast(width if name == "translate_x" else height, tf.float32)
        return s.translate * signed * (side if s.translate_relative else 1.0)
    if name in ("color", "contrast", "brightness", "sharpness"):
        return 1.0 + s.enhance * signed
    if name == "posterize":
        reduce = tf.round(f * s.posterize_bits) if s.posterize_round else tf.floor(f * s.posterize_bits)
        return 8.0 - reduce
    if name == "solarize":
        if s.solarize_timm:
            return 256.0 - tf.floor(256.0 * f)
        # A float threshold t inverting x >= t is, on integer levels, keeping x < ceil(t).
        return tf.math.ceil(255.0 * (1.0 - f) - 1e-4)
    if name == "solarize_add":
        return tf.floor(110.0 * f)
    if name == "cutout":
        return tf.round(0.4 * f * tf.cast(tf.minimum(height, width), tf.float32))
    return tf.zeros_like(f)


def check_magnitude(magnitude, scale, name="magnitude"):
    """Magnitude must be a number in [0, max] of its scale."""
    if scale not in SCALES:
        raise ValueError(f"`magnitude_scale` must be one of {sorted(SCALES)}, got {scale!r}.")
    top = SCALES[scale].max_magnitude
    if isinstance(magnitude, bool) or not isinstance(magnitude, (int, float)) or not 0 <= magnitude <= top:
        raise ValueError(f"`{name}` must be a number in [0, {top}] on the {scale!r} scale, got {magnitude!r}.")
    if isinstance(magnitude, float) and math.isnan(magnitude):
        raise ValueError(f"`{name}` must not be NaN.")
    return float(magnitude)


def check_ops(ops, name="ops"):
    if isinstance(ops, str) or not isinstance(ops, (tuple, list)) or not ops:
        raise ValueError(f"`{name}` must be a non-empty list of op names from {list(OP_NAMES)}, got {ops!r}.")
    unknown = [op for op in ops if op not in SIGNED]
    if unknown:
        raise ValueError(f"`{name}` has unknown op names {unknown}; choose from {list(OP_NAMES)}.")
    return tuple(ops)
