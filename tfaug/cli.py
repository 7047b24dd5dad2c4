"""The `tfaug` command line.

    tfaug preview --augment cutmix,mixup --out grid.png     # real photos from scikit-image, offline

A user's mistake ends with one `tfaug: error: ...` line and exit status 2, never a traceback.
"""

import argparse
import os
import pathlib
import sys

#: name -> (factory(num_classes, seed) building the layer, one-line description)
AUGMENTATIONS = {
    "cutmix": (lambda k, seed: _layers().CutMix(num_classes=k, seed=seed), "CutMix, alpha 1"),
    "mixup": (lambda k, seed: _layers().MixUp(num_classes=k, seed=seed), "MixUp, alpha 0.2"),
    "mixup_cutmix": (
        lambda k, seed: _layers().MixUpCutMix(num_classes=k, seed=seed),
        "MixUp/CutMix switch with label smoothing 0.1 (DeiT)",
    ),
    "cutout": (lambda k, seed: _layers().Cutout(size=0.4, fill_value=128, seed=seed), "Cutout, 40% sides"),
    "random_erasing": (
        lambda k, seed: _layers().RandomErasing(probability=1.0, fill="pixel", seed=seed),
        "Random Erasing, noise fill",
    ),
    "label_smoothing": (lambda k, seed: _layers().LabelSmoothing(0.1, num_classes=k), "label smoothing 0.1"),
    "randaugment": (lambda k, seed: _layers().RandAugment(seed=seed), "RandAugment, 2 ops at magnitude 9 (timm m9)"),
    "autoaugment": (lambda k, seed: _layers().AutoAugment("imagenet", seed=seed), "AutoAugment, ImageNet policy"),
    "trivialaugment": (lambda k, seed: _layers().TrivialAugmentWide(seed=seed), "TrivialAugment Wide"),
    "augmix": (lambda k, seed: _layers().AugMix(seed=seed), "AugMix, severity 3, width 3"),
}


class UsageError(Exception):
    """A mistake on the command line: reported in one line, exit status 2."""


def _layers():
    import tfaug.layers

    return tfaug.layers


def parse_augmentations(text):
    names = [name.strip().replace("-", "_") for name in text.split(",") if name.strip()]
    if not names:
        raise UsageError("--augment needs at least one name, e.g. --augment cutmix,mixup")
    unknown = [name for name in names if name not in AUGMENTATIONS]
    if unknown:
        raise UsageError(f"unknown augmentation {', '.join(unknown)}; choose from {', '.join(AUGMENTATIONS)}")
    return names


def _check_output(path, overwrite):
    out = pathlib.Path(path)
    if out.exists() and not overwrite:
        raise UsageError(f"{out} exists; pass --overwrite to replace it")
    if not out.parent.exists():
        raise UsageError(f"the folder of {out} does not exist")
    return out


def preview(args):
    names = parse_augmentations(args.augment)
    out = _check_output(args.out, args.overwrite)
    if args.size < 8:
        raise UsageError("--size must be at least 8")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    import tensorflow as tf

    from tfaug.data import samples
    from tfaug.viz import augmentation_grid

    if args.images:
        try:
            images, image_classes = samples.load_image_folder(args.images, size=args.size)
        except ValueError as error:
            raise UsageError(str(error)) from error
    else:
        images, image_classes = samples.sample_photos(size=args.size)
    class_names = sorted(set(image_classes), key=image_classes.index)
    if len(images) < 2 and any(name in MIXING for name in names):
        raise UsageError("mixing needs at least 2 images; the folder has 1")
    labels = tf.one_hot([class_names.index(c) for c in image_classes], len(class_names))
    batch = (tf.constant(images), labels)
    for index, name in enumerate(names):
        layer = AUGMENTATIONS[name][0](len(class_names), args.seed + index)
        batch = layer(batch, training=True)
    augmented, mixed_labels = batch
    augmentation_grid(
        images,
        image_classes,
        np.asarray(augmented),
        np.asarray(mixed_labels),
        class_names,
        path=out,
        title=f"tfaug: {' -> '.join(names)} (seed {args.seed})",
    )
    print(f"wrote {out}")


MIXING = ("cutmix", "mixup", "mixup_cutmix")


def build_parser():
    parser = argparse.ArgumentParser(prog="tfaug", description="Image augmentation for Keras / TensorFlow.")
    commands = parser.add_subparsers(dest="command", required=True)
    described = "; ".join(f"{name}: {text}" for name, (_, text) in AUGMENTATIONS.items())
    p = commands.add_parser(
        "preview",
        help="write a PNG grid of augmented photos with their mixed labels",
        description="Augments real photos (scikit-image's, or --images DIR) and writes a PNG grid with "
        f"the mixed label under each tile. Augmentations: {described}.",
    )
    p.add_argument("--augment", required=True, help="comma-separated names, applied in order")
    p.add_argument("--images", help="folder of images (default: photos shipped with scikit-image)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--size", type=int, default=224, help="side of the square tiles in pixels (default 224)")
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(run=preview)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except (UsageError, ImportError) as error:
        print(f"tfaug: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
