"""tfaug: correct, fast, per-sample image augmentation for Keras 3 and TensorFlow.

    >>> import tfaug
    >>> layer = tfaug.layers.CutMix(num_classes=10, seed=0)        # a Keras layer
    >>> fn = tfaug.data.cutmix(num_classes=10, seed=0)             # the same, for Dataset.map
"""

__version__ = "0.1.0"

from tfaug import data
from tfaug import layers
from tfaug import ops
from tfaug import random
from tfaug.layers import CutMix
from tfaug.layers import Cutout
from tfaug.layers import LabelSmoothing
from tfaug.layers import MixUp
from tfaug.layers import MixUpCutMix
from tfaug.layers import RandomErasing

__all__ = [
    "CutMix",
    "Cutout",
    "LabelSmoothing",
    "MixUp",
    "MixUpCutMix",
    "RandomErasing",
    "data",
    "layers",
    "ops",
    "random",
]
