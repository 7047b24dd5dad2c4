"""Shared parts of the automatic-augmentation layers (RandAugment, AutoAugment, TrivialAugmentWide)."""

import tensorflow as tf

from tfaug import random as tfr
from tfaug import validation as v
from tfaug.layers.base import BaseAugmentation
from tfaug.ops import bounding_boxes as box_ops
from tfaug.ops import geometry
from tfaug.policies import engine
from tfaug.policies import levels

INTERPOLATIONS = ("nearest", "bilinear")


class PolicyLayer(BaseAugmentation):
    """Base of the policy layers: a program of ops per image, run by `tfaug.policies.engine`.

    Geometric ops move `segmentation_masks` and `bounding_boxes` with their image: masks are resampled
    through the same per-image matrix (nearest, whatever `interpolation`; dtype kept), the area uncovered
    by the geometry filled with `mask_fill_value`; boxes move by their corners (the enclosing box of the
    four moved corners, clipped to the image; a box left without area gets the padding label -1). Pixel
    and colour ops leave both alone.

    Args:
        fill_value: fill of the area uncovered by geometric ops and of cutout boxes, in uint8 levels
            (0..255, mapped into `value_range`). Default 128 (mid-gray).
        interpolation: `"nearest"` (default, as PIL's default) or `"bilinear"`.
        mask_fill_value: class id of the mask area uncovered by geometric ops (an int; for example 255 for
            an ignore class). Default 0.
    """

    uses_value_range = True
    keeps_bounding_boxes = False
    moves_bounding_boxes = True

    def __init__(self, fill_value=128, interpolation="nearest", mask_fill_value=0, **kwargs):
        super().__init__(**kwargs)
        self.fill_value = v.check_range("fill_value", (fill_value, fill_value), 0, 255)[0]
        self.interpolation = v.check_choice("interpolation", interpolation, INTERPOLATIONS)
        self.mask_fill_value = v.check_int("mask_fill_value", mask_fill_value)

    #: Op table of the layer (op_ids index into it). Set by subclasses.
    op_table = ()

    def signs(self, seed, shape):
        return tf.where(tfr.bernoulli(seed, shape, 0.5), 1.0, -1.0)

    def arguments(self, op_ids, fraction, sign, scale, height, width):
        """Each image's argument for the op it chose in each slot (tables are tiny: all ops, then pick)."""
        table = tf.stack(
            [levels.argument(name, fraction, sign, scale, height, width) for name in self.op_table], axis=-1
        )
        return tf.gather(table, tf.maximum(op_ids, 0), batch_dims=op_ids.shape.rank)

    def centers(self, seed, shape, height, width):
        cy_seed, cx_seed = tf.unstack(tfr.split_seed(seed, 2))
        return tf.stack([tfr.randint(cy_seed, shape, 0, height), tfr.randint(cx_seed, shape, 0, width)], axis=-1)

    def broadcast_program(self, program, batch_size):
        if not self.batchwise:
            return program
        return {k: tf.repeat(t, batch_size, axis=0) for k, t in program.items()}

    def transform_images(self, images, transformation):
        if "color" in self.op_table and images.shape[-1] not in (1, 3):
            raise ValueError(
                f"{type(self).__name__}: the `color` op needs RGB (3 channels) or gray (1 channel) `images` "
                f"with a known channel count, got shape {images.shape}; drop `color` from the ops, or decode "
                f"images with `channels=3` (`tf.io.decode_png(..., channels=3)`)."
            )
        if images.shape[0] is not None:
            return self.run_program(images, transformation) if images.shape[0] else images
        # A batch whose size is known only at run time may be empty (a dataset's last partial batch).
        return tf.cond(tf.shape(images)[0] > 0, lambda: self.run_program(images, transformation), lambda: images)

    def matrices(self, transformation, height, width):
        """The drawn program's per-image geometry (`engine.program_matrices`), or None without geometric ops."""
        return engine.program_matrices(
            transformation["op_ids"], transformation["arguments"], tuple(self.op_table), height, width
        )

    def transform_segmentation_masks(self, masks, transformation):
        shape = tf.shape(masks)
        matrices = self.matrices(transformation, shape[1], shape[2])
        if matrices is None:
            return masks
        if not masks.dtype.min <= self.mask_fill_value <= masks.dtype.max:
            raise ValueError(
                f"{self._name_for_errors}: `mask_fill_value`={self.mask_fill_value} does not fit the "
                f"{masks.dtype.name} `segmentation_masks`; pass a class id in [{masks.dtype.min}, {masks.dtype.max}]."
            )
        fill = tf.constant(self.mask_fill_value, masks.dtype)
        return geometry.transform(masks, matrices, interpolation="nearest", fill_value=fill)

    def transform_bounding_boxes(self, bounding_boxes, transformation, height, width):
        matrices = self.matrices(transformation, height, width)
        if matrices is None:
            return bounding_boxes
        boxes, labels = bounding_boxes["boxes"], bounding_boxes["labels"]
        pixels = box_ops.to_xyxy(boxes, self.bounding_box_format, height, width)
        moved, labels = box_ops.clip(box_ops.transform(pixels, matrices), labels, height, width)
        moved = box_ops.from_xyxy(moved, self.bounding_box_format, height, width, boxes.dtype)
        return {"boxes": moved, "labels": labels}

    def program(self, transformation, height, width):
        """The drawn program (`op_ids`, `arguments`, `centers`, one row per image) as an `engine.Program`."""
        t = transformation
        return engine.Program(t["op_ids"], t["arguments"], t["centers"], self.matrices(t, height, width))

    def settings(self, images, copies=1):
        """The engine's settings for `images` (`[B, H, W, C]`) and this layer's arguments."""
        return engine.Settings(
            ops=tuple(self.op_table),
            value_range=tuple(float(v) for v in self.value_range),
            fill_level=float(self.fill_value),
            interpolation=self.interpolation,
            chunk=engine.chunk_size_for(images.shape[0]),
            channels=images.shape[-1],
            copies=copies,
        )

    def run_program(self, images, transformation):
        """Runs the drawn program on `images` (values in the layer's `value_range`)."""
        shape = tf.shape(images)
        return engine.apply_program(images, self.program(transformation, shape[1], shape[2]), self.settings(images))

    def get_config(self):
        config = super().get_config()
        config.update(
            fill_value=self.fill_value, interpolation=self.interpolation, mask_fill_value=self.mask_fill_value
        )
        return config
