"""TrivialAugment Wide (Muller and Hutter, ICCV 2021): one op, one random magnitude, per image."""

import keras
import tensorflow as tf

from tfaug import random as tfr
from tfaug import validation as v
from tfaug.layers._policy import PolicyLayer

#: TrivialAugment's 14 ops (identity included).
OPS = (
    "identity",
    "shear_x",
    "shear_y",
    "translate_x",
    "translate_y",
    "rotate",
    "brightness",
    "color",
    "contrast",
    "sharpness",
    "posterize",
    "solarize",
    "auto_contrast",
    "equalize",
)


@keras.saving.register_keras_serializable(package="tfaug")
class TrivialAugmentWide(PolicyLayer):
    """Per image: one op drawn uniformly from 14, at a magnitude bin drawn uniformly from `num_magnitude_bins`.

    The "wide" ranges of the paper (`magnitude_scale="wide"` in `tfaug.policies.levels`): shear up to
    0.99, translation up to 32 pixels, rotation up to 135 degrees, enhance factors 1 +- 0.99, posterize
    8..2 bits, solarize threshold 255..0; signed ops get a random sign. No hyper-parameters to tune.

    Args:
        num_magnitude_bins: magnitude bins, >= 2 (bin b is the fraction b / (bins - 1)). Default 31.
        fill_value, interpolation, mask_fill_value: as in `RandAugment` (masks and boxes follow the geometry).
        value_range, batchwise, seed: see `BaseAugmentation`.

    Raises:
        ValueError: for bad arguments, or images that are not RGB (the colour op needs 3 channels).

    Example:
        >>> TrivialAugmentWide(seed=0)(images)

    Reference: Muller and Hutter, "TrivialAugment: Tuning-free Yet State-of-the-Art Data Augmentation",
    ICCV 2021.
    """

    op_table = OPS

    def __init__(self, num_magnitude_bins=31, fill_value=128, interpolation="nearest", **kwargs):
        super().__init__(fill_value=fill_value, interpolation=interpolation, **kwargs)
        self.num_magnitude_bins = v.check_int("num_magnitude_bins", num_magnitude_bins, low=2)

    def get_random_transformation(self, data, seed):
        shape = tf.shape(data["images"])
        batch_size, height, width = shape[0], shape[1], shape[2]
        n = 1 if self.batchwise else batch_size
        draw = tf.stack([n, 1])
        op_seed, bin_seed, sign_seed, center_seed = tf.unstack(tfr.split_seed(seed, 4))
        op_ids = tfr.randint(op_seed, draw, 0, len(OPS))
        bins = tfr.randint(bin_seed, draw, 0, self.num_magnitude_bins)
        fraction = tf.cast(bins, tf.float32) / float(self.num_magnitude_bins - 1)
        program = {
            "op_ids": op_ids,
            "arguments": self.arguments(op_ids, fraction, self.signs(sign_seed, draw), "wide", height, width),
            "centers": self.centers(center_seed, draw, height, width),
        }
        return self.broadcast_program(program, batch_size)

    def get_config(self):
        config = super().get_config()
        config.update(num_magnitude_bins=self.num_magnitude_bins)
        return config
