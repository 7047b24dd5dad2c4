"""One ImageNet-C corruption (`tfaug.corruptions`) as an augmentation layer."""

import keras
import tensorflow as tf

from tfaug import corruptions
from tfaug import random as tfr
from tfaug.layers._corrupting import CorruptionLayer


@keras.saving.register_keras_serializable(package="tfaug")
class Corruption(CorruptionLayer):
    """Applies one ImageNet-C corruption (`tfaug.corruptions`) to every image, at a given or random severity.

    Per image (one severity per batch with `batchwise=True`; the corruption's own noise is always per
    image): the severity, uniform on the integers of `severity`, and the corruption's random draws.

    Warning: a model trained with a corruption has seen it; its error under that corruption no longer
    measures robustness to an unseen shift. To claim robustness on `tfaug.corruptions.COMMON`, train with
    other augmentations (as AugMix does) and keep these corruptions for evaluation.

    Args:
        corruption: a name in `tfaug.corruptions.CORRUPTIONS`.
        severity: an int in 1..5, or an inclusive `(low, high)` range of them. Default `(1, 5)`.
        table: `"auto"` (parameters by image size) or one of `tfaug.corruptions.TABLES`.
        value_range, batchwise, seed: see `BaseAugmentation`.

    Inputs: images `[B, H, W, C]` or `[H, W, C]`, C = 1 or 3, static H, W >= 8, any dtype (returned in
    it); labels pass through; masks and boxes pass through, except for `elastic_transform`, which moves
    pixels and refuses them.

    Example:
        >>> Corruption("fog", severity=3, seed=0)(images)
    """

    def __init__(self, corruption, severity=(1, 5), table="auto", **kwargs):
        super().__init__(severity=severity, table=table, **kwargs)
        self.corruption = corruptions.check_corruption(corruption)

    def _corruptions(self):
        return (self.corruption,)

    def get_random_transformation(self, data, seed):
        severity_seed, noise_seed = tf.unstack(tfr.split_seed(seed, 2))
        batch_size = tf.shape(data["images"])[0]
        return {"severity": self._draw_severity(severity_seed, batch_size), "seed": noise_seed}

    def transform_images(self, images, transformation):
        self._check(images)
        severity, seed = transformation["severity"], transformation["seed"]
        return corruptions.apply(images, self.corruption, severity, seed, self.table, self.value_range)

    def get_config(self):
        config = super().get_config()
        config.update(corruption=self.corruption)
        return config
