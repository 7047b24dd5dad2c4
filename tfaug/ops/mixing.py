"""Batch-mixing kernels: paste a partner's box (CutMix) or blend with a partner (MixUp).

`partner` is an int32 `[B]` index vector: image `i` is mixed with image `partner[i]` of the same batch.
"""

import tensorflow as tf

from tfaug.ops._xla import fused
from tfaug.ops.boxes import box_mask
from tfaug.ops.dtypes import from_float
from tfaug.ops.dtypes import to_float

PAIRINGS = ("permute", "flip", "roll")


def fixed_partner(batch_size, pairing):
    """Deterministic pairings: `"flip"` pairs i with B-1-i (timm, Model Garden); `"roll"` takes i-1 (torchvision)."""
    index = tf.range(batch_size, dtype=tf.int32)
    if pairing == "flip":
        return tf.reverse(index, axis=[0])
    if pairing == "roll":
        return tf.roll(index, shift=1, axis=0)
    raise ValueError(f"`pairing` must be 'flip' or 'roll' here, got {pairing!r}.")


def _mask_like(boxes, x):
    """`[B, H, W, 1]` box mask, or `[B, H, W]` for rank-3 (segmentation mask) inputs."""
    shape = tf.shape(x)
    mask = box_mask(boxes, shape[1], shape[2])
    return mask[..., 0] if x.shape.rank == 3 else mask


@fused
def paste(images, partner, boxes):
    """Copies `images[partner[i]]` into `boxes[i]` of image i; exact for every dtype.

    Float images use `x * (1 - inside) + partner * inside` with `inside` in {0, 1}, which XLA fuses into
    one loop (cheaper than a select on CPU) and which is exact for finite values; integer
    images (and masks) use a select.

    Args:
        images: `[B, H, W, C]` (or `[B, H, W]` masks), any dtype.
        partner: int32 `[B]`.
        boxes: int32 `[B, 4]` `(y1, x1, y2, x2)`, half-open; an empty box leaves the image unchanged.
    """
    inside = _mask_like(boxes, images)
    if images.dtype.is_floating:
        weight = tf.cast(inside, images.dtype)
        return images * (1.0 - weight) + tf.gather(images, partner) * weight
    return tf.where(inside, tf.gather(images, partner), images)


@fused
def blend(images, partner, weight):
    """`weight[i] * images[i] + (1 - weight[i]) * images[partner[i]]` in float, cast back to the input dtype."""
    x = to_float(images)
    w = tf.cast(weight, x.dtype)[:, None, None, None]
    return from_float(x * w + tf.gather(x, partner) * (1.0 - w), images.dtype)


@fused
def blend_or_paste(images, partner, weight, boxes, use_paste):
    """Per image, either `blend` with `weight` or `paste` the box, as a single weighted pass.

    The pixel weight is `weight[i]` for blended images and 1 outside / 0 inside the box for pasted ones,
    so both kinds of image cost one fused loop and pasted pixels stay exact (x * 1 + p * 0 == x).
    """
    x = to_float(images)
    inside = tf.cast(_mask_like(boxes, images), x.dtype)
    w = tf.where(use_paste[:, None, None, None], 1.0 - inside, tf.cast(weight, x.dtype)[:, None, None, None])
    return from_float(x * w + tf.gather(x, partner) * (1.0 - w), images.dtype)
