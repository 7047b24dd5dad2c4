"""RandomFlip: mirror each image left-right and/or upside down, masks and bounding boxes with it."""

import keras
import tensorflow as tf

from tfaug import random as tfr
from tfaug import validation as v
from tfaug.layers.base import BaseAugmentation
from tfaug.ops import flips

MODES = ("horizontal", "vertical", "horizontal_and_vertical")


@keras.saving.register_keras_serializable(package="tfaug")
class RandomFlip(BaseAugmentation):
    """Flips each image left-right and/or upside down, each with probability `probability`.

    Per image (one draw per batch with `batchwise=True`): `"horizontal"` tosses one coin per image for a
    left-right flip (torchvision's `RandomHorizontalFlip`), `"vertical"` one for an upside-down flip
    (`RandomVerticalFlip`), `"horizontal_and_vertical"` one coin per axis, independently (both flips, a 180
    degree turn, with probability `probability**2`). Keras's `RandomFlip` uses the same mode names.

    Pixels are moved, never recomputed: every dtype and channel count is flipped exactly. Segmentation masks
    are flipped with their images; bounding boxes (given `bounding_box_format`) are mirrored,
    `(x1, x2) -> (W - x2, W - x1)`, and keep their labels.

    Args:
        mode: `"horizontal"` (default), `"vertical"` or `"horizontal_and_vertical"`.
        probability: chance of each flip, in [0, 1]. Default 0.5.
        value_range, batchwise, seed, bounding_box_format: see `BaseAugmentation`.

    Inputs: images `[B, H, W, C]` or `[H, W, C]` of any dtype, alone, with labels, or in a dict with
    `segmentation_masks` and `bounding_boxes`. Output: the same structure, shapes and dtypes; labels unchanged.

    Raises:
        ValueError: for a `mode` or `probability` out of its range (named), or bounding boxes without
            `bounding_box_format`.

    Example:
        >>> flip = RandomFlip("horizontal", seed=0)
        >>> flipped = flip(images)                     # [B, H, W, C], about half the images mirrored
    """

    keeps_bounding_boxes = False
    moves_bounding_boxes = True

    def __init__(self, mode="horizontal", probability=0.5, **kwargs):
        super().__init__(**kwargs)
        self.mode = v.check_choice("mode", mode, MODES)
        self.probability = v.check_probability("probability", probability)

    def get_random_transformation(self, data, seed):
        batch_size = tf.shape(data["images"])[0]
        shape = self.draw_shape(batch_size)
        seeds = tf.unstack(tfr.split_seed(seed, 2))
        transformation = {}
        if self.mode != "vertical":
            horizontal = tfr.bernoulli(seeds[0], shape, self.probability)
            transformation["horizontal"] = self.per_image(horizontal, batch_size)
        if self.mode != "horizontal":
            vertical = tfr.bernoulli(seeds[1], shape, self.probability)
            transformation["vertical"] = self.per_image(vertical, batch_size)
        return transformation

    def transform_images(self, images, transformation):
        return flips.flip(images, transformation.get("horizontal"), transformation.get("vertical"))

    def transform_segmentation_masks(self, masks, transformation):
        return flips.flip(masks, transformation.get("horizontal"), transformation.get("vertical"))

    def transform_bounding_boxes(self, bounding_boxes, transformation, height, width):
        return flips.flip_bounding_boxes(
            bounding_boxes,
            transformation.get("horizontal"),
            transformation.get("vertical"),
            height,
            width,
            self.bounding_box_format,
        )

    def get_config(self):
        config = super().get_config()
        config.update(mode=self.mode, probability=self.probability)
        return config
