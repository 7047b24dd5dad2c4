"""tfaug: correct, fast, per-sample image augmentation for Keras 3 and TensorFlow.

    >>> import tfaug
    >>> layer = tfaug.layers.CutMix(num_classes=10, seed=0)        # a Keras layer
    >>> fn = tfaug.data.cutmix(num_classes=10, seed=0)             # the same, for Dataset.map

Importing `tfaug` registers every layer with Keras (a saved model with tfaug layers loads after
`import tfaug`) and leaves logging and the process's streams alone: the `tfaug` command line quiets
TensorFlow's start-up lines itself (`tfaug.cli`).
"""

__version__ = "0.1.0"

from tfaug import corruptions
from tfaug import data
from tfaug import layers
from tfaug import ops
from tfaug import random
from tfaug.layers import DSU
from tfaug.layers import AugMix
from tfaug.layers import AugMixConsistency
from tfaug.layers import AutoAugment
from tfaug.layers import ColorJitter
from tfaug.layers import Corruption
from tfaug.layers import CutMix
from tfaug.layers import Cutout
from tfaug.layers import GaussianNoise
from tfaug.layers import LabelSmoothing
from tfaug.layers import MixStyle
from tfaug.layers import MixUp
from tfaug.layers import MixUpCutMix
from tfaug.layers import RandAugment
from tfaug.layers import RandConv
from tfaug.layers import RandomApply
from tfaug.layers import RandomChoice
from tfaug.layers import RandomCorruption
from tfaug.layers import RandomErasing
from tfaug.layers import RandomFlip
from tfaug.layers import RandomGrayscale
from tfaug.layers import RandomOrder
from tfaug.layers import RandomResizedCrop
from tfaug.layers import ResizeMix
from tfaug.layers import SaliencyMix
from tfaug.layers import StyleAugmentation
from tfaug.layers import TrivialAugmentWide

__all__ = [
    "AugMix",
    "AugMixConsistency",
    "AutoAugment",
    "ColorJitter",
    "Corruption",
    "CutMix",
    "Cutout",
    "DSU",
    "GaussianNoise",
    "LabelSmoothing",
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
    "corruptions",
    "data",
    "layers",
    "ops",
    "random",
]
