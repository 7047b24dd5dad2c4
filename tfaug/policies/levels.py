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
side (not in the default op lists). `posterize_increasing` (timm's `PosterizeIncreasing`, in its `inc1` op
set) keeps `posterize bits` bits at magnitude 0 down to none at the maximum: `4 - floor(4 f)` on `"timm"`,
so timm's `m9` keeps 1 bit where `posterize` keeps 5.
"""

import dataclasses

import tensorflow as tf

from tfaug import validation as v
from tfaug.policies import registry

#: Every op name, in the registry's order, and the geometric ones.
OP_NAMES = tuple(registry.OPS)
GEOMETRIC = registry.of_kind("geometric")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Scale:
    """One magnitude convention (see the module table): each op's strongest setting."""

    max_magnitude: int
    rotate: float
    shear: float
    translate: float
    translate_relative: bool
    enhance: float
    posterize_bits: int
    posterize_round: bool
    solarize_timm: bool


_COMMON = dict(rotate=30.0, shear=0.3, enhance=0.9, posterize_bits=4, translate_relative=True)
SCALES = {
    "timm": Scale(max_magnitude=10, translate=0.45, posterize_round=False, solarize_timm=True, **_COMMON),
    "torchvision": Scale(
        max_magnitude=30, translate=150.0 / 331.0, posterize_round=True, solarize_timm=False, **_COMMON
    ),
    "autoaugment": Scale(
        max_magnitude=9, translate=150.0 / 331.0, posterize_round=True, solarize_timm=False, **_COMMON
    ),
    "wide": Scale(
        max_magnitude=30,
        rotate=135.0,
        shear=0.99,
        translate=32.0,
        translate_relative=False,
        enhance=0.99,
        posterize_bits=6,
        posterize_round=True,
        solarize_timm=False,
    ),
}


def argument(name, fraction, sign, scale, height, width):
    """The argument of op `name` at magnitude fraction `fraction` (`[B]` float in [0, 1]).

    `sign` is a `[B]` tensor of +-1 used by signed ops. Returns float32 `[B]`: degrees for rotate, the
    shear factor, pixels for translations (x from `width`, y from `height`), the enhance factor, posterize
    bits kept, the solarize threshold (pixels `< threshold` are kept), the solarize_add addition, the
    cutout side in pixels; zeros for ops without argument. Each op's rule is its registry entry's
    `argument` (`tfaug.policies.registry`).
    """
    f = tf.cast(fraction, tf.float32)
    signed = f * tf.cast(sign, tf.float32)
    return registry.OPS[name].argument(SCALES[scale], f, signed, height, width)


def check_magnitude(magnitude, scale, name="magnitude"):
    """Magnitude must be a number in [0, max] of its scale."""
    if scale not in SCALES:
        raise ValueError(f"`magnitude_scale` must be one of {sorted(SCALES)}, got {scale!r}.")
    top = SCALES[scale].max_magnitude
    try:
        return v.check_number(name, magnitude, 0, top)
    except ValueError:
        raise ValueError(
            f"`{name}` must be a number in [0, {top}] on the {scale!r} scale, got {magnitude!r}."
        ) from None


def check_ops(ops, name="ops"):
    if isinstance(ops, str) or not isinstance(ops, (tuple, list)) or not ops:
        raise ValueError(f"`{name}` must be a non-empty list of op names from {list(OP_NAMES)}, got {ops!r}.")
    unknown = [op for op in ops if not isinstance(op, str) or op not in registry.OPS]
    if unknown:
        raise ValueError(f"`{name}` has unknown op names {unknown}; choose from {list(OP_NAMES)}.")
    return tuple(ops)
