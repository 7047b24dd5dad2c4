"""AutoAugment (Cubuk et al., CVPR 2019): per image, one learned sub-policy of two ops."""

import keras
import tensorflow as tf

from tfaug import random as tfr
from tfaug import validation as v
from tfaug.layers._policy import PolicyLayer
from tfaug.policies.auto_augment import NUM_LEVELS
from tfaug.policies.auto_augment import POLICIES

#: The level mapping AutoAugment uses (torchvision's, see `tfaug.policies.levels`).
LEVEL_SCALE = "autoaugment"


def _tables(policy):
    """Op table and `[P, 2]` op index / probability / level arrays of a policy."""
    ops = tuple(sorted({name for sub in POLICIES[policy] for name, _, _ in sub}))
    index = tuple(tuple(ops.index(name) for name, _, _ in sub) for sub in POLICIES[policy])
    probability = tuple(tuple(p for _, p, _ in sub) for sub in POLICIES[policy])
    level = tuple(tuple(0 if lv is None else lv for _, _, lv in sub) for sub in POLICIES[policy])
    return ops, index, probability, level


@keras.saving.register_keras_serializable(package="tfaug")
class AutoAugment(PolicyLayer):
    """Per image: picks one of the policy's 25 sub-policies and runs its two ops, each with its probability.

    Policies: `"imagenet"`, `"cifar10"`, `"svhn"` (the paper's, in `tfaug.policies.auto_augment`).
    Levels 0..9 map to arguments with torchvision's mapping, named `"autoaugment"` in
    `tfaug.policies.levels`: level L is the fraction L / 9 of rotate 30 degrees, shear 0.3, translate
    150/331 of the side, enhance 1 +- 0.9; posterize keeps `8 - round(4 L / 9)` bits (8..4); solarize
    inverts levels >= `255 (1 - L / 9)`. Signed ops get a random sign per image and op. (timm's and
    Model Garden's mappings differ for posterize and solarize; see that module.)

    Args:
        policy: `"imagenet"` (default), `"cifar10"` or `"svhn"`.
        fill_value, interpolation, mask_fill_value: as in `RandAugment` (masks and boxes follow the geometry).
        value_range, batchwise, seed: see `BaseAugmentation`.

    Raises:
        ValueError: for an unknown policy or bad arguments, or images that are not RGB when the policy
            uses the colour op.

    Example:
        >>> AutoAugment("imagenet", seed=0)(images)

    Reference: Cubuk et al., "AutoAugment: Learning Augmentation Strategies from Data", CVPR 2019.
    """

    def __init__(self, policy="imagenet", fill_value=128, interpolation="nearest", **kwargs):
        super().__init__(fill_value=fill_value, interpolation=interpolation, **kwargs)
        self.policy = v.check_choice("policy", policy, POLICIES)
        self.op_table, self._index, self._probability, self._level = _tables(self.policy)

    def get_random_transformation(self, data, seed):
        shape = tf.shape(data["images"])
        batch_size, height, width = shape[0], shape[1], shape[2]
        n = 1 if self.batchwise else batch_size
        choice_seed, apply_seed, sign_seed, center_seed = tf.unstack(tfr.split_seed(seed, 4))
        choice = tfr.randint(choice_seed, [n], 0, len(self._index))
        op_ids = tf.gather(tf.constant(self._index, tf.int32), choice)
        probability = tf.gather(tf.constant(self._probability, tf.float32), choice)
        fraction = tf.gather(tf.constant(self._level, tf.float32), choice) / float(NUM_LEVELS - 1)
        draw = tf.stack([n, 2])
        op_ids = tf.where(tfr.bernoulli(apply_seed, draw, probability), op_ids, -1)
        program = {
            "op_ids": op_ids,
            "arguments": self.arguments(op_ids, fraction, self.signs(sign_seed, draw), LEVEL_SCALE, height, width),
            "centers": self.centers(center_seed, draw, height, width),
        }
        return self.broadcast_program(program, batch_size)

    def get_config(self):
        config = super().get_config()
        config.update(policy=self.policy)
        return config
