"""ResizeMix (Qin et al. 2020): paste a whole partner image, shrunk, and mix labels by the pasted area."""

import keras
import tensorflow as tf

from tfaug import ops
from tfaug import random as tfr
from tfaug import validation as v
from tfaug.layers._mixing import MixingLayer
from tfaug.layers._mixing import leave_self_pairs
from tfaug.layers._pasting import PastesBoxes
from tfaug.ops import bounding_boxes as box_ops
from tfaug.ops.boxes import box_mask


@keras.saving.register_keras_serializable(package="tfaug")
class ResizeMix(PastesBoxes, MixingLayer):
    """Shrinks each image's partner as a whole and pastes it at a random place; labels mixed by area.

    Per image (one draw per batch with `batchwise=True`): `tau ~ U(side_scale)`; the whole partner image is
    resized (bilinear, half-pixel centres, no antialiasing, as `tf.image.resize` and PyTorch's
    `interpolate(..., align_corners=False)`) to `floor(tau * H)` by `floor(tau * W)` pixels and pasted
    with its top-left corner uniform over the places where it fits inside the image. Labels become
    `lam * y + (1 - lam) * y_partner` with `lam = 1 - pasted pixels / (H * W)`, exactly. With probability
    `1 - probability` an image is left as it is (`lam = 1`). A side of 0 pixels (`tau * H < 1`) pastes
    nothing.

    Unlike CutMix's box, the pasted rectangle holds the whole partner, so its object is never cut off:
    the label of the partner is "true" (the paper's point), and an image keeps its own object where the
    rectangle does not cover it.

    Args:
        side_scale: `(min, max)` of `tau`, the pasted side as a fraction of the image side, with
            0 < min <= max <= 1. Default (0.1, 0.8), the paper's.
        probability: chance that an image is mixed, in [0, 1]. Default 1.0.
        num_classes, pairing, batchwise, value_range, seed, bounding_box_format: as in `CutMix`.

    Inputs: `(images, labels)` or `{"images", "labels", "segmentation_masks", "bounding_boxes"}`; images
    `[B, H, W, C]` of any float or integer dtype (returned in the same dtype; integer images are resized
    in float and rounded half-to-even), labels dense `[B, K]` or sparse integer `[B]` with `num_classes`.
    Masks are resized with nearest neighbour and pasted alike.

    Bounding boxes come back as in `CutMix`, `[B, 2N, 4]` and `[B, 2N]`: each image's own boxes, cut by
    the pasted rectangle as CutMix cuts them, then its partner's boxes scaled and moved with the partner
    into the rectangle (all of them kept; -1 labels where nothing was pasted).

    Raises:
        ValueError: for `side_scale` not a pair with 0 < min <= max <= 1, `probability` outside [0, 1], images
            without labels, sparse labels without `num_classes`, unbatched images, or bounding boxes
            without `bounding_box_format`.

    Example:
        >>> images = tf.random.uniform([8, 24, 40, 3], maxval=255)
        >>> images, labels = ResizeMix(seed=0, num_classes=10)((images, tf.range(8) % 10))

    Reference: Qin et al., "ResizeMix: Mixing Data with Preserved Object Information and True Labels",
    arXiv:2012.11101, 2020.
    """

    def __init__(self, side_scale=(0.1, 0.8), probability=1.0, **kwargs):
        super().__init__(**kwargs)
        self.side_scale = v.check_range("side_scale", side_scale, 0.0, 1.0)
        if self.side_scale[0] <= 0:
            raise ValueError(f"`side_scale` must have min > 0 (a fraction of the side in (0, 1]), got {side_scale!r}.")
        self.probability = v.check_probability("probability", probability)

    def get_random_transformation(self, data, seed):
        shape = tf.shape(data["images"])
        batch_size, height, width = shape[0], shape[1], shape[2]
        tau_seed, apply_seed, top_seed, left_seed, partner_seed = tf.unstack(tfr.split_seed(seed, 5))
        draw_shape = self.draw_shape(batch_size)
        tau = tfr.uniform(tau_seed, draw_shape, *self.side_scale)
        # An image that is not mixed gets an empty rectangle, so lam = 1 comes out of the same formula.
        tau = tf.where(tfr.bernoulli(apply_seed, draw_shape, self.probability), tau, 0.0)
        cut_h = tf.cast(tf.floor(tf.cast(height, tf.float32) * tau), tf.int32)
        cut_w = tf.cast(tf.floor(tf.cast(width, tf.float32) * tau), tf.int32)
        top = tfr.randint(top_seed, draw_shape, 0, height - cut_h + 1)
        left = tfr.randint(left_seed, draw_shape, 0, width - cut_w + 1)
        boxes = self.per_image(ops.corner_boxes(top, left, cut_h, cut_w), batch_size)
        return leave_self_pairs(
            {
                "partner": self.draw_partner(partner_seed, batch_size),
                "boxes": boxes,
                "matrices": paste_matrices(boxes, height, width),
                "lambda": ops.kept_fraction(boxes, height, width),
            }
        )

    def transform_images(self, images, transformation):
        return resize_paste(images, transformation, "bilinear")

    def transform_segmentation_masks(self, masks, transformation):
        return resize_paste(masks, transformation, "nearest")

    def partner_boxes(self, pixels, transformation):
        return box_ops.transform(pixels, transformation["matrices"])

    def get_config(self):
        config = super().get_config()
        config.update(side_scale=self.side_scale, probability=self.probability)
        return config


def paste_matrices(boxes, height, width):
    """float32 `[B, 3, 3]` matrices that map each rectangle `boxes[i]` (int32 `(y1, x1, y2, x2)`) onto the
    whole image, output point to input point (`tfaug.ops.transform`): resampling an image through them
    shrinks it into the rectangle. An empty rectangle gets scale 1 (nothing of it is pasted)."""
    y1, x1, y2, x2 = tf.unstack(tf.cast(boxes, tf.float32), 4, axis=-1)
    h, w = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    sy = tf.where(y2 > y1, h / tf.maximum(y2 - y1, 1.0), 1.0)
    sx = tf.where(x2 > x1, w / tf.maximum(x2 - x1, 1.0), 1.0)
    zero, one = tf.zeros_like(sx), tf.ones_like(sx)
    rows = [sx, zero, -x1 * sx, zero, sy, -y1 * sy, zero, zero, one]
    return tf.reshape(tf.stack(rows, axis=-1), [-1, 3, 3])


def resize_paste(images, transformation, interpolation):
    """`images` with `images[partner[i]]`, resized through `matrices[i]`, inside `boxes[i]` of image i."""
    resized = ops.transform(tf.gather(images, transformation["partner"]), transformation["matrices"], interpolation)
    shape = tf.shape(images)
    inside = box_mask(transformation["boxes"], shape[1], shape[2])
    return tf.where(inside if images.shape.rank == 4 else inside[..., 0], resized, images)
