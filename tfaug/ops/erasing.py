"""Erasing kernels: fill boxes with a constant, a colour per box, or per-pixel values."""

import tensorflow as tf

from tfaug.ops._xla import fused
from tfaug.ops.dtypes import from_float


def _inside_boxes(boxes, image_height, image_width):
    """Boolean `[B, N, H, W]`: pixel inside box n of image i (`boxes` is `[B, N, 4]`).

    Vectorised over boxes rather than a Python loop over `boxes.shape[1]`: the fused function is traced
    with relaxed shapes once it has seen two box counts, and the count is then unknown at trace time.
    """
    rows = tf.range(image_height, dtype=tf.int32)[None, None, :, None]
    cols = tf.range(image_width, dtype=tf.int32)[None, None, None, :]
    b = boxes[:, :, None, None, :]
    return (rows >= b[..., 0]) & (rows < b[..., 2]) & (cols >= b[..., 1]) & (cols < b[..., 3])


@fused
def fill_boxes(images, boxes, fill):
    """Fills box n of image i with the colour `fill[i, n]` (later boxes drawn over earlier ones).

    Args:
        images: `[B, H, W, C]`, any dtype.
        boxes: int32 `[B, N, 4]` `(y1, x1, y2, x2)`, half-open; empty boxes change nothing.
        fill: float `[B, N, C]` colours in the images' value scale; cast like the images (rounded, clipped).
    """
    shape = tf.shape(images)
    inside = _inside_boxes(boxes, shape[1], shape[2])
    # The last box covering each pixel (-1 where none does) gives its colour.
    order = tf.range(tf.shape(boxes)[1], dtype=tf.int32)[None, :, None, None]
    last = tf.reduce_max(tf.where(inside, order, -1), axis=1)
    colour = tf.gather(from_float(fill, images.dtype), tf.maximum(last, 0), batch_dims=1)
    return tf.where(last[..., None] >= 0, colour, images)


@fused
def fill_boxes_from(images, boxes, source):
    """Replaces the pixels inside any of an image's boxes with the same pixels of `source` (same shape)."""
    shape = tf.shape(images)
    inside = tf.reduce_any(_inside_boxes(boxes, shape[1], shape[2]), axis=1)[..., None]
    return tf.where(inside, from_float(source, images.dtype), images)
