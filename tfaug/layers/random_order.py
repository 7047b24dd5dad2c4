"""RandomOrder: every inner layer applied to each image, in an order drawn per image."""

import keras
import tensorflow as tf

from tfaug import random as tfr
from tfaug.layers._composition import CompositionLayer
from tfaug.layers._composition import inner_layers
from tfaug.layers._composition import serialised
from tfaug.layers._composition import supports_jit


@keras.saving.register_keras_serializable(package="tfaug")
class RandomOrder(CompositionLayer):
    """Applies every layer of `layers` to each image, in a uniformly random order drawn per image.

    Per image (one draw per batch with `batchwise=True`): a permutation of the layers. The layers run position
    by position: at step t each image goes through the t-th layer of its order, each layer running only on the
    images whose t-th layer it is (gathered in chunks whose size depends on the batch size alone, so the graph
    compiles under XLA). Every image goes through each layer once, as in a fixed order: the work is that of one
    pass through all layers (plus at most one part-filled chunk per layer and step), whatever the orders drawn.
    The steps are a loop, so the graph holds each layer once (L layers: L graphs to trace and compile, L x L
    runs), rather than one group per order (L! orders).

    Inner layers: as for `RandomApply` (tfaug layers, reproducible in every execution mode; Keras layers that
    take a batch of images; layers that change labels or mix the batch are refused). Masks and boxes go
    through the layers with their image; labels pass through.

    Args:
        layers: a non-empty list of Keras layers (or their serialised configs).
        batchwise: one order for the whole batch. Default False.
        seed: int seed of the orders and of the tfaug inner layers' draws (their own `seed` is not used).
        value_range, num_classes, bounding_box_format: the common layer arguments, kept in the config; each
            inner layer's own settings apply to what it does.

    Inputs: what the inner layers take: a tensor of images, `(images, labels)` or a dict with
    `segmentation_masks` and `bounding_boxes`; returned in the same structure, shapes and dtypes.

    Raises:
        TypeError: if an item of `layers` is not a Keras layer.
        ValueError: for empty `layers`, a layer that changes labels or mixes the batch, or an inner layer that
            changes the images' shape.

    Example:
        >>> layer = RandomOrder([keras.layers.RandomRotation(0.1), tfaug.layers.Cutout(size=8)], seed=0)

    Reference: torchvision's `transforms.RandomOrder` (which draws one order per call, not per image).
    """

    def __init__(self, layers, **kwargs):
        super().__init__(**kwargs)
        self.layers = inner_layers(layers, type(self).__name__)
        self.supports_jit = supports_jit(self.layers)

    @property
    def inner(self):
        return self.layers

    def shares(self):
        return [1.0 / len(self.layers)] * len(self.layers)

    def get_random_transformation(self, data, seed):
        """`{"layer_ids": int32 [L, B]` (column b: image b's order of the layers), `"seed"`: the inner layers'
        seeds' root}."""
        order_seed, layer_seed = tf.unstack(tfr.split_seed(seed, 2))
        batch_size = tf.shape(data["images"])[0]
        draws = self.draw_shape(batch_size)
        # The argsort of i.i.d. uniform keys is a uniformly random permutation, one per row.
        keys = tfr.uniform(order_seed, [draws[0], len(self.layers)])
        order = tf.argsort(keys, axis=1, stable=True)
        return {"layer_ids": tf.transpose(self.per_image(order, batch_size)), "seed": layer_seed}

    def get_config(self):
        config = super().get_config()
        config.update(layers=[serialised(layer) for layer in self.layers])
        return config
