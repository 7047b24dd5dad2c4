"""Erasing kernels: fill boxes with a constant, a colour per box, or per-pixel values."""

import tensorflow as tf

from tfaug.ops._xla import fused
from tfaug.ops.boxes import box_mask
from tfaug.ops.dtypes import from_float


@fused
def fill_boxes(images, boxes, fill):
    """Fills box n of image i with the colour `fill[i, n]` (later boxes drawn over earlier ones).

    Args:
        images: `[B, H, W, C]`, any dtype.
        boxes: int32 `[B, N, 4]` `(y1, x1, y2, x2)`, half-open; empty boxes change nothing.
        fill: float `[B, N, C]` colours in the images' value scale; cast like the images (rounded, clipped).
    """
    shape = tf.shape(images)
    fill = from_float(fill, images.dtype)
    out = images
    for n in range(boxes.shape[1]):
        mask = box_mask(boxes[:, n], shape[1], shape[2])
        out = tf.where(mask, fill[:, n, None, None, :], out)
    return out


@fused
def fill_boxes_from(images, boxes, source):
    """Replaces the pixels inside any of an image's boxes with the same pixels of `source` (same shape)."""
    shape = tf.shape(images)
    inside = tf.zeros([shape[0], shape[1], shape[2], 1], tf.bool)
    for n in range(boxes.shape[1]):
        inside = inside | box_mask(boxes[:, n], shape[1], shape[2])
    return tf.where(inside, from_float(source, images.dtype), images)
