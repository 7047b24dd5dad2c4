"""RandomGrayscale: turn images gray (ITU-R 601 luma) with some probability, keeping the channel count."""

import keras
import tensorflow as tf

from tfaug import random as tfr
from tfaug import validation as v
from tfaug.layers.base import BaseAugmentation
from tfaug.ops import jitter


@keras.saving.register_keras_serializable(package="tfaug")
class RandomGrayscale(BaseAugmentation):
    """Replaces each image, with probability `probability`, by its gray repeated over the 3 channels.

    torchvision's `RandomGrayscale`: per image (one draw per batch with `batchwise=True`) a coin; a chosen
    image becomes `0.299 R + 0.587 G + 0.114 B` (ITU-R 601-2 luma, `tfaug.ops.grayscale`: PIL's
    `convert("L")` bit for bit on uint8) in every channel, so the output keeps the input's shape. Gray
    `[..., 1]` images are returned unchanged.

    Args:
        probability: chance that an image is turned gray, in [0, 1]. Default 0.1.
        value_range, batchwise, seed: see `BaseAugmentation`.

    Inputs: RGB `[B, H, W, 3]` or gray `[B, H, W, 1]` images (or one `[H, W, C]` image), any dtype, alone,
    with labels, or in a dict; labels, masks and boxes pass through. Output: same structure, shapes, dtypes.

    Raises:
        ValueError: for `probability` out of [0, 1], images with neither 3 nor 1 channels, or (eagerly)
            pixels outside `value_range`.

    Example:
        >>> gray_sometimes = RandomGrayscale(probability=0.2, seed=0)(images)

    Reference: torchvision `transforms.RandomGrayscale`; SimCLR (Chen et al., ICML 2020) uses it with p=0.2.
    """

    uses_value_range = True

    def __init__(self, probability=0.1, **kwargs):
        super().__init__(**kwargs)
        self.probability = v.check_probability("probability", probability)

    def get_random_transformation(self, data, seed):
        """`apply`: `[B]` booleans."""
        batch_size = tf.shape(data["images"])[0]
        apply = tfr.bernoulli(seed, self.draw_shape(batch_size), self.probability)
        return {"apply": self.per_image(apply, batch_size)}

    def transform_images(self, images, transformation):
        return jitter.grayscale_where(images, transformation["apply"], self.value_range)

    def get_config(self):
        config = super().get_config()
        config.update(probability=self.probability)
        return config
