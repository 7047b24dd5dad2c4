"""The `tfaug` command line (also `python -m tfaug`).

    tfaug train --out runs/digits                            # a small CNN on the embedded digits, ~1 minute
    tfaug train --dataset folder:photos --augment rand_augment,cutmix --recipe distill --out runs/photos
    tfaug robustness --model runs/digits/model.keras         # errors under the ImageNet-C corruptions
    tfaug preview --augment cutmix,mixup --out grid.png     # real photos from scikit-image, offline
    tfaug preview --augment rand-n2-m9-mstd0.5 --out ra.png  # a timm-style RandAugment string
    tfaug bench --only tfaug --rounds 5                      # benchmarks/throughput.py's table

`--augment` names are those of `tfaug.layers.AUGMENTATIONS` (the `tfaug.data` map functions), built
with the settings in `SETTINGS`; the names before them stay accepted (`ALIASES`). `--recipe` names are
those of `recipes.train.RECIPES`. A user's mistake ends with one `tfaug: error: ...` line and exit status
2, never a traceback. The library never imports `recipes` (the training recipes); this module does.

TensorFlow's C++ start-up lines (oneDNN, CUDA drivers, CPU features) go to stderr while TensorFlow is
imported, and they are shown here as in any program: TensorFlow is imported with the `tfaug` package,
before this module runs, and `import tfaug` leaves a program's logging and streams alone. Hiding them
takes a launcher outside the `tfaug` package (a top-level module installed with it, so that importing it
does not import `tfaug`) that sets `TF_CPP_MIN_LOG_LEVEL` and silences stderr while importing TensorFlow
(two of the lines ignore that variable), then calls `main`; `python -m tfaug` could not use it.
"""

import argparse
import logging
import pathlib
import sys

import tfaug
from tfaug import cli_paths
from tfaug import cli_robustness
from tfaug.cli_augment import ALIASES  # noqa: F401 (part of the command line's interface)
from tfaug.cli_augment import SETTINGS  # noqa: F401
from tfaug.cli_augment import UsageError
from tfaug.cli_augment import build_layer
from tfaug.cli_augment import described
from tfaug.cli_augment import layer_class
from tfaug.cli_augment import parse_augmentations

#: `--size`'s range (as the help texts say): the layers need 8 pixels; 1024 is more than a small CNN or a grid uses.
SIZES = (8, 1024)


def _output(check, path, overwrite):
    """`check(path, overwrite)` of `tfaug.cli_paths`: the path to write, or a UsageError."""
    try:
        return check(path, overwrite)
    except ValueError as error:
        raise UsageError(str(error)) from error


def _check_size(size):
    if not SIZES[0] <= size <= SIZES[1]:
        raise UsageError(f"--size must be in [{SIZES[0]}, {SIZES[1]}], got {size}")


def _report_unreadable(files):
    """One line on stderr for the image files a command skipped: they do not decode."""
    if files:
        first = f"first: {files[0]}" if len(files) > 1 else files[0]
        print(f"tfaug: skipped {len(files)} unreadable image{'s' * (len(files) > 1)} ({first})", file=sys.stderr)


def preview(args):
    names = parse_augmentations(args.augment)
    out = _output(cli_paths.preview_file, args.out, args.overwrite)
    _check_size(args.size)
    import numpy as np
    import tensorflow as tf

    from tfaug.data import samples
    from tfaug.viz import augmentation_grid

    if args.images:
        unreadable = []
        try:
            images, image_classes = samples.load_image_folder(args.images, args.size, on_unreadable=unreadable.append)
        except ValueError as error:
            raise UsageError(str(error)) from error
        _report_unreadable(unreadable)
    else:
        images, image_classes = samples.sample_photos(size=args.size)
    class_names = sorted(set(image_classes), key=image_classes.index)
    if len(images) < 2 and any(layer_class(spec).mixes_batch for spec in names):
        raise UsageError("mixing needs at least 2 images; the folder has 1")
    labels = tf.one_hot([class_names.index(c) for c in image_classes], len(class_names))
    batch = (tf.constant(images), labels)
    for index, name in enumerate(names):
        batch = build_layer(name, len(class_names), args.seed + index, images.shape[1:3])(batch, training=True)
    augmented, mixed_labels = batch
    title = f"tfaug: {' -> '.join(names)} (seed {args.seed})"
    try:
        augmentation_grid(
            images, image_classes, np.asarray(augmented), np.asarray(mixed_labels), class_names, out, title
        )
    except OSError as error:  # what the checks could not foresee, e.g. a full disk
        raise UsageError(f"cannot write {out}: {error.strerror or error}") from error
    print(f"wrote {out}")


TRAIN_DEFAULTS = {"epochs": 50, "batch_size": 64}
#: Default --augment of each recipe: the noisy student's noise must leave labels alone.
DEFAULT_AUGMENT = {"plain": "mixup", "distill": "mixup", "noisy-student": "random_erasing"}


def train(args):
    # A recipe without a default here trains without augmentation: safe whatever it does with labels.
    augment = DEFAULT_AUGMENT.get(args.recipe, "none") if args.augment is None else args.augment
    names = [] if augment.strip().lower() == "none" else parse_augmentations(augment)
    if args.epochs < 1:
        raise UsageError(f"--epochs must be at least 1, got {args.epochs}")
    if args.batch_size < 2:
        raise UsageError(f"--batch-size must be at least 2, got {args.batch_size}")
    if args.size is not None:
        _check_size(args.size)
    if args.width < 1:
        raise UsageError(f"--width must be at least 1, got {args.width}")
    fraction = args.labeled_fraction
    if fraction is not None and not 0 < fraction <= 1:
        raise UsageError(f"--labeled-fraction must be in (0, 1], got {fraction}")
    if args.recipe == "noisy-student":
        if fraction == 1:
            raise UsageError("--recipe noisy-student needs unlabeled images: --labeled-fraction below 1")
        changing = [name for name in names if layer_class(name).transforms_labels]
        if changing:
            raise UsageError(
                f"--recipe noisy-student uses --augment as noise on images only; {', '.join(changing)} "
                f"{'changes' if len(changing) == 1 else 'change'} labels (use e.g. random_erasing, cutout or "
                "rand_augment)"
            )
    if args.data_dir and not args.dataset.startswith("tfds:"):
        raise UsageError("--data-dir applies to --dataset tfds:NAME only")
    out = _output(cli_paths.train_folder, args.out, args.overwrite)
    logging.getLogger("absl").setLevel(logging.ERROR)  # TFDS warns about missing data before its error
    from recipes.data import unreadable_images

    recipe = _recipes()
    if fraction is None:
        fraction = recipe.DEFAULT_LABELED_FRACTION.get(args.recipe)
    # Folders and TFDS stream from disk through tfaug.data's pipelines; the noisy student holds its images.
    streams = args.dataset.startswith(("folder:", "tfds:")) and args.recipe != "noisy-student"
    load = _streaming().load_stream if streams else recipe.load_data
    try:
        data = load(args.dataset, size=args.size, labeled_fraction=fraction, seed=args.seed, data_dir=args.data_dir)
    except ValueError as error:
        raise UsageError(_as_options(str(error))) from error
    _report_unreadable(unreadable_images(args.dataset))
    k = data.info.num_classes
    layers = [build_layer(name, k, args.seed + index, data.image_shape[:2]) for index, name in enumerate(names)]
    settings = {
        "command": "tfaug train",
        "dataset": args.dataset,
        "augment": names,
        "size": list(data.image_shape[:2]),
        "labeled_fraction": fraction,
    }
    counts = data.counts()
    print(
        f"tfaug train: {args.dataset} ({k} classes; {counts['labeled']} labeled, {counts['unlabeled']} unlabeled, "
        f"{counts['test']} test images {'x'.join(map(str, data.image_shape))}{', streamed' if streams else ''}), "
        f"recipe {args.recipe}, augment {', '.join(names) or 'none'}, "
        f"{args.epochs} epoch{'' if args.epochs == 1 else 's'}",
        flush=True,
    )
    metrics = recipe.train(
        data,
        out,
        augment=layers,
        recipe=args.recipe,
        epochs=args.epochs,
        seed=args.seed,
        batch_size=args.batch_size,
        width=args.width,
        settings=settings,
        verbose=1,
    )
    written = sorted(name for name in recipe.OUTPUT_FILES if (out / name).exists())
    print(
        f"test accuracy {metrics['test']['accuracy']:.1%}, loss {metrics['test']['loss']:.3f} "
        f"({metrics['train_seconds']:.0f} s of training); wrote {out}/: {', '.join(written)}"
    )


def _as_options(message):
    """A `recipes.data` message in the command's words: its argument names become the options."""
    for argument, option in (
        ("name", "--dataset"),
        ("data_dir", "--data-dir"),
        ("size", "--size"),
        ("labeled_fraction", "--labeled-fraction"),
    ):
        message = message.replace(f"`{argument}`", option)
    return message.replace(" or `download=True`, both need", ", it needs").rstrip(".")


def find_benchmark():
    """Path of benchmarks/throughput.py in the source checkout tfaug runs from, or a UsageError."""
    script = pathlib.Path(tfaug.__file__).resolve().parents[1] / "benchmarks" / "throughput.py"
    if not script.is_file():
        raise UsageError(
            f"tfaug bench runs benchmarks/throughput.py from a source checkout (pip install -e .); "
            f"it is not at {script}"
        )
    return script


def bench(args):
    import importlib.util

    script = find_benchmark()
    spec = importlib.util.spec_from_file_location("tfaug_benchmark_throughput", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    parser = module.build_parser(prog="tfaug bench")

    def error(message):
        raise UsageError(f"{message} (see tfaug bench --help)")

    parser.error = error
    module.main(args.passed_through, parser=parser)


def _streaming():
    """`recipes.streaming`: folder and TFDS datasets read from disk every epoch (`tfaug.data.train_pipeline`)."""
    from recipes import streaming

    return streaming


def _recipes():
    """`recipes.train`, imported when the parser is built (its `RECIPES` are `--recipe`'s choices)."""
    from recipes import train

    return train


class _Parser(argparse.ArgumentParser):
    """Reports a usage mistake as one `tfaug: error: ...` line (via `UsageError`), not usage text."""

    def error(self, message):
        raise UsageError(f"{message} (see {self.prog} --help)")


def build_parser():
    parser = _Parser(prog="tfaug", description="Image augmentation for Keras / TensorFlow.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{train,robustness,preview,bench}")
    augmentations = described()

    t = commands.add_parser(
        "train",
        help="train a small CNN with augmentations; write metrics, model and pictures",
        description="Trains a small CNN (conv stages, global average pooling, dense) with tfaug augmentations "
        "in the tf.data pipeline and writes into --out: metrics.json (settings, per-epoch history, test "
        "accuracy and loss), model.keras, curves.png, confusion_matrix.png and cam.png (class activation "
        "maps of a few test images). Runs offline; on the embedded digits in about a minute on 2 CPU cores. "
        f"Augmentations: {augmentations}.",
    )
    t.add_argument(
        "--dataset",
        default="digits",
        help="digits (scikit-learn's 8x8 handwritten digits, embedded; default), tfds:NAME (a TensorFlow "
        "Datasets dataset already prepared offline, see --data-dir) or folder:PATH (one sub-folder of images "
        "per class); tfds: and folder: images are read from disk every epoch (tfaug.data.train_pipeline), "
        "resized and centre-cropped to --size, except for noisy-student, which loads them into memory",
    )
    t.add_argument(
        "--augment",
        help="comma-separated names, applied in order, or none (default mixup; random_erasing for "
        "noisy-student, whose noise must leave labels alone)",
    )
    t.add_argument(
        "--recipe",
        default="plain",
        choices=list(_recipes().RECIPES),
        help="plain: supervised; distill: a wider CNN teacher distilled into the small CNN; noisy-student: a "
        "teacher pseudo-labels the unlabeled images for a noised student (--augment is its noise) (default plain)",
    )
    t.add_argument(
        "--epochs",
        type=int,
        default=TRAIN_DEFAULTS["epochs"],
        help=f"epochs per model (default {TRAIN_DEFAULTS['epochs']})",
    )
    t.add_argument("--out", required=True, help="folder to write (created when the run has finished; see --overwrite)")
    t.add_argument("--seed", type=int, default=0, help="seed of the split, weights and augmentations (default 0)")
    t.add_argument(
        "--batch-size",
        type=int,
        default=TRAIN_DEFAULTS["batch_size"],
        help=f"training batch size (default {TRAIN_DEFAULTS['batch_size']})",
    )
    t.add_argument("--size", type=int, help="image side in pixels, 8 to 1024 (default 16 for digits, 32 otherwise)")
    t.add_argument(
        "--labeled-fraction",
        type=float,
        help="fraction of the training split whose labels are used, in (0, 1]; the rest is unlabeled "
        "(default 1, and 0.1 for noisy-student)",
    )
    t.add_argument("--data-dir", help="TensorFlow Datasets data folder (for tfds:NAME; nothing is downloaded)")
    t.add_argument("--overwrite", action="store_true", help="write into --out even if it exists")
    t.add_argument("--width", type=int, default=16, help=argparse.SUPPRESS)  # CNN width; tests use tiny ones
    t.set_defaults(run=train)
    cli_robustness.add_parser(commands)

    p = commands.add_parser(
        "preview",
        help="write a PNG grid of augmented photos with their mixed labels",
        description="Augments real photos (scikit-image's, or --images DIR) and writes a PNG grid with "
        f"the mixed label under each tile. Augmentations: {augmentations}.",
    )
    p.add_argument("--augment", required=True, help="comma-separated names, applied in order")
    p.add_argument("--images", help="folder of images (default: photos shipped with scikit-image)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--size", type=int, default=224, help="side of the square tiles in pixels, 8 to 1024 (default 224)")
    p.add_argument(
        "--out", required=True, help=f"picture to write: {', '.join(cli_paths.PREVIEW_SUFFIXES)} (no suffix: .png)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(run=preview)

    b = commands.add_parser(
        "bench",
        add_help=False,  # --help goes through to the script, whose options these are
        help="run benchmarks/throughput.py (source checkout) and print its table; options pass through",
    )
    b.set_defaults(run=bench)
    return parser


def main(argv=None):
    try:
        parser = build_parser()
        args, rest = parser.parse_known_args(argv)
        if rest and args.command != "bench":
            parser.parse_args(argv)  # reports the unknown arguments as the command's own error
        args.passed_through = rest
        args.run(args)
    except UsageError as error:
        print(f"tfaug: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: a train run has removed its partial output; no traceback
        print("tfaug: interrupted", file=sys.stderr)
        return 130
    except ImportError as error:
        print(f'tfaug: error: {error} (pip install -e ".[examples]" installs what the commands use)', file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
