"""The base of the corruption layers (`Corruption`, `RandomCorruption`): severities, checks, masks."""

import numbers

import tensorflow as tf

from tfaug import corruptions
from tfaug import random as tfr
from tfaug.layers.base import BaseAugmentation

#: The corruptions that move pixels: masks and boxes would have to move with them.
_GEOMETRIC = ("elastic_transform",)


class CorruptionLayer(BaseAugmentation):
    """Shared by the two layers: severity sampling and the checks (see `Corruption`)."""

    uses_value_range = True

    def __init__(self, severity=(1, 5), table="auto", **kwargs):
        super().__init__(**kwargs)
        self.severity = check_severity(severity)
        self.table = corruptions.check_table(table)

    def _draw_severity(self, seed, batch_size):
        low, high = self.severity
        n = 1 if self.batchwise else batch_size
        return tf.broadcast_to(tfr.randint(seed, [n], low, high + 1), [batch_size])

    def _check(self, images):
        corruptions.check_images(images, self._name_for_errors)

    def _refuse_geometry(self, what):
        moving = [name for name in self._corruptions() if name in _GEOMETRIC]
        if moving:
            raise ValueError(
                f"{self._name_for_errors}: {moving[0]} moves pixels but not {what}; pass images and labels only, "
                "or leave it out of the corruptions."
            )

    def transform_segmentation_masks(self, masks, transformation):
        self._refuse_geometry("segmentation masks")
        return masks

    def _check_boxes_supported(self):
        self._refuse_geometry("bounding boxes")

    def get_config(self):
        config = super().get_config()
        config.update(severity=self.severity, table=self.table)
        return config


def check_severity(severity):
    """An int in 1..5 or an inclusive `(low, high)` pair of them -> the pair."""
    pair = (severity, severity) if isinstance(severity, numbers.Integral) else severity
    ok = isinstance(pair, (tuple, list)) and len(pair) == 2
    ok = ok and all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and 1 <= s <= 5 for s in pair)
    if not ok or pair[0] > pair[1]:
        raise ValueError(
            f"`severity` must be an int in 1..5 or a (low, high) pair of them with low <= high, got {severity!r}."
        )
    return (int(pair[0]), int(pair[1]))
