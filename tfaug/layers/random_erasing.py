"""Random Erasing (Zhong et al., AAAI 2020): erase random boxes of random area and aspect ratio."""

import keras
import tensorflow as tf

from tfaug import ops
from tfaug import random as tfr
from tfaug import validation as v
from tfaug.layers._erasing import ErasingLayer
from tfaug.ops import boxes as box_ops
from tfaug.ops.selection import apply_to_selected
from tfaug.ops.selection import first_slot_results

FILLS = ("const", "random", "pixel")
#: Erased images per noise draw (`_noise_fill`).
NOISE_CHUNK = 8


@keras.saving.register_keras_serializable(package="tfaug")
class RandomErasing(ErasingLayer):
    """With probability `probability` per image, erases `count` boxes that lie fully inside the image.

    Per image (one draw per batch with `batchwise=True`) and per box: area fraction uniform in `scale`
    (divided by the image's box count), aspect ratio log-uniform in `ratio`; sides
    `round(sqrt(area * ratio))` by `round(sqrt(area / ratio))`; a box that does not fit is redrawn, up to
    `max_attempts` times, after which that box is skipped (as in the paper and timm). The top-left
    corner is uniform over the positions where the box fits.

    Fill (`fill`): `"const"` uses `fill_value`; `"random"` one normal colour per box and channel;
    `"pixel"` normal noise per pixel. Noise has mean `(low + high) / 2` and standard deviation
    `(high - low) / 4` of `value_range` (timm's N(0, 1) on normalised images, in pixel units) and is
    clipped to `value_range`. Pixel noise is drawn only for the images that are erased, `NOISE_CHUNK` of
    them at a time (in batch order), from the transformation's `noise_seed` folded with the chunk's first
    image.

    Args:
        probability: chance that an image is erased, in [0, 1]. Default 0.5.
        scale: `(min, max)` erased area fraction, 0 < min <= max <= 1. Default (0.02, 1/3).
        ratio: `(min, max)` aspect ratio (height / width), 0 < min <= max. Default (0.3, 3.3).
        fill: `"const"` (default), `"random"` or `"pixel"`.
        fill_value: constant fill, a number or one per channel, inside `value_range`. Default 0.
        count: boxes per erased image: an int >= 1 or `(min, max)` drawn uniformly per image. Default 1.
        max_attempts: draws per box before giving up, >= 1. Default 10.
        value_range, batchwise, seed: see `BaseAugmentation`.

    Inputs and outputs as in `Cutout`: labels, masks and boxes pass through unchanged.

    Raises:
        ValueError: for any argument out of its range (named), or (eagerly) pixels outside `value_range`.

    Example:
        >>> RandomErasing(probability=0.25, fill="pixel", seed=0)(images)

    Reference: Zhong et al., "Random Erasing Data Augmentation", AAAI 2020.
    """

    def __init__(
        self,
        probability=0.5,
        scale=(0.02, 1.0 / 3.0),
        ratio=(0.3, 3.3),
        fill="const",
        fill_value=0.0,
        count=1,
        max_attempts=10,
        **kwargs,
    ):
        super().__init__(probability=probability, fill_value=fill_value, **kwargs)
        self.scale = v.check_range("scale", scale, 0.0, 1.0)
        if self.scale[0] <= 0:
            raise ValueError(f"`scale` must have min > 0, got {scale!r}.")
        self.ratio = v.check_range("ratio", ratio, 0.0)
        if self.ratio[0] <= 0:
            raise ValueError(f"`ratio` must have min > 0, got {ratio!r}.")
        self.fill = v.check_choice("fill", fill, FILLS)
        if isinstance(count, (tuple, list)):
            lo, hi = v.check_range("count", count, 1)
            if lo != int(lo) or hi != int(hi):
                raise ValueError(f"`count` must be an int or a pair of ints, got {count!r}.")
            self.count = (int(lo), int(hi))
        else:
            self.count = v.check_int("count", count, low=1)
        self.max_attempts = v.check_int("max_attempts", max_attempts, low=1)

    @property
    def _count_range(self):
        return self.count if isinstance(self.count, tuple) else (self.count, self.count)

    def get_random_transformation(self, data, seed):
        shape = tf.shape(data["images"])
        batch_size, height, width, channels = shape[0], shape[1], shape[2], shape[3]
        seeds = tf.unstack(tfr.split_seed(seed, 8))
        n = 1 if self.batchwise else batch_size
        min_count, max_count = self._count_range
        attempts = [n, max_count, self.max_attempts]

        count = tfr.randint(seeds[0], [n], min_count, max_count + 1)
        apply = tfr.bernoulli(seeds[1], [n], self.probability)
        image_area = tf.cast(height * width, tf.float32)
        area = tfr.uniform(seeds[2], attempts, *self.scale) * image_area
        area = area / tf.cast(count, tf.float32)[:, None, None]
        aspect = tfr.log_uniform(seeds[3], attempts, *self.ratio)
        box_h = tf.cast(tf.round(tf.sqrt(area * aspect)), tf.int32)
        box_w = tf.cast(tf.round(tf.sqrt(area / aspect)), tf.int32)
        fits = (box_h < height) & (box_w < width) & (box_h > 0) & (box_w > 0)
        # Keep each box's first attempt that fits (the sequential retry loop, vectorised).
        first = fits & (tf.cumsum(tf.cast(fits, tf.int32), axis=-1) == 1)
        found = tf.reduce_any(fits, axis=-1)
        box_h = tf.reduce_sum(tf.where(first, box_h, 0), axis=-1)
        box_w = tf.reduce_sum(tf.where(first, box_w, 0), axis=-1)
        top = tfr.randint(seeds[4], [n, max_count], 0, height - box_h + 1)
        left = tfr.randint(seeds[5], [n, max_count], 0, width - box_w + 1)
        used = found & apply[:, None] & (tf.range(max_count)[None, :] < count[:, None])
        boxes = tf.where(used[..., None], ops.corner_boxes(top, left, box_h, box_w), 0)
        boxes = tf.broadcast_to(boxes, tf.stack([batch_size, max_count, 4]))

        transformation = {"boxes": boxes}
        low, high = self.value_range
        mean, stddev = (low + high) / 2.0, (high - low) / 4.0
        if self.fill == "const":
            transformation["fill"] = self.constant_fill(batch_size, max_count, channels)
        elif self.fill == "random":
            colour = tfr.normal(seeds[6], tf.stack([n, max_count, channels]), mean, stddev)
            colour = tf.broadcast_to(colour, tf.stack([batch_size, max_count, channels]))
            transformation["fill"] = tf.clip_by_value(colour, low, high)
        else:
            transformation["noise_seed"] = seeds[7]
        return transformation

    def transform_images(self, images, transformation):
        if "noise_seed" in transformation:
            return self._noise_fill(images, transformation["boxes"], transformation["noise_seed"])
        return ops.fill_boxes(images, transformation["boxes"], transformation["fill"])

    def _noise_fill(self, images, boxes, seed):
        """The boxes filled with clipped normal noise, drawn for the erased images only (timm erases a quarter
        of them; noise for the whole batch cost more than the rest of the layer), a chunk of them at a time
        from the seed folded with the chunk's first image."""
        low, high = self.value_range
        mean, stddev = (low + high) / 2.0, (high - low) / 4.0

        @first_slot_results
        def kernel(rows, chunk_images, chunk_boxes):
            noise = tfr.normal(tfr.fold_in(seed, rows[0]), tf.shape(chunk_images), mean, stddev)
            return ops.fill_boxes_from(chunk_images, chunk_boxes, tf.clip_by_value(noise, low, high))

        erased = tf.reduce_any(box_ops.box_area(boxes) > 0, axis=1)
        return apply_to_selected(kernel, erased, (images, boxes), images, NOISE_CHUNK, whole=())

    def get_config(self):
        config = super().get_config()
        config.update(
            scale=self.scale,
            ratio=self.ratio,
            fill=self.fill,
            count=self.count,
            max_attempts=self.max_attempts,
        )
        return config
