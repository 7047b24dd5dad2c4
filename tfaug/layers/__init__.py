"""Keras preprocessing layers (one per file)."""

from tfaug.layers.aug_mix import AugMix
from tfaug.layers.aug_mix import AugMixConsistency
from tfaug.layers.aug_mix import augmix_views
from tfaug.layers.auto_augment import AutoAugment
from tfaug.layers.base import BaseAugmentation
from tfaug.layers.corruption import Corruption
from tfaug.layers.cutmix import CutMix
from tfaug.layers.cutout import Cutout
from tfaug.layers.label_smoothing import LabelSmoothing
from tfaug.layers.mixup import MixUp
from tfaug.layers.mixup_cutmix import MixUpCutMix
from tfaug.layers.rand_augment import RandAugment
from tfaug.layers.random_corruption import RandomCorruption
from tfaug.layers.random_erasing import RandomErasing
from tfaug.layers.trivial_augment_wide import TrivialAugmentWide

#: The augmentation layers by name. A name is the layer's one spelling everywhere: its `tfaug.data` map
#: function, its module here and its `tfaug` command-line name (`--augment`).
AUGMENTATIONS = {
    "cutmix": CutMix,
    "mixup": MixUp,
    "mixup_cutmix": MixUpCutMix,
    "cutout": Cutout,
    "random_erasing": RandomErasing,
    "label_smoothing": LabelSmoothing,
    "rand_augment": RandAugment,
    "auto_augment": AutoAugment,
    "trivial_augment_wide": TrivialAugmentWide,
    "aug_mix": AugMix,
    "corruption": Corruption,
    "random_corruption": RandomCorruption,
}

__all__ = [
    "AUGMENTATIONS",
    "AugMix",
    "AugMixConsistency",
    "AutoAugment",
    "BaseAugmentation",
    "Corruption",
    "CutMix",
    "Cutout",
    "LabelSmoothing",
    "MixUp",
    "MixUpCutMix",
    "RandAugment",
    "RandomCorruption",
    "RandomErasing",
    "TrivialAugmentWide",
    "augmix_views",
]
