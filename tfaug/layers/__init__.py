"""Keras preprocessing layers (one per file)."""

from tfaug.layers.base import BaseAugmentation
from tfaug.layers.cutmix import CutMix
from tfaug.layers.cutout import Cutout
from tfaug.layers.label_smoothing import LabelSmoothing
from tfaug.layers.mixup import MixUp
from tfaug.layers.mixup_cutmix import MixUpCutMix
from tfaug.layers.random_erasing import RandomErasing

__all__ = ["BaseAugmentation", "CutMix", "Cutout", "LabelSmoothing", "MixUp", "MixUpCutMix", "RandomErasing"]
