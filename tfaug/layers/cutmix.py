"""CutMix (Yun et al., ICCV 2019): paste a box of a partner image, mix labels by the pasted area."""

import keras
import tensorflow as tf

from tfaug import ops
from tfaug import random as tfr
from tfaug import validation as v
from tfaug.layers._mixing import MixingLayer
from tfaug.layers._mixing import cutmix_boxes
from tfaug.layers._mixing import leave_self_pairs
from tfaug.layers._pasting import PastesBoxes


@keras.saving.register_keras_serializable(package="tfaug")
class CutMix(PastesBoxes, MixingLayer):
    """Pastes a random box of a partner image into each image and mixes the labels by area.

    Per image (one draw per batch with `batchwise=True`): `lam ~ Beta(alpha, alpha)`; a box of
    `floor(H * sqrt(1 - lam))` by `floor(W * sqrt(1 - lam))` pixels centred on a uniform pixel, clipped
    to the image, is copied from the partner image. Labels become `lam' * y + (1 - lam') * y_partner`
    where `lam'` is the fraction of pixels kept after clipping, exactly. With probability
    `1 - probability` an image is left as it is (`lam' = 1`).

    Args:
        alpha: Beta concentration, > 0. Default 1.0 (uniform lam), as in the paper's ImageNet recipe.
        probability: chance that an image is mixed, in [0, 1]. Default 1.0 (the paper used 0.5 on CIFAR).
        num_classes: needed for sparse integer labels, which are returned one-hot.
        pairing: `"permute"` (default), `"flip"` or `"roll"`; see `MixingLayer`.
        batchwise: one lam, box and apply decision for the whole batch. Default False (per image).
        value_range: `(low, high)` of pixel values, default `(0, 255)` (CutMix moves pixels only).
        seed: int seed, or None for OS entropy.
        bounding_box_format: the format of `bounding_boxes` inputs (see `BaseAugmentation`); needed for boxes.

    Inputs: `(images, labels)` or `{"images", "labels", "segmentation_masks", "bounding_boxes"}`; images
    `[B, H, W, C]` of any float or integer dtype (returned in the same dtype, pixels copied exactly),
    labels dense `[B, K]` or sparse integer `[B]` with `num_classes`. Masks are pasted like images.

    Bounding boxes (Keras's dict, `{"boxes": [B, N, 4], "labels": [B, N]}`) come back as `[B, 2N, 4]` and
    `[B, 2N]`: each image's own N boxes, then the N boxes of the image pasted into it.
    An own box shrinks to the smallest box around what is still visible of it, which changes it only
    when the pasted rectangle covers it across its full height or full width; it is dropped when more
    than half of it is covered or nothing of it stays visible. A partner's box is cut to the pasted
    rectangle; it is dropped when less than half of it lies inside the rectangle. A dropped box keeps its
    coordinates and gets the label -1; boxes labelled -1 stay -1. An image that was not mixed keeps its
    boxes and gets only -1 labels in the second half. Boxes come back in the input format and dtype.

    Raises:
        ValueError: for `alpha <= 0`, `probability` outside [0, 1], images without labels, sparse labels
            without `num_classes`, unbatched images, or bounding boxes without `bounding_box_format`.

    Example:
        >>> images = tf.random.uniform([8, 24, 40, 3], maxval=255)
        >>> images, labels = CutMix(seed=0, num_classes=10)((images, tf.range(8) % 10))

    Reference: Yun et al., "CutMix: Regularization Strategy to Train Strong Classifiers with Localizable
    Features", ICCV 2019.
    """

    def __init__(self, alpha=1.0, probability=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = v.check_positive("alpha", alpha)
        self.probability = v.check_probability("probability", probability)

    def get_random_transformation(self, data, seed):
        shape = tf.shape(data["images"])
        batch_size, height, width = shape[0], shape[1], shape[2]
        lam_seed, apply_seed, box_seed, partner_seed = tf.unstack(tfr.split_seed(seed, 4))
        draw_shape = self.draw_shape(batch_size)
        lam = tfr.beta(lam_seed, draw_shape, self.alpha)
        apply = tfr.bernoulli(apply_seed, draw_shape, self.probability)
        # An image that is not mixed gets an empty box, so lam' = 1 comes out of the same formula.
        lam = tf.where(apply, lam, 1.0)
        boxes = self.per_image(cutmix_boxes(box_seed, draw_shape, lam, height, width), batch_size)
        return leave_self_pairs(
            {
                "partner": self.draw_partner(partner_seed, batch_size),
                "boxes": boxes,
                "lambda": ops.kept_fraction(boxes, height, width),
            }
        )

    def transform_images(self, images, transformation):
        return ops.paste(images, transformation["partner"], transformation["boxes"])

    def transform_segmentation_masks(self, masks, transformation):
        return ops.paste(masks, transformation["partner"], transformation["boxes"])

    def get_config(self):
        config = super().get_config()
        config.update(alpha=self.alpha, probability=self.probability)
        return config
