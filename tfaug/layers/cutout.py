"""Cutout (DeVries and Taylor, 2017): fill a square at a random centre with a constant."""

import numbers

import keras
import tensorflow as tf

from tfaug import ops
from tfaug import random as tfr
from tfaug.layers._erasing import ErasingLayer


@keras.saving.register_keras_serializable(package="tfaug")
class Cutout(ErasingLayer):
    """Fills a box centred on a uniformly random pixel (clipped to the image) with `fill_value`.

    Per image (one draw per batch with `batchwise=True`): the centre, and whether the image is cut
    (`probability`). The box is `[cy - h//2, cy + h//2) x [cx - w//2, cx + w//2)` as in the paper's code,
    so boxes near the border are partly outside the image.

    Args:
        size: side in pixels (int >= 1, a square), or a float in (0, 1]: sides `round(H * size)` by
            `round(W * size)`. Default 0.5.
        probability: chance that an image is cut, in [0, 1]. Default 1.0.
        fill_value: fill, a number or one per channel, inside `value_range`. Default 0.
        value_range, batchwise, seed: see `BaseAugmentation`.

    Inputs: a tensor of images, `(images, labels)` or a dict; images `[B, H, W, C]` or `[H, W, C]`,
    any float or integer dtype, returned in the same dtype. Labels, masks and boxes are unchanged.

    Raises:
        ValueError: for a bad `size`, `probability` or `fill_value`, or (eagerly) pixel values outside
            `value_range`.

    Example:
        >>> Cutout(size=16, seed=0)(images)

    Reference: DeVries and Taylor, "Improved Regularization of Convolutional Neural Networks with Cutout",
    2017.
    """

    def __init__(self, size=0.5, probability=1.0, fill_value=0.0, **kwargs):
        super().__init__(probability=probability, fill_value=fill_value, **kwargs)
        if isinstance(size, bool) or not isinstance(size, numbers.Real):
            raise ValueError(f"`size` must be an int >= 1 (pixels) or a float in (0, 1], got {size!r}.")
        if isinstance(size, numbers.Integral):
            if size < 1:
                raise ValueError(f"`size` in pixels must be >= 1, got {size}.")
            size = int(size)
        elif not 0.0 < size <= 1.0:
            raise ValueError(f"`size` as a fraction of the image sides must be in (0, 1], got {size}.")
        self.size = size

    def get_random_transformation(self, data, seed):
        shape = tf.shape(data["images"])
        batch_size, height, width, channels = shape[0], shape[1], shape[2], shape[3]
        apply_seed, cy_seed, cx_seed = tf.unstack(tfr.split_seed(seed, 3))
        n = 1 if self.batchwise else batch_size
        if isinstance(self.size, int):
            box_h = box_w = tf.constant(self.size, tf.int32)
        else:
            box_h = tf.cast(tf.round(tf.cast(height, tf.float32) * self.size), tf.int32)
            box_w = tf.cast(tf.round(tf.cast(width, tf.float32) * self.size), tf.int32)
        apply = tfr.bernoulli(apply_seed, [n], self.probability)
        cy = tfr.randint(cy_seed, [n], 0, height)
        cx = tfr.randint(cx_seed, [n], 0, width)
        boxes = ops.centered_boxes(cy, cx, box_h, box_w, height, width)
        boxes = tf.where(apply[:, None], boxes, 0)
        boxes = tf.broadcast_to(boxes, tf.stack([batch_size, 4]))
        return {"boxes": boxes[:, None, :], "fill": self.constant_fill(batch_size, 1, channels)}

    def transform_images(self, images, transformation):
        return ops.fill_boxes(images, transformation["boxes"], transformation["fill"])

    def get_config(self):
        config = super().get_config()
        config.update(size=self.size)
        return config
