"""Keras preprocessing layers (one per file)."""

from tfaug.layers.aug_mix import AugMix
from tfaug.layers.aug_mix import AugMixConsistency
from tfaug.layers.aug_mix import augmix_views
from tfaug.layers.auto_augment import AutoAugment
from tfaug.layers.base import BaseAugmentation
from tfaug.layers.color_jitter import ColorJitter
from tfaug.layers.corruption import Corruption
from tfaug.layers.cutmix import CutMix
from tfaug.layers.cutout import Cutout
from tfaug.layers.dsu import DSU
from tfaug.layers.gaussian_noise import GaussianNoise
from tfaug.layers.label_smoothing import LabelSmoothing
from tfaug.layers.mix_style import MixStyle
from tfaug.layers.mixup import MixUp
from tfaug.layers.mixup_cutmix import MixUpCutMix
from tfaug.layers.rand_augment import RandAugment
from tfaug.layers.rand_conv import RandConv
from tfaug.layers.random_apply import RandomApply
from tfaug.layers.random_choice import RandomChoice
from tfaug.layers.random_corruption import RandomCorruption
from tfaug.layers.random_erasing import RandomErasing
from tfaug.layers.random_flip import RandomFlip
from tfaug.layers.random_grayscale import RandomGrayscale
from tfaug.layers.random_order import RandomOrder
from tfaug.layers.random_resized_crop import RandomResizedCrop
from tfaug.layers.resize_mix import ResizeMix
from tfaug.layers.saliency_mix import SaliencyMix
from tfaug.layers.style_augmentation import StyleAugmentation
from tfaug.layers.trivial_augment_wide import TrivialAugmentWide

#: The augmentation layers by name. A name is the layer's one spelling everywhere: its `tfaug.data` map
#: function, its module here and its `tfaug` command-line name (`--augment`).
AUGMENTATIONS = {
    "cutmix": CutMix,
    "mixup": MixUp,
    "mixup_cutmix": MixUpCutMix,
    "resize_mix": ResizeMix,
    "saliency_mix": SaliencyMix,
    "cutout": Cutout,
    "random_erasing": RandomErasing,
    "label_smoothing": LabelSmoothing,
    "rand_augment": RandAugment,
    "auto_augment": AutoAugment,
    "trivial_augment_wide": TrivialAugmentWide,
    "aug_mix": AugMix,
    "corruption": Corruption,
    "random_corruption": RandomCorruption,
    "rand_conv": RandConv,
    "random_flip": RandomFlip,
    "color_jitter": ColorJitter,
    "gaussian_noise": GaussianNoise,
    "random_grayscale": RandomGrayscale,
    "random_resized_crop": RandomResizedCrop,
}

#: Augmentation layers built around models the user supplies (StyleAugmentation's encoder and decoder), by the
#: same kind of name. Kept apart from `AUGMENTATIONS` because a name alone cannot build them, so they are no
#: `--augment` command-line names; their `tfaug.data` map functions take the models as arguments.
MODEL_AUGMENTATIONS = {
    "style_augmentation": StyleAugmentation,
}

#: Layers that compose other layers per image (the layers the user gives them), by the same kind of name. Kept
#: apart from `AUGMENTATIONS` for the same reason as `MODEL_AUGMENTATIONS`: a name alone cannot build them; their
#: `tfaug.data` map functions take the inner layers as arguments.
COMPOSITIONS = {
    "random_apply": RandomApply,
    "random_choice": RandomChoice,
    "random_order": RandomOrder,
}

__all__ = [
    "AUGMENTATIONS",
    "AugMix",
    "AugMixConsistency",
    "AutoAugment",
    "BaseAugmentation",
    "COMPOSITIONS",
    "ColorJitter",
    "Corruption",
    "CutMix",
    "Cutout",
    "DSU",
    "GaussianNoise",
    "LabelSmoothing",
    "MODEL_AUGMENTATIONS",
    "MixStyle",
    "MixUp",
    "MixUpCutMix",
    "RandAugment",
    "RandConv",
    "RandomApply",
    "RandomChoice",
    "RandomCorruption",
    "RandomErasing",
    "RandomFlip",
    "RandomGrayscale",
    "RandomOrder",
    "RandomResizedCrop",
    "ResizeMix",
    "SaliencyMix",
    "StyleAugmentation",
    "TrivialAugmentWide",
    "augmix_views",
]
