"""RandAugment (Cubuk et al., 2020): per image, `num_ops` random ops at one shared magnitude."""

import math
import re

import keras
import tensorflow as tf

from tfaug import random as tfr
from tfaug import validation as v
from tfaug.layers._policy import PolicyLayer
from tfaug.policies import levels

#: The paper's 14 ops (torchvision's list): the default.
DEFAULT_OPS = (
    "identity",
    "auto_contrast",
    "equalize",
    "rotate",
    "solarize",
    "color",
    "posterize",
    "contrast",
    "brightness",
    "sharpness",
    "shear_x",
    "shear_y",
    "translate_x",
    "translate_y",
)

#: timm's "increasing" op set (`_RAND_INCREASING_TRANSFORMS`, the `inc1` of `rand-m9-mstd0.5-inc1`): every op
#: grows stronger with the magnitude. On the `"timm"` scale `solarize` (threshold `256 - floor(256 f)`) and
#: the four enhancers (`1 +- 0.9 f`, random sign) are already timm's increasing versions; posterize is
#: `posterize_increasing` (`4 - floor(4 f)` bits). No identity; invert and solarize_add are in.
INCREASING_OPS = (
    "auto_contrast",
    "equalize",
    "invert",
    "rotate",
    "posterize_increasing",
    "solarize",
    "solarize_add",
    "color",
    "contrast",
    "brightness",
    "sharpness",
    "shear_x",
    "shear_y",
    "translate_x",
    "translate_y",
)

_CONFIG_KEYS = {"n": "num_ops", "m": "magnitude", "mstd": "magnitude_std", "p": "probability", "inc": "ops"}


@keras.saving.register_keras_serializable(package="tfaug")
class RandAugment(PolicyLayer):
    """Applies `num_ops` ops to each image, each op chosen uniformly and independently per image.

    Per image and slot: an op drawn uniformly from `ops`, a random sign for signed ops, the magnitude
    `magnitude` (plus Normal(0, `magnitude_std`) noise, clipped to [0, max]; `magnitude_std=inf` draws it
    uniformly in [0, magnitude] as timm does), and whether the slot runs at all (`probability`). One draw
    per batch with `batchwise=True`.

    Magnitude scales differ between libraries: the default `magnitude_scale="timm"` is the paper's 0..10
    scale (timm's `m9` = 9/10 of each op's maximum: rotate 27 degrees, shear 0.27, enhance 1 +- 0.81);
    `"torchvision"` is torchvision's 31-bin scale (magnitude 9 of 30 = 0.3 of the maximum). See
    `tfaug.policies.levels` for every op's maximum.

    The ops run on 256 levels like PIL (float images are rounded to levels of `value_range`); point and
    colour ops are bit-exact with PIL on uint8. Geometric ops of an image are composed into one
    resampling, applied after its pixel ops (`tfaug.policies.engine`).

    Args:
        num_ops: ops per image, >= 0. Default 2.
        magnitude: in [0, max of the scale]. Default 9.
        magnitude_std: >= 0, or `float("inf")`. Default 0.
        ops: op names (see `tfaug.policies.levels.OP_NAMES`). Default: the paper's 14 ops.
        probability: chance that each slot applies its op, in [0, 1]. Default 1.
        magnitude_scale: `"timm"` (default) or `"torchvision"`.
        fill_value: fill level (0..255) of areas uncovered by geometric ops. Default 128.
        interpolation: `"nearest"` (default) or `"bilinear"`.
        mask_fill_value: class id of the mask area uncovered by geometric ops. Default 0.
        value_range, batchwise, seed, bounding_box_format: see `BaseAugmentation`.

    Inputs: images `[B, H, W, C]` or `[H, W, C]` of any dtype (colour ops need C = 3, or 1 where colour is
    the identity), alone, in a tuple with labels or in a dict with labels, `segmentation_masks` and
    `bounding_boxes`. Labels pass through; masks and boxes follow each image's geometric ops (see
    `PolicyLayer`).

    Raises:
        ValueError: for an unknown op name, a magnitude outside its scale, bad arguments (named), colour
            ops on images with neither 3 nor 1 channels, or boxes without `bounding_box_format`.

    Example:
        >>> RandAugment(num_ops=2, magnitude=9, seed=0)(images)
        >>> RandAugment.from_string("rand-n2-m9-mstd0.5", seed=0)

    Reference: Cubuk et al., "RandAugment: Practical automated data augmentation with a reduced search
    space", CVPR Workshops 2020.
    """

    def __init__(
        self,
        num_ops=2,
        magnitude=9,
        magnitude_std=0.0,
        ops=DEFAULT_OPS,
        probability=1.0,
        magnitude_scale="timm",
        fill_value=128,
        interpolation="nearest",
        **kwargs,
    ):
        super().__init__(fill_value=fill_value, interpolation=interpolation, **kwargs)
        self.num_ops = v.check_int("num_ops", num_ops, low=0)
        self.magnitude_scale = v.check_choice("magnitude_scale", magnitude_scale, levels.SCALES)
        self.magnitude = levels.check_magnitude(magnitude, self.magnitude_scale)
        if magnitude_std != float("inf"):
            magnitude_std = v.check_positive("magnitude_std", magnitude_std, allow_zero=True)
        self.magnitude_std = float(magnitude_std)
        self.ops = levels.check_ops(ops)
        self.op_table = self.ops
        self.probability = v.check_probability("probability", probability)

    @classmethod
    def from_string(cls, config, **kwargs):
        """Builds a layer from a timm-style string: `"rand-n2-m9-mstd0.5-p1.0"`, `"rand-m9-mstd0.5-inc1"`.

        Keys: `n` (num_ops, int), `m` (magnitude), `mstd` (magnitude_std, a number or `inf`),
        `p` (probability), `inc` (`inc1`: timm's increasing op set `INCREASING_OPS`; `inc0`: the `ops`
        default). Parsed strictly: an unknown key, a repeated key or a malformed value raises `ValueError`.
        Other arguments go through `kwargs`.

        Differences from timm's `rand_augment_transform`: a missing `p` is this layer's default 1.0 (timm's
        is 0.5: write `p0.5`); without `inc1` the ops are `ops` (default the paper's 14), not timm's
        non-increasing set, whose posterize, solarize and enhancers weaken as the magnitude grows; timm
        reads `inc0` as increasing too (any value is true there).
        """
        if not isinstance(config, str) or not config.startswith("rand"):
            raise ValueError(f"`config` must be a string like 'rand-n2-m9-mstd0.5', got {config!r}.")
        parts = config.split("-")
        if parts[0] != "rand":
            raise ValueError(f"`config` must start with 'rand-', got {config!r}.")
        parsed, keys = {}, set()
        for part in parts[1:]:
            match = re.fullmatch(r"([a-z]+)(inf|[0-9]+(?:\.[0-9]+)?)", part)
            if not match or match.group(1) not in _CONFIG_KEYS:
                raise ValueError(
                    f"`config` {config!r}: cannot parse {part!r}; expected one of "
                    f"{', '.join(k + '<number>' for k in _CONFIG_KEYS)}."
                )
            key, value = match.groups()
            name = _CONFIG_KEYS[key]
            if key in keys:
                raise ValueError(f"`config` {config!r}: {key!r} is given twice.")
            keys.add(key)
            if name == "ops":
                if value not in ("0", "1"):
                    raise ValueError(f"`config` {config!r}: 'inc' must be inc0 or inc1, got {part!r}.")
                if value == "1":
                    parsed[name] = INCREASING_OPS
            elif name == "num_ops":
                if not value.isdigit():
                    raise ValueError(f"`config` {config!r}: 'n' must be an int, got {value!r}.")
                parsed[name] = int(value)
            elif value == "inf" and name != "magnitude_std":
                raise ValueError(f"`config` {config!r}: {key!r} cannot be inf.")
            else:
                parsed[name] = float(value)
        overlap = sorted(set(parsed) & set(kwargs))
        if overlap:
            raise ValueError(f"`config` and keyword arguments both set {overlap}.")
        return cls(**parsed, **kwargs)

    def draw_magnitude(self, seed, shape):
        top = levels.SCALES[self.magnitude_scale].max_magnitude
        if self.magnitude_std == 0:
            return tf.fill(shape, self.magnitude)
        if math.isinf(self.magnitude_std):
            return tfr.uniform(seed, shape, 0.0, self.magnitude)
        noisy = self.magnitude + self.magnitude_std * tfr.normal(seed, shape)
        return tf.clip_by_value(noisy, 0.0, float(top))

    def get_random_transformation(self, data, seed):
        shape = tf.shape(data["images"])
        batch_size, height, width = shape[0], shape[1], shape[2]
        n = 1 if self.batchwise else batch_size
        draw = tf.stack([n, self.num_ops])
        op_seed, apply_seed, magnitude_seed, sign_seed, center_seed = tf.unstack(tfr.split_seed(seed, 5))
        op_ids = tfr.randint(op_seed, draw, 0, len(self.ops))
        op_ids = tf.where(tfr.bernoulli(apply_seed, draw, self.probability), op_ids, -1)
        top = levels.SCALES[self.magnitude_scale].max_magnitude
        fraction = self.draw_magnitude(magnitude_seed, draw) / float(top)
        arguments = self.arguments(op_ids, fraction, self.signs(sign_seed, draw), self.magnitude_scale, height, width)
        program = {
            "op_ids": op_ids,
            "arguments": arguments,
            "centers": self.centers(center_seed, draw, height, width),
        }
        return self.broadcast_program(program, batch_size)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_ops=self.num_ops,
            magnitude=self.magnitude,
            magnitude_std=self.magnitude_std,
            ops=list(self.ops),
            probability=self.probability,
            magnitude_scale=self.magnitude_scale,
        )
        return config
