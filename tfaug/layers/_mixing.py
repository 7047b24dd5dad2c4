"""Shared parts of the layers that mix two images of a batch (CutMix, MixUp, MixUpCutMix)."""

import tensorflow as tf

from tfaug import ops
from tfaug import random as tfr
from tfaug import validation as v
from tfaug.layers.base import BaseAugmentation
from tfaug.ops.mixing import PAIRINGS


class MixingLayer(BaseAugmentation):
    """Base of the mixing layers: labels required, a batch of images, a partner for every image.

    An image that has no other image to mix with (a batch of one, such as the last partial batch of a
    dataset) passes through unchanged, with its labels made dense (and smoothed by `MixUpCutMix`): the
    same eagerly, in `tf.function`, in `tf.data` and under `jit_compile`.

    Args:
        pairing: how image i finds its partner. `"permute"` (default): a random cyclic permutation, so
            every image gets a partner other than itself; `"flip"`: i <-> B-1-i (timm, Model Garden);
            `"roll"`: i <- i-1 (torchvision).
    """

    transforms_labels = True
    mixes_batch = True
    keeps_bounding_boxes = False

    def __init__(self, pairing="permute", **kwargs):
        super().__init__(**kwargs)
        self.pairing = v.check_choice("pairing", pairing, PAIRINGS)

    def draw_partner(self, seed, batch_size):
        if self.pairing == "permute":
            return tfr.derangement(seed, batch_size)
        return ops.fixed_partner(batch_size, self.pairing)

    def transform_labels(self, labels, transformation):
        return ops.mix_labels(labels, transformation["partner"], transformation["lambda"])

    def get_config(self):
        config = super().get_config()
        config.update(pairing=self.pairing)
        return config


def leave_self_pairs(transformation):
    """Images paired with themselves are left exactly as they are: `lambda` 1 and an empty box.

    A partner can be the image itself in a batch of 1 whose size is only known at run time (tf.data's
    last partial batch) and in the middle of an odd batch under `"flip"`. Blending an image with itself
    is not exact in floating point (`x * w + x * (1 - w) != x`), so such images get weight 1 instead.
    """
    partner = transformation["partner"]
    alone = tf.equal(partner, tf.range(tf.shape(partner)[0], dtype=partner.dtype))
    out = dict(transformation)
    out["lambda"] = tf.where(alone, 1.0, transformation["lambda"])
    if "boxes" in out:
        out["boxes"] = tf.where(alone[:, None], 0, out["boxes"])
    return out


def cutmix_boxes(seed, shape, lam, image_height, image_width):
    """CutMix boxes for mixing weights `lam`: sides `floor(H * sqrt(1 - lam))`, `floor(W * sqrt(1 - lam))`.

    Height from H and width from W (several libraries took both from one side); centre uniform over
    pixels; the box is clipped to the image. Returns int32 `shape + [4]`.
    """
    cy_seed, cx_seed = tf.unstack(tfr.split_seed(seed, 2))
    side = tf.sqrt(1.0 - lam)
    cut_h = tf.cast(tf.floor(tf.cast(image_height, tf.float32) * side), tf.int32)
    cut_w = tf.cast(tf.floor(tf.cast(image_width, tf.float32) * side), tf.int32)
    cy = tfr.randint(cy_seed, shape, 0, image_height)
    cx = tfr.randint(cx_seed, shape, 0, image_width)
    return ops.centered_boxes(cy, cx, cut_h, cut_w, image_height, image_width)


def minmax_boxes(seed, shape, cutmix_minmax, image_height, image_width):
    """Boxes with sides uniform in `[int(H * min), int(H * max))` (and likewise W), fully inside the image."""
    h_seed, w_seed, top_seed, left_seed = tf.unstack(tfr.split_seed(seed, 4))
    lo, hi = cutmix_minmax
    height_f = tf.cast(image_height, tf.float32)
    width_f = tf.cast(image_width, tf.float32)
    cut_h = tfr.randint(h_seed, shape, tf.cast(height_f * lo, tf.int32), tf.cast(height_f * hi, tf.int32))
    cut_w = tfr.randint(w_seed, shape, tf.cast(width_f * lo, tf.int32), tf.cast(width_f * hi, tf.int32))
    top = tfr.randint(top_seed, shape, 0, image_height - cut_h + 1)
    left = tfr.randint(left_seed, shape, 0, image_width - cut_w + 1)
    return ops.corner_boxes(top, left, cut_h, cut_w)
