"""Severity tables and the size classes the corruptions' parameters come in.

ImageNet-C's parameters are for 224 x 224 images; CIFAR-10-C (32 x 32) and Tiny-ImageNet-C (64 x 64) use
smaller kernels and amplitudes for the same five severities. Every corruption keeps one table per size
class, and `table_for` picks the class from the images' shorter side.
"""

import tensorflow as tf

#: The size classes, largest images first.
TABLES = ("imagenet", "tiny_imagenet", "cifar")
#: Images need at least this many rows and columns: every corruption runs from 4 pixels a side (pixelate
#: needs a pixel left after shrinking), and 8 is the smallest size the small-image tables make sense for.
MIN_SIDE = 8
SEVERITIES = (1, 2, 3, 4, 5)


def table_for(height, width):
    """The size class for `height` x `width` images: CIFAR's up to 48 px, Tiny-ImageNet's up to 128 px."""
    side = min(height, width)
    if side <= 48:
        return "cifar"
    if side <= 128:
        return "tiny_imagenet"
    return "imagenet"


def by_severity(rows, severity):
    """The parameters of each image: `rows` is a 5-row table (one row, or number, per severity),
    `severity` an int32 `[B]` tensor in 1..5. Returns a float32 `[B, ...]` tensor."""
    return tf.gather(tf.constant(rows, tf.float32), severity - 1)


def per_image(rows, severity):
    """`by_severity` for a table of one number per severity, shaped `[B, 1, 1, 1]` to broadcast over each
    image's pixels."""
    return by_severity(rows, severity)[:, None, None, None]
