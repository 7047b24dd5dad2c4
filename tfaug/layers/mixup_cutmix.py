"""The MixUp / CutMix switch with label smoothing (timm `Mixup`, the DeiT recipe)."""

import keras
import tensorflow as tf

from tfaug import ops
from tfaug import random as tfr
from tfaug import validation as v
from tfaug.layers._mixing import MixingLayer
from tfaug.layers._mixing import cutmix_boxes
from tfaug.layers._mixing import leave_self_pairs
from tfaug.layers._mixing import minmax_boxes


@keras.saving.register_keras_serializable(package="tfaug")
class MixUpCutMix(MixingLayer):
    """Per image, mixes by CutMix or MixUp (or not at all), then smooths the labels.

    Per image (one draw per batch with `batchwise=True`): with probability `probability` the image is
    mixed; a mixed image uses CutMix with probability `switch_prob`, else MixUp, each with its own Beta
    concentration. `cutmix_minmax=(min, max)` replaces CutMix's Beta draw by box sides uniform in
    `[min, max)` of the image sides (box fully inside the image). Labels are mixed with the exact kept
    fraction (CutMix) or lam (MixUp), then smoothed: `(1 - eps) * y + eps / K`, unmixed images included.
    Both kinds of image are produced by one weighted pass over the batch.

    Args:
        mixup_alpha: MixUp Beta concentration, >= 0; 0 disables MixUp. Default 0.8 (DeiT).
        cutmix_alpha: CutMix Beta concentration, >= 0; 0 disables CutMix unless `cutmix_minmax` is set.
            Default 1.0 (DeiT).
        cutmix_minmax: None, or `(min, max)` box-side fractions with 0 <= min <= max <= 1.
        probability: chance that an image is mixed, in [0, 1]. Default 1.0.
        switch_prob: chance that a mixed image uses CutMix when both are enabled. Default 0.5.
        label_smoothing: eps in [0, 1). Default 0.1 (DeiT).
        num_classes, pairing, batchwise, value_range, seed: as in `CutMix`.

    Raises:
        ValueError: for bad arguments (each named), both mixers disabled, missing labels, sparse labels
            without `num_classes`, masks while MixUp is enabled, bounding boxes, fewer than 2 images.

    Example:
        >>> mix = MixUpCutMix(num_classes=1000, seed=0)   # DeiT defaults
        >>> images, soft_labels = mix((images, sparse_labels))
    """

    def __init__(
        self,
        mixup_alpha=0.8,
        cutmix_alpha=1.0,
        cutmix_minmax=None,
        probability=1.0,
        switch_prob=0.5,
        label_smoothing=0.1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.mixup_alpha = v.check_positive("mixup_alpha", mixup_alpha, allow_zero=True)
        self.cutmix_alpha = v.check_positive("cutmix_alpha", cutmix_alpha, allow_zero=True)
        self.cutmix_minmax = None if cutmix_minmax is None else v.check_range("cutmix_minmax", cutmix_minmax, 0.0, 1.0)
        self.probability = v.check_probability("probability", probability)
        self.switch_prob = v.check_probability("switch_prob", switch_prob)
        self.label_smoothing = v.check_probability("label_smoothing", label_smoothing)
        if self.label_smoothing == 1.0:
            raise ValueError("`label_smoothing` must be < 1 (1 erases the labels), got 1.0.")
        if not self.mixup_enabled and not self.cutmix_enabled:
            raise ValueError(
                "MixUpCutMix needs MixUp or CutMix: set `mixup_alpha` > 0, `cutmix_alpha` > 0 or "
                "`cutmix_minmax`; got mixup_alpha=0 and cutmix_alpha=0."
            )

    @property
    def mixup_enabled(self):
        return self.mixup_alpha > 0

    @property
    def cutmix_enabled(self):
        return self.cutmix_alpha > 0 or self.cutmix_minmax is not None

    def get_random_transformation(self, data, seed):
        if "segmentation_masks" in data and self.mixup_enabled:
            raise ValueError("MixUpCutMix cannot blend `segmentation_masks` while MixUp is enabled; set mixup_alpha=0.")
        shape = tf.shape(data["images"])
        batch_size, height, width = shape[0], shape[1], shape[2]
        seeds = tf.unstack(tfr.split_seed(seed, 6))
        draw_shape = self.draw_shape(batch_size)
        apply = tfr.bernoulli(seeds[0], draw_shape, self.probability)
        if self.mixup_enabled and self.cutmix_enabled:
            use_cutmix = tfr.bernoulli(seeds[1], draw_shape, self.switch_prob)
        else:
            use_cutmix = tf.fill(draw_shape, self.cutmix_enabled)
        paste = apply & use_cutmix
        if self.cutmix_minmax is not None:
            boxes = minmax_boxes(seeds[2], draw_shape, self.cutmix_minmax, height, width)
        elif self.cutmix_enabled:
            lam_cut = tfr.beta(seeds[2], draw_shape, self.cutmix_alpha)
            boxes = cutmix_boxes(seeds[3], draw_shape, lam_cut, height, width)
        else:
            boxes = tf.zeros(tf.concat([draw_shape, [4]], axis=0), tf.int32)
        boxes = self.per_image(tf.where(paste[:, None], boxes, 0), batch_size)
        lam_mix = tfr.beta(seeds[5], draw_shape, self.mixup_alpha) if self.mixup_enabled else 1.0
        lam_mix = self.per_image(tf.where(apply, lam_mix, 1.0), batch_size)
        paste = self.per_image(paste, batch_size)
        return leave_self_pairs(
            {
                "partner": self.draw_partner(seeds[4], batch_size),
                "boxes": boxes,
                "use_cutmix": paste,
                "lambda": tf.where(paste, ops.kept_fraction(boxes, height, width), lam_mix),
            }
        )

    def transform_images(self, images, transformation):
        t = transformation
        return ops.blend_or_paste(images, t["partner"], t["lambda"], t["boxes"], t["use_cutmix"])

    def transform_labels(self, labels, transformation):
        labels = super().transform_labels(labels, transformation)
        return ops.smooth_labels(labels, self.label_smoothing) if self.label_smoothing else labels

    def transform_segmentation_masks(self, masks, transformation):
        return ops.paste(masks, transformation["partner"], transformation["boxes"])

    def get_config(self):
        config = super().get_config()
        config.update(
            mixup_alpha=self.mixup_alpha,
            cutmix_alpha=self.cutmix_alpha,
            cutmix_minmax=self.cutmix_minmax,
            probability=self.probability,
            switch_prob=self.switch_prob,
            label_smoothing=self.label_smoothing,
        )
        return config
