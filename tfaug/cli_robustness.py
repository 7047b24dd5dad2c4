"""`tfaug robustness`: a trained model's error under the ImageNet-C corruptions, and its mCE.

    tfaug train --size 32 --augment none --out runs/plain
    tfaug robustness --model runs/plain/model.keras
    tfaug train --size 32 --augment aug_mix --out runs/augmix
    tfaug robustness --model runs/augmix/model.keras --baseline runs/plain/robustness.json

Evaluates the test split of the model's dataset (read from the `metrics.json` that `tfaug train` writes
beside the model, else `--dataset`) at the model's input size, and writes `robustness.json`
(`recipes.robustness.corruption_errors`'s result and the settings) and `robustness.png` (error per
corruption and severity, clean error marked) into `--out`, by default the model's folder. Nothing is
written before the evaluation has finished.
"""

import json
import pathlib

from tfaug import corruptions as tc
from tfaug.cli_augment import UsageError

OUTPUT_FILES = ("robustness.json", "robustness.png")
SUBSETS = {"common": tc.COMMON, "held_out": tc.HELD_OUT, "all": tuple(tc.CORRUPTIONS)}


def add_parser(commands):
    r = commands.add_parser(
        "robustness",
        help="a trained model's error under the ImageNet-C corruptions, and its mCE against a baseline",
        description="Evaluates a Keras model (e.g. tfaug train's model.keras) on the test split of its dataset, "
        "clean and under each corruption and severity, and writes robustness.json (errors, mean error; with "
        "--baseline also mCE and relative mCE) and robustness.png into --out. Runs offline.",
    )
    r.add_argument("--model", required=True, help="Keras model file (.keras), e.g. runs/x/model.keras")
    r.add_argument(
        "--dataset",
        help="digits, tfds:NAME or folder:PATH, whose test split is evaluated (default: the dataset in the "
        "metrics.json beside the model, else digits)",
    )
    r.add_argument("--baseline", help="robustness.json of a baseline model (same corruptions), for mCE")
    r.add_argument(
        "--corruptions",
        default="common",
        help="common (the 15 of the benchmark; default), held_out (the 4 validation ones), all, or "
        "comma-separated names",
    )
    r.add_argument("--severities", default="1,2,3,4,5", help="comma-separated severities in 1..5 (default all)")
    r.add_argument(
        "--seed", type=int, help="seed of the test split and the corruptions (default: metrics.json's, else 0)"
    )
    r.add_argument("--data-dir", help="TensorFlow Datasets data folder (for tfds:NAME; nothing is downloaded)")
    r.add_argument("--out", help="folder to write robustness.json and robustness.png into (default: the model's)")
    r.add_argument("--overwrite", action="store_true", help="replace robustness.json and robustness.png in --out")
    r.set_defaults(run=run)


def run(args):
    names = parse_corruptions(args.corruptions)
    severities = parse_severities(args.severities)
    model_path = pathlib.Path(args.model)
    if not model_path.is_file():
        raise UsageError(f"--model {model_path}: no such file")
    out = pathlib.Path(args.out) if args.out else model_path.parent
    _check_out(out, args.overwrite)
    baseline = _read_baseline(args.baseline) if args.baseline else None
    trained = _training_settings(model_path)
    dataset_name = args.dataset or trained.get("dataset", "digits")
    seed = args.seed if args.seed is not None else int(trained.get("seed", 0))
    if args.data_dir and not dataset_name.startswith("tfds:"):
        raise UsageError("--data-dir applies to --dataset tfds:NAME only")

    import keras

    from recipes import robustness
    from recipes.report import plot_corruption_errors

    try:
        model = keras.saving.load_model(model_path)
    except Exception as error:  # a file Keras cannot read: any of several exception types
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise UsageError(f"--model {model_path}: not a Keras model file ({reason})") from error
    dataset = _test_set(model, dataset_name, seed, args.data_dir)
    print(f"tfaug robustness: {model_path} on the test split of {dataset_name}, {len(names)} corruptions", flush=True)
    try:
        result = robustness.corruption_errors(
            model, dataset, baseline=baseline, corruptions=names, severities=severities, seed=seed
        )
    except ValueError as error:
        raise UsageError(str(error).replace("`baseline`", "--baseline")) from error
    result["settings"] = {"model": str(model_path), "dataset": dataset_name, "seed": seed, "baseline": args.baseline}
    out.mkdir(parents=True, exist_ok=True)
    (out / OUTPUT_FILES[0]).write_text(json.dumps(result, indent=2) + "\n")
    plot_corruption_errors(result, out / OUTPUT_FILES[1], title=model_path.parent.name)
    summary = f"clean error {result['clean_error']:.1%}, mean corruption error {result['mean_error']:.1%}"
    if result.get("mce") is not None:
        summary += f", mCE {result['mce']:.1f}, relative mCE {_number(result['relative_mce'])}"
    print(f"{summary}; wrote {out}/: {', '.join(OUTPUT_FILES)}")


def parse_corruptions(text):
    if text in SUBSETS:
        return SUBSETS[text]
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in tc.CORRUPTIONS]
    if not names or unknown:
        raise UsageError(
            f"unknown corruption {', '.join(unknown) or repr(text)}; choose common, held_out, all, or names from "
            f"{', '.join(tc.CORRUPTIONS)}"
        )
    return tuple(names)


def parse_severities(text):
    try:
        severities = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        severities = ()
    if not severities or not all(1 <= s <= 5 for s in severities):
        raise UsageError(f"--severities must be comma-separated ints in 1..5, got {text!r}")
    return severities


def _number(value):
    return "n/a" if value is None else f"{value:.1f}"


def _check_out(out, overwrite):
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a folder")
    existing = [name for name in OUTPUT_FILES if (out / name).exists()]
    if existing and not overwrite:
        raise UsageError(f"{out / existing[0]} exists; pass --overwrite to replace it")


def _read_baseline(path):
    try:
        baseline = json.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError) as error:
        raise UsageError(f"--baseline {path}: not a readable robustness.json ({error})") from error
    if not isinstance(baseline, dict) or "errors" not in baseline or "clean_error" not in baseline:
        raise UsageError(f"--baseline {path}: not a robustness.json written by tfaug robustness")
    return baseline


def _training_settings(model_path):
    """The settings `tfaug train` recorded beside the model (`metrics.json`), or none."""
    try:
        return json.loads((model_path.parent / "metrics.json").read_text()).get("settings", {})
    except (OSError, ValueError, AttributeError):
        return {}


def _test_set(model, name, seed, data_dir):
    """The test split of `name` at the model's input size and channels, as float32 batches."""
    import tensorflow as tf

    from recipes import data

    shape = model.input_shape
    if not (isinstance(shape, tuple) and len(shape) == 4 and None not in shape[1:]):
        raise UsageError(f"--model takes inputs of shape {shape}; tfaug robustness needs one image input [H, W, C]")
    height, width, channels = shape[1:]
    if min(height, width) < tc.MIN_SIDE:
        raise UsageError(
            f"the model takes {height}x{width} images; the corruptions need at least {tc.MIN_SIDE} pixels a side "
            f"(train with --size {tc.MIN_SIDE} or more)"
        )
    kwargs = {"data_dir": data_dir} if name.startswith("tfds:") else {"seed": seed}
    try:
        test = data.load(name, split="test", size=(height, width), channels=channels, **kwargs)
    except ValueError as error:
        raise UsageError(str(error).replace("`name`", "--dataset")) from error
    return test.batch(64).map(lambda images, labels: (tf.cast(images, tf.float32), labels))
