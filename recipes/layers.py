"""Model-side noise for the recipes: `StochasticDepth` (Keras 3 has none)."""

import keras
import tensorflow as tf

from tfaug import random as tfr


@keras.saving.register_keras_serializable(package="recipes")
class StochasticDepth(keras.layers.Layer):
    """Drops a residual branch for whole samples at train time (stochastic depth, "drop path").

    In training, each sample of the batch keeps its residual branch with probability
    `survival_probability` (one Bernoulli draw per sample, shared by all of its elements) and the kept
    branches are scaled by `1 / survival_probability`, so the expected output equals the inference
    output. In inference (`training` False or None: `predict`, `evaluate`) the layer is the identity on
    the branch. This is the "inverted" form used by timm and EfficientNet; the paper scales at inference
    instead, which gives the same expectation.

    Args:
        survival_probability: chance that a sample keeps the branch, in (0, 1]. Default 0.8 (the
            paper's last-block value with a linear decay rule). 1 makes the layer the identity.
        seed: int seed, or None for OS entropy. Randomness is per sample; the same seed and the same
            number of earlier training calls give the same masks.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Inputs: either the residual branch `residual` `[batch, ...]` (returns the dropped branch; add the
    shortcut yourself), or a pair `[shortcut, residual]` of the same shape (returns
    `shortcut + dropped residual`). Output: the branch's shape and dtype.

    Raises:
        ValueError: `survival_probability` outside (0, 1]; a list input that is not a pair.

    Example:
        >>> y = keras.layers.Conv2D(16, 3, padding="same")(x)
        >>> x = StochasticDepth(0.8, seed=0)([x, y])        # x + branch, branch dropped per sample

    Reference: Huang et al., "Deep Networks with Stochastic Depth", ECCV 2016.
    """

    def __init__(self, survival_probability=0.8, seed=None, **kwargs):
        super().__init__(**kwargs)
        p = survival_probability
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 < p <= 1.0:
            raise ValueError(f"`survival_probability` must be a number in (0, 1], got {survival_probability!r}.")
        self.survival_probability = float(p)
        self.seed = seed
        self._seed_generator = tfr.SeedGenerator(seed)

    def call(self, inputs, training=None):
        shortcut, residual = self._split(inputs)
        if training and self.survival_probability < 1.0:
            residual = self.drop(residual, self._seed_generator.next())
        return residual if shortcut is None else shortcut + residual

    def drop(self, residual, seed):
        """Applies one training-time draw with the given `[2]` seed (a hook for tests and replays)."""
        mask_shape = tf.concat([tf.shape(residual)[:1], tf.ones([tf.rank(residual) - 1], tf.int32)], axis=0)
        keep = tfr.bernoulli(seed, mask_shape, self.survival_probability)
        scale = tf.cast(keep, residual.dtype) / tf.cast(self.survival_probability, residual.dtype)
        return residual * scale

    def _split(self, inputs):
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 2:
                raise ValueError(
                    f"`inputs` must be the residual branch or a pair [shortcut, residual], got {len(inputs)} tensors."
                )
            return inputs[0], inputs[1]
        return None, inputs

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple)):
            return tuple(input_shape[1])
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(survival_probability=self.survival_probability, seed=self.seed)
        return config


__all__ = ["StochasticDepth"]
