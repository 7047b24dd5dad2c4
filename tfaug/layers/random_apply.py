"""RandomApply: an inner layer applied to each image with a probability, run only on those images."""

import keras
import tensorflow as tf

from tfaug import random as tfr
from tfaug import validation as v
from tfaug.layers._composition import CompositionLayer
from tfaug.layers._composition import inner_layer
from tfaug.layers._composition import serialised
from tfaug.layers._composition import supports_jit


@keras.saving.register_keras_serializable(package="tfaug")
class RandomApply(CompositionLayer):
    """Applies `layer` to each image with chance `probability`; the other images pass through unchanged.

    Per image (one draw per batch with `batchwise=True`): whether the image goes through `layer`. The layer
    runs only on the images that drew it, gathered in chunks whose size depends on the batch size alone (so the
    graph compiles under XLA, which takes no data-dependent shapes), not on the whole batch: the cost follows the
    number of images drawn, plus at most one part-filled chunk. Masks and boxes go through the layer
    with their image; labels pass through.

    Inner layer: a tfaug augmentation layer (run with a seed derived from this layer's `seed`, so the result
    is the same eagerly, in `tf.function`, in `tf.data` and under `jit_compile=True`) or a Keras layer that
    takes a batch of images, such as `keras.layers.RandomFlip` or a `keras.Sequential` of them (called on the
    drawn images with `training=True`; it draws from its own seed, and Keras's random ops draw otherwise under
    XLA). Its output must keep the input's shape; float outputs are returned in the input dtype. Layers that
    change labels or mix the images of a batch (CutMix, MixUp, LabelSmoothing, Keras's CutMix and MixUp) are
    refused: on the drawn images alone they could only mix those; use their own `probability` instead.

    Args:
        layer: the inner layer (a `keras.layers.Layer`, or its serialised config).
        probability: chance that an image goes through `layer`, in [0, 1]. Default 0.5.
        batchwise: one draw for the whole batch (all images through `layer`, or none). Default False.
        seed: int seed of the draws and of a tfaug inner layer's draws (its own `seed` is not used).
        value_range, num_classes, bounding_box_format: the common layer arguments, kept in the config; the
            inner layer's own settings apply to what it does.

    Inputs: what the inner layer takes: a tensor of images, `(images, labels)` or a dict with
    `segmentation_masks` and `bounding_boxes`; returned in the same structure, shapes and dtypes.

    Raises:
        TypeError: if `layer` is not a Keras layer.
        ValueError: for `probability` outside [0, 1], a layer that changes labels or mixes the batch, an inner
            layer that changes the images' shape, or masks or boxes given to a Keras layer that cannot carry them.

    Example:
        >>> flip = RandomApply(keras.layers.RandomFlip("horizontal", seed=1), probability=0.5, seed=0)
        >>> erase = RandomApply(tfaug.layers.RandConv(seed=0), probability=0.3, seed=0)(images)

    Reference: torchvision's `transforms.RandomApply` (which decides once per call, not per image).
    """

    def __init__(self, layer, probability=0.5, **kwargs):
        super().__init__(**kwargs)
        self.layer = inner_layer("layer", layer, type(self).__name__)
        self.probability = v.check_probability("probability", probability)
        self.supports_jit = supports_jit([self.layer])

    @property
    def inner(self):
        return [self.layer]

    def shares(self):
        return [self.probability]

    def get_random_transformation(self, data, seed):
        """`{"layer_ids": int32 [1, B]` (0: through the layer, -1: not), `"seed"`: the inner layer's seeds' root}."""
        apply_seed, layer_seed = tf.unstack(tfr.split_seed(seed, 2))
        batch_size = tf.shape(data["images"])[0]
        applied = tfr.bernoulli(apply_seed, self.draw_shape(batch_size), self.probability)
        applied = self.per_image(applied, batch_size)
        return {"layer_ids": tf.where(applied, 0, -1)[None], "seed": layer_seed}

    def get_config(self):
        config = super().get_config()
        config.update(layer=serialised(self.layer), probability=self.probability)
        return config
