"""RandomChoice: one of several inner layers per image, each run only on the images that chose it."""

import keras
import numpy as np
import tensorflow as tf

from tfaug import random as tfr
from tfaug import validation as v
from tfaug.layers._composition import CompositionLayer
from tfaug.layers._composition import inner_layers
from tfaug.layers._composition import serialised
from tfaug.layers._composition import supports_jit


@keras.saving.register_keras_serializable(package="tfaug")
class RandomChoice(CompositionLayer):
    """Applies one layer of `layers` to each image, drawn with chances proportional to `weights`.

    Per image (one draw per batch with `batchwise=True`): which layer the image goes through. Each layer runs
    only on the images that drew it, gathered in chunks whose size depends on the batch size alone (so the graph
    compiles under XLA), not on the whole batch: the batch costs about one layer's work in all (plus at most one
    part-filled chunk per layer), not one layer's work per layer. Masks
    and boxes go through the chosen layer with their image; labels pass through.

    Inner layers: as for `RandomApply` (tfaug layers, reproducible in every execution mode; Keras layers that
    take a batch of images, such as `keras.layers.RandomRotation`; layers that change labels or mix the batch
    are refused). To leave some images unchanged, add `keras.layers.Identity()` with its weight.

    Args:
        layers: a non-empty list of Keras layers (or their serialised configs).
        weights: relative chances of the layers, one finite number >= 0 per layer with a positive sum; a
            layer of weight 0 is never chosen. Default None: equal chances.
        batchwise: one layer for the whole batch. Default False.
        seed: int seed of the draws and of the tfaug inner layers' draws (their own `seed` is not used).
        value_range, num_classes, bounding_box_format: the common layer arguments, kept in the config; each
            inner layer's own settings apply to what it does.

    Inputs: what the inner layers take: a tensor of images, `(images, labels)` or a dict with
    `segmentation_masks` and `bounding_boxes`; returned in the same structure, shapes and dtypes.

    Raises:
        TypeError: if an item of `layers` is not a Keras layer.
        ValueError: for empty `layers`; `weights` of another length than `layers`, with a negative or
            non-finite entry or a zero sum; a layer that changes labels or mixes the batch; an inner layer that
            changes the images' shape.

    Example:
        >>> layer = RandomChoice([tfaug.layers.RandAugment(), tfaug.layers.TrivialAugmentWide()], seed=0)
        >>> layer = RandomChoice([keras.layers.RandomRotation(0.1), keras.layers.Identity()], weights=[1, 3])

    Reference: torchvision's `transforms.RandomChoice` (which draws once per call, not per image).
    """

    def __init__(self, layers, weights=None, **kwargs):
        super().__init__(**kwargs)
        self.layers = inner_layers(layers, type(self).__name__)
        self.choice_weights = _check_weights(weights, len(self.layers))
        self.supports_jit = supports_jit(self.layers)

    @property
    def inner(self):
        return self.layers

    @property
    def probabilities(self):
        """Each layer's chance: `weights` divided by their sum."""
        weights = _relative(self.choice_weights, len(self.layers))
        return tuple(float(w) for w in weights / weights.sum())

    def shares(self):
        return list(self.probabilities)

    def get_random_transformation(self, data, seed):
        """`{"layer_ids": int32 [1, B]` (the layer each image goes through), `"seed"`: the inner layers' seeds'
        root}."""
        choice_seed, layer_seed = tf.unstack(tfr.split_seed(seed, 2))
        batch_size = tf.shape(data["images"])[0]
        # Layer k owns [c[k-1], c[k]) of [0, 1); dividing by the last partial sum makes every bound after the
        # last positive weight exactly 1, so a trailing weight of 0 is never drawn.
        cumulative = np.cumsum(_relative(self.choice_weights, len(self.layers)))
        bounds = tf.constant(cumulative[:-1] / cumulative[-1], tf.float32)
        u = tfr.uniform(choice_seed, self.draw_shape(batch_size))
        choice = tf.reduce_sum(tf.cast(u[:, None] >= bounds[None, :], tf.int32), axis=1)
        return {"layer_ids": self.per_image(choice, batch_size)[None], "seed": layer_seed}

    def get_config(self):
        config = super().get_config()
        config.update(
            layers=[serialised(layer) for layer in self.layers],
            weights=None if self.choice_weights is None else list(self.choice_weights),
        )
        return config


def _check_weights(weights, num_layers):
    """None, or `weights` as a tuple of floats: one finite number >= 0 per layer, with a positive sum."""
    if weights is None:
        return None
    expected = f"a list of {num_layers} finite numbers >= 0 (one per layer) with a positive sum"
    if isinstance(weights, np.ndarray):
        weights = weights.tolist()
    if not isinstance(weights, (list, tuple)) or len(weights) != num_layers:
        raise ValueError(f"`weights` must be {expected}, got {weights!r}.")
    weights = tuple(v.check_positive("weights", w, allow_zero=True) for w in weights)
    if not max(weights) > 0:
        raise ValueError(f"`weights` must be {expected}, got {weights!r} (all zero).")
    return weights


def _relative(weights, num_layers):
    """`weights` (or equal ones) divided by their largest: finite sums even for weights near the float limit."""
    weights = np.array(weights or [1.0] * num_layers, np.float64)
    return weights / weights.max()
