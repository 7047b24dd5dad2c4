"""Label smoothing (Szegedy et al., CVPR 2016) as a pipeline layer."""

import keras

from tfaug import ops
from tfaug import validation as v
from tfaug.layers.base import BaseAugmentation


@keras.saving.register_keras_serializable(package="tfaug")
class LabelSmoothing(BaseAugmentation):
    """Smooths labels: `y' = (1 - eps) * y + eps / K` (on `1 - eps + eps/K`, off `eps/K`).

    Deterministic; images are returned unchanged. This is the multi-class smoothing of the paper and of
    `keras.losses.CategoricalCrossentropy(label_smoothing=eps)`; Keras's *binary* cross-entropy
    smoothing squeezes toward 0.5 instead, a different thing. Smoothing commutes with mixing.

    Args:
        label_smoothing: eps in [0, 1). Default 0.1.
        num_classes: needed for sparse integer labels, which are returned one-hot and smoothed.

    Inputs: `(images, labels)` or a dict with `labels`; labels dense `[B, K]` or sparse `[B]`.

    Raises:
        ValueError: for eps outside [0, 1), missing labels, sparse labels without `num_classes`.

    Example:
        >>> images, labels = LabelSmoothing(0.1, num_classes=10)((images, sparse_labels))
    """

    transforms_labels = True

    def __init__(self, label_smoothing=0.1, **kwargs):
        super().__init__(**kwargs)
        self.label_smoothing = v.check_probability("label_smoothing", label_smoothing)
        if self.label_smoothing == 1.0:
            raise ValueError("`label_smoothing` must be < 1 (1 erases the labels), got 1.0.")

    def get_random_transformation(self, data, seed):
        return {}

    def transform_labels(self, labels, transformation):
        return ops.smooth_labels(labels, self.label_smoothing)

    def get_config(self):
        config = super().get_config()
        config.update(label_smoothing=self.label_smoothing)
        return config
