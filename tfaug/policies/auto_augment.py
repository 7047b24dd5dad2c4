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

Sources compared, entry by entry (all agree on every op, probability and level of the ops that take a
level):
    ImageNet: torchvision `torchvision/transforms/autoaugment.py` and `transforms/v2/_auto_augment.py`
        (pytorch/vision); timm `auto_augment_policy_original` in `timm/data/auto_augment.py`
        (huggingface/pytorch-image-models); Model Garden `policy_reduced_imagenet` in
        `official/vision/ops/augment.py` (tensorflow/models); `ImageNetPolicy` in `autoaugment.py`
        (DeepVoltaire/AutoAugment, third party).
    CIFAR-10: torchvision; Model Garden `policy_reduced_cifar10`; DeepVoltaire `CIFAR10Policy`; and the
        authors' `good_policies()` in `research/autoaugment/policies.py` (tensorflow/models). That file
        has 95 sub-policies, including entries 0-14 and 20-24 here, but not entries 15-19. timm has no
        CIFAR-10 or SVHN policy.
    SVHN: torchvision; Model Garden `policy_svhn`; DeepVoltaire `SVHNPolicy`.
    The only difference between the tables: the TF sources, timm and DeepVoltaire give a level to
    `auto_contrast`, `equalize` and `invert` (e.g. ImageNet entry 1, AutoContrast at level 5), and every
    implementation ignores it. torchvision writes `None` there, and so does this module.
    `tensorflow/tpu`'s `policy_v0` (and timm `v0`, Model Garden `v0`) is a different ImageNet policy,
    used for EfficientNet, and is not the paper's.

How each library turns a level into an op argument (`L` is the level, 0..9 in these tables):
    torchvision (AutoAugment, 10 bins per op): posterize keeps `8 - round(L * 4 / 9)` bits, giving
        8,8,7,7,6,6,5,5,4,4. Solarize threshold is `linspace(255, 0, 10)[L]`: 255, 226.7, 198.3, 170,
        141.7, 113.3, 85, 56.7, 28.3, 0 (v2: `linspace(1, 0)` times the dtype maximum, the same for
        uint8). Pixels at or above the threshold are inverted, so level 0 still inverts 255 and is not
        exactly the identity. Both ops get more severe as the level rises. Maxima: rotate 30 degrees,
        shear 0.3 (applied so that the affine shear coefficient equals the magnitude), translate 150/331
        of the image width (x) or height (y) in pixels, truncated to int, brightness/color/contrast/
        sharpness factor 1 +- 0.9 (`linspace(0, 0.9)`). Rotate, shear, translate and the four enhance ops
        are signed: each op in the chosen sub-policy gets its own fair coin for its sign at every call.
        Posterize and solarize are unsigned, and the magnitude-free ops take no argument.
    timm `original` (`_LEVEL_DENOM = 10`): posterize (`PosterizeOriginal`) keeps `int(L / 10 * 4) + 4`
        bits: 4,4,4,5,5,6,6,6,7,7. Solarize threshold is `int(L / 10 * 256)`: 0, 25, 51, 76, 102, 128,
        153, 179, 204, 230. Both get LESS severe as the level rises, the opposite of torchvision (level 0
        inverts every pixel). Enhance factor is `0.1 + 1.8 * L / 10`, unsigned, so level 0 gives 0.1, a
        strong change, not the identity. Rotate `30 * L / 10` and shear `0.3 * L / 10`, random sign.
        Translate (absolute) is `translate_const * L / 10` pixels with a random sign
        (`translate_const=250` in `_HPARAMS_DEFAULT`). timm `originalr` keeps `4 - int(L / 10 * 4)`
        bits instead: 4,4,4,3,3,2,2,2,1,1.
    TF TPU reference (`models/official/efficientnet/autoaugment.py`, tensorflow/tpu; Model Garden
        `augment.py` uses the same mapping, `_MAX_LEVEL = 10`): posterize keeps `int(L / 10 * 4)` bits:
        0,0,0,1,1,2,2,2,3,3. Levels 0-2 keep no bit, which gives a black image, and 4 bits only come at
        level 10. Solarize threshold is `int(L / 10 * 256)`, as in timm. Enhance is `0.1 + 1.8 * L / 10`,
        unsigned. Rotate 30 degrees, shear 0.3, translate `translate_const` pixels (250 for AutoAugment),
        cutout `cutout_const` (100), all signed at random. Run through this mapping, Model Garden's
        `reduced_imagenet` posterizes to 2-3 bits where the paper's range is 4..8.
    The authors' CIFAR code (`research/autoaugment/augmentation_transforms.py`, tensorflow/models,
        `PARAMETER_MAX = 10`, 32x32 images): posterize keeps `4 - int(L * 4 / 10)` bits:
        4,4,4,3,3,2,2,2,1,1. Solarize threshold is `256 - int(L * 256 / 10)`: 256 (no change), 231, 205,
        180, 154, 128, 103, 77, 52, 26. Rotate `int(L * 3)` degrees, translate `int(L)` pixels, shear
        `0.3 * L / 10`, all signed. Enhance is `0.1 + 0.18 * L`, unsigned.

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
