"""Shared parts of the layers that perturb feature-map statistics inside a model (MixStyle, DSU).

These layers sit between a network's blocks, not in the input pipeline: they take float feature maps
`[B, H, W, C]`, augment only in training (Keras's `training` flag; `None` counts as inference, as for
`Dropout`) and compile inside an XLA train step.
"""

import keras
import tensorflow as tf

from tfaug import random as tfr
from tfaug import validation as v
from tfaug.ops.dtypes import compute_dtype
from tfaug.ops.style import feature_moments
from tfaug.random import SeedGenerator


def channel_moments(features, epsilon):
    """`tfaug.ops.feature_moments(..., unbiased=True)` (as the papers' code) shaped `[B, 1, 1, C]`."""
    mean, std = feature_moments(features, epsilon, unbiased=True)
    return mean[:, None, None, :], std[:, None, None, :]


def unbiased_variance(values, mean, axis):
    """`sum((values - mean)**2) / (n - 1)` over `axis` (kept), with `n - 1` at least 1."""
    shape = tf.shape(values)
    count = tf.reduce_prod(tf.gather(shape, axis))
    squares = tf.reduce_sum(tf.square(values - mean), axis=axis, keepdims=True)
    return squares / tf.cast(tf.maximum(count - 1, 1), values.dtype)


class FeatureStatisticsLayer(keras.layers.Layer):
    """Base of MixStyle and DSU: argument checks, the seed, the per-image or per-batch coin, `call`.

    A subclass implements `get_random_transformation(features, seed)` (a dict of tensors, with a boolean
    `[B]` entry `"apply"`) and `transform_features(features, transformation)`, so that tests and users can
    inject hand-written draws.
    """

    def __init__(self, probability=0.5, epsilon=1e-6, batchwise=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.probability = v.check_probability("probability", probability)
        self.epsilon = v.check_positive("epsilon", epsilon)
        self.batchwise = v.check_bool("batchwise", batchwise)
        self.seed = seed
        self._seed_generator = SeedGenerator(seed)
        self.supports_jit = True

    def get_random_transformation(self, features, seed):
        raise NotImplementedError

    def transform_features(self, features, transformation):
        raise NotImplementedError

    def draw_apply(self, seed, batch_size):
        """Whether each image is augmented: `[B]` bools, one coin per image or (`batchwise`) per batch."""
        coins = tfr.bernoulli(seed, [1] if self.batchwise else [batch_size], self.probability)
        return tf.broadcast_to(coins, [batch_size])

    def augment(self, features, seed=None):
        """Augments `features` with a fresh or the given `[2]` seed (what `call` runs in training)."""
        seed = self._seed_generator.next() if seed is None else seed
        return self.transform_features(features, self.get_random_transformation(features, seed))

    def call(self, inputs, training=None):
        inputs = self._checked(inputs)
        if not training:
            return inputs
        return self.augment(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(probability=self.probability, epsilon=self.epsilon, batchwise=self.batchwise, seed=self.seed)
        return config

    def _checked(self, inputs):
        inputs = tf.convert_to_tensor(inputs)
        owner = type(self).__name__
        if inputs.shape.rank != 4:
            raise ValueError(
                f"{owner} takes feature maps `inputs` of shape [batch, height, width, channels], got shape "
                f"{inputs.shape}."
            )
        if not inputs.dtype.is_floating:
            raise TypeError(f"{owner} takes float feature maps `inputs`, got dtype {inputs.dtype.name}.")
        return inputs


def to_compute(features):
    """`features` in the dtype the statistics are computed in (float32, or float64 for float64)."""
    return tf.cast(features, compute_dtype(features.dtype))


def per_image(values):
    """A `[B]` tensor shaped `[B, 1, 1, 1]` to broadcast over feature maps."""
    return tf.reshape(values, [-1, 1, 1, 1])


def where_applied(apply, augmented, features):
    """`augmented` (cast back to the features' dtype) where `apply`, the features unchanged elsewhere."""
    return tf.where(per_image(apply), tf.cast(augmented, features.dtype), features)
