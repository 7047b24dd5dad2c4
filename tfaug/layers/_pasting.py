"""Bounding boxes of the layers that paste a rectangle of a partner image (CutMix, ResizeMix, SaliencyMix)."""

import keras
import tensorflow as tf

from tfaug.layers._structure import BOXES
from tfaug.ops import bounding_boxes as box_ops


class PastesBoxes:
    """Mixin of a `MixingLayer` whose transformation pastes, into image i, a rectangle `boxes[i]` (int32
    `(y1, x1, y2, x2)`) of a partner image `partner[i]`: its own boxes are cut by the rectangle, the
    partner's are moved by `partner_boxes` (unmoved: the rectangle is copied in place) and clipped to it.

    Boxes come back as `[B, 2N, 4]` and `[B, 2N]`: each image's own N boxes, then its partner's N.
    """

    moves_bounding_boxes = True

    def partner_boxes(self, pixels, transformation):
        """Where the paste puts the partners' pixel `xyxy` boxes `pixels` `[B, N, 4]` (row i: the boxes of
        image i's partner); before the clipping to the rectangle. Unmoved by default."""
        return pixels

    def transform_bounding_boxes(self, bounding_boxes, transformation, height, width):
        boxes, labels = bounding_boxes["boxes"], bounding_boxes["labels"]
        partner = transformation["partner"]
        y1, x1, y2, x2 = tf.unstack(tf.cast(transformation["boxes"], tf.float32), 4, axis=-1)
        rectangles = tf.stack([x1, y1, x2, y2], axis=-1)
        pixels = box_ops.to_xyxy(boxes, self.bounding_box_format, height, width)
        partner_pixels, partner_boxes = tf.gather(pixels, partner), tf.gather(boxes, partner)
        own, own_labels = box_ops.cut(pixels, labels, rectangles)
        moved = self.partner_boxes(partner_pixels, transformation)
        theirs, their_labels = box_ops.paste(moved, tf.gather(labels, partner), rectangles)
        out = [self._in_format(own, pixels, boxes, height, width)]
        out.append(self._in_format(theirs, partner_pixels, partner_boxes, height, width))
        return {"boxes": tf.concat(out, axis=1), "labels": tf.concat([own_labels, their_labels], axis=1)}

    def _in_format(self, moved, pixels, original, height, width):
        """`moved` in the input format; a box that did not move comes back exactly as it was given."""
        converted = box_ops.from_xyxy(moved, self.bounding_box_format, height, width, original.dtype)
        return tf.where(tf.reduce_all(moved == pixels, axis=-1, keepdims=True), original, converted)

    def compute_output_spec(self, inputs, *args, **kwargs):
        if not (isinstance(inputs, dict) and BOXES in inputs):
            return super().compute_output_spec(inputs, *args, **kwargs)
        out = super().compute_output_spec({k: x for k, x in inputs.items() if k != BOXES}, *args, **kwargs)
        boxes, labels = inputs[BOXES]["boxes"], inputs[BOXES]["labels"]
        count = None if boxes.shape[1] is None else 2 * boxes.shape[1]
        out[BOXES] = {
            "boxes": keras.KerasTensor((boxes.shape[0], count, 4), dtype=boxes.dtype),
            "labels": keras.KerasTensor((labels.shape[0], count), dtype=labels.dtype),
        }
        return {key: out[key] for key in inputs}
