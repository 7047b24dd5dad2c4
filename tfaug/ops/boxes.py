"""Integer boxes `(y1, x1, y2, x2)`, half-open, in pixels: construction, masks and areas."""

import tensorflow as tf


def centered_boxes(center_y, center_x, height, width, image_height, image_width):
    """Boxes `[cy - h//2, cy + h//2) x [cx - w//2, cx + w//2)` clipped to the image (CutMix, Cutout).

    This is the reference CutMix convention: an odd side loses one pixel. All arguments are int tensors
    of the same shape (or scalars); returns int32 `[..., 4]`.
    """
    half_h = tf.cast(height, tf.int32) // 2
    half_w = tf.cast(width, tf.int32) // 2
    cy = tf.cast(center_y, tf.int32)
    cx = tf.cast(center_x, tf.int32)
    image_height = tf.cast(image_height, tf.int32)
    image_width = tf.cast(image_width, tf.int32)
    y1 = tf.clip_by_value(cy - half_h, 0, image_height)
    y2 = tf.clip_by_value(cy + half_h, 0, image_height)
    x1 = tf.clip_by_value(cx - half_w, 0, image_width)
    x2 = tf.clip_by_value(cx + half_w, 0, image_width)
    return tf.stack([y1, x1, y2, x2], axis=-1)


def corner_boxes(top, left, height, width):
    """Boxes from their top-left corner and size, int32 `[..., 4]` (Random Erasing, CutMix min/max)."""
    top = tf.cast(top, tf.int32)
    left = tf.cast(left, tf.int32)
    return tf.stack([top, left, top + tf.cast(height, tf.int32), left + tf.cast(width, tf.int32)], axis=-1)


def box_area(boxes):
    """Pixel count of each box (int32)."""
    return tf.maximum(boxes[..., 2] - boxes[..., 0], 0) * tf.maximum(boxes[..., 3] - boxes[..., 1], 0)


def kept_fraction(boxes, image_height, image_width):
    """`1 - area / (H * W)` for one box per image, exact: one float division of two integers. An image
    without pixels keeps all of them (1), not 0 / 0."""
    total = tf.cast(image_height, tf.int32) * tf.cast(image_width, tf.int32)
    fraction = tf.cast(total - box_area(boxes), tf.float32) / tf.cast(tf.maximum(total, 1), tf.float32)
    return tf.where(total > 0, fraction, 1.0)


def box_mask(boxes, image_height, image_width):
    """Boolean `[B, H, W, 1]` mask of the pixels inside each image's box (`boxes` is `[B, 4]`)."""
    rows = tf.range(image_height, dtype=tf.int32)[None, :, None, None]
    cols = tf.range(image_width, dtype=tf.int32)[None, None, :, None]
    b = boxes[:, None, None, None, :]
    return (rows >= b[..., 0]) & (rows < b[..., 2]) & (cols >= b[..., 1]) & (cols < b[..., 3])
