"""tfaug: correct, fast, per-sample image augmentation for Keras 3 and TensorFlow.

    >>> import tfaug
    >>> layer = tfaug.layers.CutMix(num_classes=10, seed=0)        # a Keras layer
    >>> fn = tfaug.data.cutmix(num_classes=10, seed=0)             # the same, for Dataset.map
"""

import os as _os
import sys as _sys

__version__ = "0.1.0"

_COMMAND = _os.path.basename(_sys.argv[0] if _sys.argv else "") == "tfaug" or getattr(_sys, "orig_argv", [])[1:3] == [
    "-m",
    "tfaug",
]
if _COMMAND and "tensorflow" not in _sys.modules:
    # The `tfaug` command (or `python -m tfaug`): TensorFlow's C++ start-up lines (CPU features, no CUDA) are written to the
    # terminal before its log settings apply; keep them out of the command's output. Library users
    # (and import errors, which are Python exceptions) are unaffected.
    _os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    _stderr, _devnull = _os.dup(2), _os.open(_os.devnull, _os.O_WRONLY)
    _os.dup2(_devnull, 2)
    try:
        import tensorflow  # noqa: F401
    finally:
        _os.dup2(_stderr, 2)
        _os.close(_stderr)
        _os.close(_devnull)

from tfaug import data
from tfaug import layers
from tfaug import ops
from tfaug import random
from tfaug.layers import AugMix
from tfaug.layers import AugMixConsistency
from tfaug.layers import AutoAugment
from tfaug.layers import CutMix
from tfaug.layers import Cutout
from tfaug.layers import LabelSmoothing
from tfaug.layers import MixUp
from tfaug.layers import MixUpCutMix
from tfaug.layers import RandAugment
from tfaug.layers import RandomErasing
from tfaug.layers import TrivialAugmentWide

__all__ = [
    "AugMix",
    "AugMixConsistency",
    "AutoAugment",
    "CutMix",
    "Cutout",
    "LabelSmoothing",
    "MixUp",
    "MixUpCutMix",
    "RandAugment",
    "RandomErasing",
    "TrivialAugmentWide",
    "data",
    "layers",
    "ops",
    "random",
]
