"""The three AutoAugment policies of Cubuk et al. 2019 (ImageNet, CIFAR-10, SVHN) as plain Python data.

`POLICIES[name]` is a tuple of 25 sub-policies; each sub-policy is a pair of `(op_name, probability,
level)` triples, applied in order. `op_name` is a tfaug op (`tfaug.ops`), `probability` is the chance
that this op runs, drawn separately for each op and each image, and `level` is the paper's magnitude index
in 0..`NUM_LEVELS - 1`, or `None` for the ops in `MAGNITUDE_FREE_OPS`. AutoAugment picks one sub-policy
per image, uniformly over the 25 entries. Repeated entries are kept (five pairs in ImageNet, two in SVHN
once ignored levels are dropped): every source lists them, and they weight the draw. Entries with
probability 0.0 are kept too.

This module holds data only: no TensorFlow, no randomness. A level has no meaning until it is mapped to
an op argument, and the libraries disagree on that mapping (see below). torchvision's mapping, which
spans the paper's ranges with severity rising with the level, is the one these tables are meant for.

Where these tables come from (five implementations compared entry by entry) and how each library maps a
level to an op argument: `docs/auto_augment_policies.md`.

Example:
    >>> from tfaug.policies.auto_augment import POLICIES
    >>> POLICIES["imagenet"][0]
    (('posterize', 0.4, 8), ('rotate', 0.6, 9))
    >>> len(POLICIES["svhn"])
    25

Reference: E. D. Cubuk, B. Zoph, D. Mane, V. Vasudevan, Q. V. Le, "AutoAugment: Learning Augmentation
Strategies from Data", CVPR 2019, arXiv:1805.09501. The paper's own tables were not read here; the
implementations above were.
"""

__all__ = ["MAGNITUDE_FREE_OPS", "NUM_LEVELS", "POLICIES"]

# The paper's magnitude range is split into 10 uniform steps; the searched levels are indices 0..9.
NUM_LEVELS = 10

# Ops that take no argument: their level is `None` in these tables.
MAGNITUDE_FREE_OPS = frozenset({"auto_contrast", "equalize", "invert"})

# Policy found on reduced ImageNet. Repeated entries: 1 = 21, 2 = 24, 4 = 20, 13 = 22, 14 = 23.
_IMAGENET = (
    (("posterize", 0.4, 8), ("rotate", 0.6, 9)),
    (("solarize", 0.6, 5), ("auto_contrast", 0.6, None)),
    (("equalize", 0.8, None), ("equalize", 0.6, None)),
    (("posterize", 0.6, 7), ("posterize", 0.6, 6)),
    (("equalize", 0.4, None), ("solarize", 0.2, 4)),
    (("equalize", 0.4, None), ("rotate", 0.8, 8)),
    (("solarize", 0.6, 3), ("equalize", 0.6, None)),
    (("posterize", 0.8, 5), ("equalize", 1.0, None)),
    (("rotate", 0.2, 3), ("solarize", 0.6, 8)),
    (("equalize", 0.6, None), ("posterize", 0.4, 6)),
    (("rotate", 0.8, 8), ("color", 0.4, 0)),
    (("rotate", 0.4, 9), ("equalize", 0.6, None)),
    (("equalize", 0.0, None), ("equalize", 0.8, None)),
    (("invert", 0.6, None), ("equalize", 1.0, None)),
    (("color", 0.6, 4), ("contrast", 1.0, 8)),
    (("rotate", 0.8, 8), ("color", 1.0, 2)),
    (("color", 0.8, 8), ("solarize", 0.8, 7)),
    (("sharpness", 0.4, 7), ("invert", 0.6, None)),
    (("shear_x", 0.6, 5), ("equalize", 1.0, None)),
    (("color", 0.4, 0), ("equalize", 0.6, None)),
    (("equalize", 0.4, None), ("solarize", 0.2, 4)),
    (("solarize", 0.6, 5), ("auto_contrast", 0.6, None)),
    (("invert", 0.6, None), ("equalize", 1.0, None)),
    (("color", 0.6, 4), ("contrast", 1.0, 8)),
    (("equalize", 0.8, None), ("equalize", 0.6, None)),
)

# Policy found on reduced CIFAR-10. Entries 0-4, 5-9, 10-14 and 20-24 are the authors' `exp0_0`,
# `exp1_0`, `exp2_0` and `exp0_1` blocks in `research/autoaugment/policies.py`. Entries 15-19 are not in
# that file, and were checked against torchvision, Model Garden and DeepVoltaire only.
_CIFAR10 = (
    (("invert", 0.1, None), ("contrast", 0.2, 6)),
    (("rotate", 0.7, 2), ("translate_x", 0.3, 9)),
    (("sharpness", 0.8, 1), ("sharpness", 0.9, 3)),
    (("shear_y", 0.5, 8), ("translate_y", 0.7, 9)),
    (("auto_contrast", 0.5, None), ("equalize", 0.9, None)),
    (("shear_y", 0.2, 7), ("posterize", 0.3, 7)),
    (("color", 0.4, 3), ("brightness", 0.6, 7)),
    (("sharpness", 0.3, 9), ("brightness", 0.7, 9)),
    (("equalize", 0.6, None), ("equalize", 0.5, None)),
    (("contrast", 0.6, 7), ("sharpness", 0.6, 5)),
    (("color", 0.7, 7), ("translate_x", 0.5, 8)),
    (("equalize", 0.3, None), ("auto_contrast", 0.4, None)),
    (("translate_y", 0.4, 3), ("sharpness", 0.2, 6)),
    (("brightness", 0.9, 6), ("color", 0.2, 8)),
    (("solarize", 0.5, 2), ("invert", 0.0, None)),
    (("equalize", 0.2, None), ("auto_contrast", 0.6, None)),
    (("equalize", 0.2, None), ("equalize", 0.6, None)),
    (("color", 0.9, 9), ("equalize", 0.6, None)),
    (("auto_contrast", 0.8, None), ("solarize", 0.2, 8)),
    (("brightness", 0.1, 3), ("color", 0.7, 0)),
    (("solarize", 0.4, 5), ("auto_contrast", 0.9, None)),
    (("translate_y", 0.9, 9), ("translate_y", 0.7, 9)),
    (("auto_contrast", 0.9, None), ("solarize", 0.8, 3)),
    (("equalize", 0.8, None), ("invert", 0.1, None)),
    (("translate_y", 0.7, 9), ("auto_contrast", 0.9, None)),
)

# Policy found on reduced SVHN. Entries 3 = 13 and 4 = 9 here: they differ in the TF tables only by the
# ignored levels of `invert` / `equalize`.
_SVHN = (
    (("shear_x", 0.9, 4), ("invert", 0.2, None)),
    (("shear_y", 0.9, 8), ("invert", 0.7, None)),
    (("equalize", 0.6, None), ("solarize", 0.6, 6)),
    (("invert", 0.9, None), ("equalize", 0.6, None)),
    (("equalize", 0.6, None), ("rotate", 0.9, 3)),
    (("shear_x", 0.9, 4), ("auto_contrast", 0.8, None)),
    (("shear_y", 0.9, 8), ("invert", 0.4, None)),
    (("shear_y", 0.9, 5), ("solarize", 0.2, 6)),
    (("invert", 0.9, None), ("auto_contrast", 0.8, None)),
    (("equalize", 0.6, None), ("rotate", 0.9, 3)),
    (("shear_x", 0.9, 4), ("solarize", 0.3, 3)),
    (("shear_y", 0.8, 8), ("invert", 0.7, None)),
    (("equalize", 0.9, None), ("translate_y", 0.6, 6)),
    (("invert", 0.9, None), ("equalize", 0.6, None)),
    (("contrast", 0.3, 3), ("rotate", 0.8, 4)),
    (("invert", 0.8, None), ("translate_y", 0.0, 2)),
    (("shear_y", 0.7, 6), ("solarize", 0.4, 8)),
    (("invert", 0.6, None), ("rotate", 0.8, 4)),
    (("shear_y", 0.3, 7), ("translate_x", 0.9, 3)),
    (("shear_x", 0.1, 6), ("invert", 0.6, None)),
    (("solarize", 0.7, 2), ("translate_y", 0.6, 7)),
    (("shear_y", 0.8, 4), ("invert", 0.8, None)),
    (("shear_x", 0.7, 9), ("translate_y", 0.8, 3)),
    (("shear_y", 0.8, 5), ("auto_contrast", 0.7, None)),
    (("shear_x", 0.7, 2), ("invert", 0.1, None)),
)

POLICIES = {"imagenet": _IMAGENET, "cifar10": _CIFAR10, "svhn": _SVHN}
