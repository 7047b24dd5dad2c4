"""GaussianNoise: add zero-mean Gaussian noise of a random strength per image, clipped to the value range."""

import keras
import tensorflow as tf

from tfaug import random as tfr
from tfaug import validation as v
from tfaug.layers.base import BaseAugmentation
from tfaug.ops import jitter


def stddev_range(value):
    """`stddev`: a number `s` (exactly `s`) or `(min, max)` (uniform), as fractions of the value range."""
    if isinstance(value, (tuple, list)):
        v.check_range("stddev", value, low=0.0, high=1.0)
        return tuple(float(x) for x in value)
    return v.check_number("stddev", value, 0.0, 1.0)


@keras.saving.register_keras_serializable(package="tfaug")
class GaussianNoise(BaseAugmentation):
    """Adds zero-mean Gaussian noise, `x + sigma * N(0, 1)` per pixel and channel, clipped to `value_range`.

    `sigma` is drawn per image (one draw per batch with `batchwise=True`) uniformly from `stddev` when it is
    a `(min, max)` pair, or is exactly `stddev` when it is a number (as in torchvision's and Keras's
    `GaussianNoise`); it is a fraction of the value range's width, so `stddev=0.1` means 25.5 levels on
    `(0, 255)` and 0.1 on `(0, 1)`. The noise is drawn for every pixel and channel (image-sized normals
    from `tfaug.random.normal`); the sum is clipped to `value_range` (torchvision's `clip=True`) and integer
    images are rounded half to even.

    Args:
        stddev: `(min, max)` within [0, 1] (default `(0.0, 0.1)`), or a number in [0, 1].
        value_range, batchwise, seed: see `BaseAugmentation`.

    Inputs: images `[B, H, W, C]` or `[H, W, C]`, any dtype and channel count, values in `value_range`, alone,
    with labels, or in a dict; labels, masks and boxes pass through. Output: same structure, shapes, dtypes.

    Raises:
        ValueError: for `stddev` out of its range (named), or (eagerly) pixels outside `value_range`.

    Example:
        >>> noisy = GaussianNoise(stddev=(0.0, 0.05), seed=0)(images)

    Reference: the "noise injection" basic transform (Shorten and Khoshgoftaar, "A survey on Image Data
    Augmentation for Deep Learning", 2019); torchvision `transforms.v2.GaussianNoise`.
    """

    uses_value_range = True

    def __init__(self, stddev=(0.0, 0.1), **kwargs):
        super().__init__(**kwargs)
        self.stddev = stddev_range(stddev)

    def get_random_transformation(self, data, seed):
        """`stddev` `[B]` in the images' units and `noise` `[B, H, W, C]` standard normals."""
        shape = tf.shape(data["images"])
        batch_size = shape[0]
        seeds = tf.unstack(tfr.split_seed(seed, 2))
        low, high = self.value_range
        if isinstance(self.stddev, tuple):
            sigma = tfr.uniform(seeds[0], self.draw_shape(batch_size), *self.stddev)
        else:
            sigma = tf.fill(self.draw_shape(batch_size), self.stddev)
        return {
            "stddev": self.per_image(sigma * (high - low), batch_size),
            "noise": tfr.normal(seeds[1], shape),
        }

    def transform_images(self, images, transformation):
        return jitter.add_noise(images, transformation["noise"], transformation["stddev"], self.value_range)

    def get_config(self):
        config = super().get_config()
        config.update(stddev=self.stddev)
        return config
