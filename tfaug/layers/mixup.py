"""MixUp (Zhang et al., ICLR 2018): convex combination of two images and their labels."""

import keras
import tensorflow as tf

from tfaug import ops
from tfaug import random as tfr
from tfaug import validation as v
from tfaug.layers._mixing import MixingLayer
from tfaug.layers._mixing import leave_self_pairs


@keras.saving.register_keras_serializable(package="tfaug")
class MixUp(MixingLayer):
    """Blends each image with a partner: `x = lam * x_i + (1 - lam) * x_j`, labels likewise.

    Per image (one draw per batch with `batchwise=True`): `lam ~ Beta(alpha, alpha)`; with probability
    `1 - probability` the image is left as it is (`lam = 1`). Blending is computed in float and cast back
    to the input dtype (integers rounded half-to-even).

    Args:
        alpha: Beta concentration, > 0. Default 0.2 (the paper's ImageNet value; it used 0.1 to 0.4).
        probability: chance that an image is mixed, in [0, 1]. Default 1.0.
        num_classes, pairing, batchwise, value_range, seed: as in `CutMix`.

    Inputs: `(images, labels)` or `{"images", "labels"}`. Segmentation masks cannot be blended and raise.

    Raises:
        ValueError: for `alpha <= 0`, `probability` outside [0, 1], missing labels, sparse labels without
            `num_classes`, segmentation masks, bounding boxes, or fewer than 2 images.

    Example:
        >>> images, labels = MixUp(alpha=0.2, seed=0)((images, one_hot_labels))

    Reference: Zhang et al., "mixup: Beyond Empirical Risk Minimization", ICLR 2018.
    """

    def __init__(self, alpha=0.2, probability=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = v.check_positive("alpha", alpha)
        self.probability = v.check_probability("probability", probability)

    def get_random_transformation(self, data, seed):
        if "segmentation_masks" in data:
            raise ValueError("MixUp cannot blend `segmentation_masks` (class ids do not mix); use CutMix.")
        batch_size = tf.shape(data["images"])[0]
        lam_seed, apply_seed, partner_seed = tf.unstack(tfr.split_seed(seed, 3))
        draw_shape = self.draw_shape(batch_size)
        lam = tfr.beta(lam_seed, draw_shape, self.alpha)
        lam = tf.where(tfr.bernoulli(apply_seed, draw_shape, self.probability), lam, 1.0)
        return leave_self_pairs(
            {
                "partner": self.draw_partner(partner_seed, batch_size),
                "lambda": self.per_image(lam, batch_size),
            }
        )

    def transform_images(self, images, transformation):
        return ops.blend(images, transformation["partner"], transformation["lambda"])

    def get_config(self):
        config = super().get_config()
        config.update(alpha=self.alpha, probability=self.probability)
        return config
