"""Shared parts of the layers that erase boxes (Cutout, RandomErasing)."""

import tensorflow as tf

from tfaug import validation as v
from tfaug.layers.base import BaseAugmentation


class ErasingLayer(BaseAugmentation):
    """Base of the erasing layers: pixels are replaced, labels, masks and boxes pass through unchanged.

    Masks are left as they are: an occluded object keeps its class (the common convention).
    """

    uses_value_range = True

    def __init__(self, probability, fill_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.probability = v.check_probability("probability", probability)
        self.fill_value = v.check_fill_value(fill_value, self.value_range)

    def constant_fill(self, batch_size, num_boxes, channels):
        """`[B, N, C]` float tensor of `fill_value` (a number or one value per channel)."""
        fill = tf.constant(self.fill_value, tf.float32)
        if fill.shape.rank == 1 and fill.shape[0] not in (1, None):
            static_channels = tf.get_static_value(channels)
            if static_channels is not None and static_channels != fill.shape[0]:
                raise ValueError(
                    f"`fill_value` needs one value per image channel: got {len(self.fill_value)} values "
                    f"{self.fill_value} for images with {static_channels} channels."
                )
            tf.debugging.assert_equal(channels, fill.shape[0], message="`fill_value` needs one value per image channel")
        return tf.broadcast_to(tf.reshape(fill, [1, 1, -1]), tf.stack([batch_size, num_boxes, channels]))

    def get_config(self):
        config = super().get_config()
        config.update(probability=self.probability, fill_value=self.fill_value)
        return config
