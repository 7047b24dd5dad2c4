"""Per-image mirror flips of images, segmentation masks and bounding boxes (RandomFlip).

Flips move values without arithmetic, so every dtype and every channel count is flipped exactly; each image
has its own horizontal and vertical switch (`[B]` booleans), drawn by the caller.
"""

import tensorflow as tf

from tfaug.ops import bounding_boxes as box_ops
from tfaug.ops._xla import fused


def _switch(flags, rank):
    """`[B]` booleans shaped to broadcast against a rank-`rank` batch."""
    return tf.reshape(tf.convert_to_tensor(flags, tf.bool), [-1] + [1] * (rank - 1))


def flip(images, horizontal=None, vertical=None):
    """Mirrors image `i` left-right where `horizontal[i]` and upside down where `vertical[i]`.

    Args:
        images: `[B, H, W, C]` images or `[B, H, W]` / `[B, H, W, 1]` masks, any dtype.
        horizontal: `[B]` booleans, or None (no horizontal flips).
        vertical: `[B]` booleans, or None (no vertical flips).

    Returns:
        `images` with the selected images flipped: same shape and dtype, values moved, never changed.
    """
    images = tf.convert_to_tensor(images)
    if images.shape.rank not in (3, 4):
        raise ValueError(f"`flip` expects a batch [B, H, W] or [B, H, W, C], got shape {images.shape}.")
    if horizontal is None and vertical is None:
        return images
    switches = [None if flags is None else tf.convert_to_tensor(flags, tf.bool) for flags in (horizontal, vertical)]
    return _flip(images, *switches)


@fused
def _flip(images, horizontal, vertical):
    # A select between the batch and its reverse: one pass once XLA fuses them, exact for every dtype.
    rank = images.shape.rank
    if horizontal is not None:
        images = tf.where(_switch(horizontal, rank), tf.reverse(images, axis=[2]), images)
    if vertical is not None:
        images = tf.where(_switch(vertical, rank), tf.reverse(images, axis=[1]), images)
    return images


def flip_boxes(boxes, horizontal, vertical, height, width):
    """Pixel `xyxy` boxes `[B, N, 4]` of the images `flip` flips with the same switches.

    A flip is a bijection of the image onto itself, so boxes inside the image stay inside and keep their
    size: left-right, `(x1, x2) -> (W - x2, W - x1)`; upside down, `(y1, y2) -> (H - y2, H - y1)`.
    """
    x1, y1, x2, y2 = tf.unstack(tf.cast(boxes, tf.float32), 4, axis=-1)
    w, h = tf.cast(width, tf.float32), tf.cast(height, tf.float32)
    if horizontal is not None:
        flipped = _switch(horizontal, 2)
        x1, x2 = tf.where(flipped, w - x2, x1), tf.where(flipped, w - x1, x2)
    if vertical is not None:
        flipped = _switch(vertical, 2)
        y1, y2 = tf.where(flipped, h - y2, y1), tf.where(flipped, h - y1, y2)
    return tf.stack([x1, y1, x2, y2], axis=-1)


def flip_bounding_boxes(bounding_boxes, horizontal, vertical, height, width, bounding_box_format):
    """Keras's box dict (`{"boxes": [B, N, 4], "labels": [B, N]}` in `bounding_box_format`) after `flip`."""
    boxes = bounding_boxes["boxes"]
    pixels = box_ops.to_xyxy(boxes, bounding_box_format, height, width)
    moved = flip_boxes(pixels, horizontal, vertical, height, width)
    moved = box_ops.from_xyxy(moved, bounding_box_format, height, width, boxes.dtype)
    return {"boxes": moved, "labels": bounding_boxes["labels"]}
