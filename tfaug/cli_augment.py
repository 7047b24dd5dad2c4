"""`--augment` of the `tfaug` commands: names of `tfaug.layers.AUGMENTATIONS` (or RandAugment strings) and
the layers the commands build from them."""

import tfaug
from tfaug.corruptions import HELD_OUT
from tfaug.layers import AUGMENTATIONS

#: The command's settings of a layer, by registry name: constructor arguments (beside `num_classes` and
#: `seed`) and a description. A layer without an entry is built with its defaults.
SETTINGS = {
    "cutmix": ({}, "CutMix, alpha 1"),
    "mixup": ({}, "MixUp, alpha 0.2"),
    "mixup_cutmix": ({}, "MixUp/CutMix switch with label smoothing 0.1 (DeiT)"),
    "resize_mix": ({}, "ResizeMix, the whole partner shrunk to 10% to 80% of the sides"),
    "saliency_mix": ({}, "SaliencyMix, CutMix box on the partner's spectral-residual saliency peak"),
    "cutout": ({"size": 0.4, "fill_value": 128}, "Cutout, 40% sides"),
    "random_erasing": ({"probability": 1.0, "fill": "pixel"}, "Random Erasing, noise fill"),
    "label_smoothing": ({"label_smoothing": 0.1}, "label smoothing 0.1"),
    "rand_augment": ({}, "RandAugment, 2 ops at magnitude 9 (timm m9)"),
    "auto_augment": ({"policy": "imagenet"}, "AutoAugment, ImageNet policy"),
    "trivial_augment_wide": ({}, "TrivialAugment Wide"),
    "aug_mix": ({}, "AugMix, severity 3, width 3"),
    # Held-out corruptions only: training on the benchmark's fifteen would void a robustness measurement.
    "corruption": ({"corruption": "speckle_noise"}, "speckle noise (a held-out corruption), severity 1 to 5"),
    "random_corruption": (
        {"corruptions": list(HELD_OUT)},
        "one held-out corruption per image (speckle noise, Gaussian blur, spatter, saturate), severity 1 to 5",
    ),
    "rand_conv": ({}, "RandConv-mix, random 1x1 to 7x7 convolutions blended with the image"),
    "random_flip": ({}, "left-right flip, probability 0.5"),
    "color_jitter": (
        {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4},
        "ColorJitter, brightness/contrast/saturation 0.4 in a random order (timm's color_jitter 0.4)",
    ),
    "gaussian_noise": ({}, "Gaussian noise, sigma 0 to 10% of the range per image"),
    "random_grayscale": ({}, "grayscale with probability 0.1"),
    "random_resized_crop": ({}, "Inception crop (area 8% to 100%, aspect 3/4 to 4/3) resized back to the image size"),
}
#: Layers whose output size the command sets: the images' own size, so the model's input keeps its shape.
SIZED = {"random_resized_crop"}
#: Earlier `--augment` names, still accepted.
ALIASES = {
    "randaugment": "rand_augment",
    "autoaugment": "auto_augment",
    "trivialaugment": "trivial_augment_wide",
    "augmix": "aug_mix",
}


class UsageError(Exception):
    """A mistake on the command line: reported in one line, exit status 2."""


def parse_augmentations(text):
    """`--augment`'s comma-separated entries as registry names (aliases resolved) or RandAugment strings.

    An entry is a registry name (`-` may stand for `_`), an alias, or a timm-style RandAugment string such as
    `rand-n2-m9-mstd0.5` (`tfaug.RandAugment.from_string`), checked here.

    Raises:
        UsageError: no entry, an unknown name or a malformed RandAugment string.
    """
    entries = [entry.strip() for entry in text.split(",") if entry.strip()]
    if not entries:
        raise UsageError("--augment needs at least one name, e.g. --augment cutmix,mixup")
    unknown = [entry for entry in entries if _canonical(entry) is None]
    if unknown:
        raise UsageError(
            f"unknown augmentation {', '.join(unknown)}; choose from {', '.join(AUGMENTATIONS)}, or a "
            "RandAugment string like rand-n2-m9-mstd0.5"
        )
    specs = [_canonical(entry) for entry in entries]
    for spec in specs:
        layer_class(spec)  # a malformed RandAugment string fails now, before any work
    return specs


def _canonical(entry):
    """The registry name of `entry`, `entry` itself when it is a RandAugment string, else None."""
    name = entry.replace("-", "_")
    name = ALIASES.get(name, name)
    if name in AUGMENTATIONS:
        return name
    return entry if entry.split("-")[0] == "rand" else None


def layer_class(spec):
    """The layer class of a parsed `--augment` entry (a RandAugment string is checked by building it)."""
    if spec in AUGMENTATIONS:
        return AUGMENTATIONS[spec]
    build_layer(spec, num_classes=None, seed=0)
    return tfaug.RandAugment


def build_layer(spec, num_classes, seed, image_size=None):
    """The layer of a parsed `--augment` entry, with the command's settings, `num_classes` and `seed`;
    `image_size` `(height, width)` is the output size of the `SIZED` layers."""
    if spec in AUGMENTATIONS:
        kwargs = dict(SETTINGS.get(spec, ({}, None))[0])
        if spec in SIZED:
            kwargs["size"] = tuple(image_size)
        return AUGMENTATIONS[spec](num_classes=num_classes, seed=seed, **kwargs)
    try:
        return tfaug.RandAugment.from_string(spec, num_classes=num_classes, seed=seed)
    except ValueError as error:
        message = str(error)
        if "`config`" in message:
            raise UsageError(message.replace("`config`", "--augment").rstrip(".")) from error
        raise UsageError(f"--augment {spec!r}: {message.rstrip('.')}") from error


def described():
    """`name: description` of every registry name, for the help texts."""
    parts = [f"{name}: {SETTINGS.get(name, ({}, cls.__name__))[1]}" for name, cls in AUGMENTATIONS.items()]
    aliases = ", ".join(f"{alias} ({name})" for alias, name in ALIASES.items())
    return (
        f"{'; '.join(parts)}; or a timm-style RandAugment string such as rand-n2-m9-mstd0.5 (keys n, m, mstd, "
        f"p). Earlier names still accepted: {aliases}"
    )
