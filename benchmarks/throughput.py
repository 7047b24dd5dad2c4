"""Throughput of tfaug's layers against Keras core, KerasCV and keras-aug, measured in one run.

Every case runs inside `tf.function` on the same float32 batch (default 64 x 224 x 224 x 3, values in
[0, 255], one-hot labels for the mixing layers). Cases are timed round-robin (one call of each case per
round) so that load on a shared machine hits them alike; each case reports the median over rounds, in
images/s and in "passes": its time divided by the time of one elementwise pass over the batch
(`x * 1.0001`), a memory-bandwidth floor. With `--runs N` the whole measurement is repeated N times and
the table quotes the median of the runs.

    python benchmarks/throughput.py                  # CPU table (what the README shows)
    python benchmarks/throughput.py --jit            # everything under tf.function(jit_compile=True)
    python benchmarks/throughput.py --only tfaug --rounds 5 --batch 8 --size 64   # quick smoke run
    python benchmarks/throughput.py --cases cutmix mixup                         # matching cases only

KerasCV and keras-aug are optional benchmark extras (`pip install -e ".[bench]"`); their rows report
"unavailable" when they are not installed. keras-aug's layers take floats in [0, 1] and sparse labels with
`num_classes`: its rows include converting the batch (one elementwise pass, about 1 in the passes column)
and the labels, as a user with 0..255 images would. Keras core's and KerasCV's layers draw their
parameters with ops that XLA cannot compile (for example the gamma sampler), so under `--jit` their rows
report the error instead of a time.
Keras core's AugMix picks its op chains in Python when traced, so a traced function times one arbitrary
draw of them: its row is the mean over 8 traced draws (`_frozen_draws`).
"""

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfaug  # noqa: E402

NUM_CLASSES = 10
#: Colour jitter's (brightness, contrast, saturation, hue) in every library's row: timm's 0.4 and a hue of 0.1.
JITTER = (0.4, 0.4, 0.4, 0.1)
#: Keras core's AugMix freezes its chains when traced: its row is the mean over this many traced draws.
KERAS_AUGMIX_DRAWS = 8


def _with_labels(layer):
    """Calls a mixing layer of Keras core / KerasCV on their dict input; returns the images."""
    return lambda images, labels: layer({"images": images, "labels": labels})["images"]


def _tfaug_mixing(layer):
    return lambda images, labels: layer((images, labels))[0]


def _images_only(layer):
    return lambda images, labels: layer(images)


def _unit_range(layer, mixing=False):
    """Calls a keras-aug layer on the batch scaled to [0, 1] (and sparse labels for its mixing layers)."""
    if mixing:
        return lambda images, labels: layer({"images": images / 255.0, "labels": tf.argmax(labels, -1)})["images"]
    return lambda images, labels: layer(images / 255.0)


def _frozen_draws(make_layer, draws):
    """Cases for a layer that draws its ops in Python at trace time (Keras core's AugMix): `draws` instances,
    each its own traced function with its own frozen ops (Python's `random` seeded at trace time, so every
    run times the same draws). `measure` times them one after the other and reports the mean, the
    expected cost of a draw; one instance alone times one arbitrary draw (50 to 155 passes for AugMix measured)."""

    def case(index):
        layer = make_layer()

        def fn(images, labels):
            random.seed(index)
            return layer(images)

        return fn

    return [case(index) for index in range(draws)]


def cases(only=None):
    """Returns `[(group, name, fn or exception)]`: `fn(images, labels) -> images`."""
    table = [
        ("floor", "elementwise x * 1.0001", lambda: lambda images, labels: images * 1.0001),
        ("tfaug", "tfaug CutMix", lambda: _tfaug_mixing(tfaug.CutMix(seed=0))),
        ("tfaug", "tfaug MixUp", lambda: _tfaug_mixing(tfaug.MixUp(seed=0))),
        ("tfaug", "tfaug MixUpCutMix", lambda: _tfaug_mixing(tfaug.MixUpCutMix(seed=0))),
        ("tfaug", "tfaug RandomErasing (p=1)", lambda: _images_only(tfaug.RandomErasing(probability=1.0, seed=0))),
        ("tfaug", "tfaug Cutout", lambda: _images_only(tfaug.Cutout(size=0.5, seed=0))),
        ("tfaug", "tfaug RandAugment(2, 9)", lambda: _images_only(tfaug.RandAugment(seed=0))),
        ("tfaug", "tfaug AutoAugment (imagenet)", lambda: _images_only(tfaug.AutoAugment(seed=0))),
        ("tfaug", "tfaug TrivialAugmentWide", lambda: _images_only(tfaug.TrivialAugmentWide(seed=0))),
        ("tfaug", "tfaug AugMix", lambda: _images_only(tfaug.AugMix(seed=0))),
        (
            "tfaug",
            "tfaug AugMix (all_ops, bilinear: Keras's defaults)",
            lambda: _images_only(tfaug.AugMix(all_ops=True, interpolation="bilinear", seed=0)),
        ),
        ("tfaug", "tfaug RandomResizedCrop(224)", lambda: _images_only(tfaug.RandomResizedCrop(224, seed=0))),
        ("tfaug", "tfaug RandomFlip", lambda: _images_only(tfaug.RandomFlip(seed=0))),
        ("tfaug", f"tfaug ColorJitter{JITTER}", lambda: _images_only(tfaug.ColorJitter(*JITTER, seed=0))),
        ("tfaug", "tfaug RandomGrayscale (p=0.1)", lambda: _images_only(tfaug.RandomGrayscale(0.1, seed=0))),
        ("keras", "keras.layers.CutMix", lambda: _with_labels(keras.layers.CutMix(seed=0))),
        ("keras", "keras.layers.MixUp", lambda: _with_labels(keras.layers.MixUp(seed=0))),
        (
            "keras",
            "keras.layers.RandomErasing (factor=1)",
            lambda: _images_only(keras.layers.RandomErasing(factor=1.0, seed=0)),
        ),
        (
            "keras",
            "keras.layers.RandAugment",
            lambda: _images_only(keras.layers.RandAugment(value_range=(0, 255), seed=0)),
        ),
        (
            "keras",
            f"keras.layers.AugMix (mean of {KERAS_AUGMIX_DRAWS} draws)",
            lambda: _frozen_draws(lambda: keras.layers.AugMix(value_range=(0, 255), seed=0), KERAS_AUGMIX_DRAWS),
        ),
        ("keras", "keras.layers.RandomFlip", lambda: _images_only(keras.layers.RandomFlip("horizontal", seed=0))),
        (
            "keras",
            f"keras.layers.RandomColorJitter{JITTER}",
            lambda: _images_only(keras.layers.RandomColorJitter((0, 255), *JITTER, seed=0)),
        ),
        (
            "keras",
            "keras.layers.RandomGrayscale (factor=0.1)",
            lambda: _images_only(keras.layers.RandomGrayscale(0.1, seed=0)),
        ),
        ("keras_cv", "keras_cv CutMix", lambda: _with_labels(_keras_cv().layers.CutMix(seed=0))),
        ("keras_cv", "keras_cv MixUp", lambda: _with_labels(_keras_cv().layers.MixUp(seed=0))),
        (
            "keras_cv",
            "keras_cv RandomCutout (0.5)",
            lambda: _images_only(_keras_cv().layers.RandomCutout(0.5, 0.5, seed=0)),
        ),
        (
            "keras_cv",
            "keras_cv RandAugment",
            lambda: _images_only(_keras_cv().layers.RandAugment(value_range=(0, 255), seed=0)),
        ),
        ("keras_aug", "keras_aug CutMix", lambda: _unit_range(_keras_aug().CutMix(num_classes=NUM_CLASSES), True)),
        ("keras_aug", "keras_aug MixUp", lambda: _unit_range(_keras_aug().MixUp(num_classes=NUM_CLASSES), True)),
        ("keras_aug", "keras_aug RandomErasing (p=1)", lambda: _unit_range(_keras_aug().RandomErasing(p=1.0))),
        ("keras_aug", "keras_aug RandAugment(2, 9)", lambda: _unit_range(_keras_aug().RandAugment())),
        ("keras_aug", "keras_aug TrivialAugmentWide", lambda: _unit_range(_keras_aug().TrivialAugmentWide())),
        (
            "keras_aug",
            "keras_aug RandomResizedCrop(224)",
            lambda: _unit_range(_keras_aug().RandomResizedCrop(224, antialias=False)),
        ),
        ("keras_aug", "keras_aug RandomFlip", lambda: _unit_range(_keras_aug().RandomFlip())),
        ("keras_aug", f"keras_aug ColorJitter{JITTER}", lambda: _unit_range(_keras_aug().ColorJitter(*JITTER))),
        ("keras_aug", "keras_aug RandomGrayscale (p=0.1)", lambda: _unit_range(_keras_aug().RandomGrayscale(p=0.1))),
    ]
    built = []
    for group, name, make in table:
        if only and group not in only and group != "floor":
            continue
        try:
            built.append((group, name, make()))
        except Exception as error:  # a peer library missing or broken: report it, keep going
            built.append((group, name, error))
    return built


def _keras_cv():
    import keras_cv

    return keras_cv


def _keras_aug():
    from keras_aug.layers import vision

    return vision


def _sync(output):
    # Reading one element waits for the computation (needed on GPU; free on CPU).
    return float(tf.reshape(output, [-1])[0])


def measure(entries, images, labels, rounds, warmup, jit):
    """One run: returns `{name: median seconds or error string}`."""
    compiled = {}
    results = {}
    for _group, name, fn in entries:
        if isinstance(fn, Exception):
            results[name] = f"unavailable: {type(fn).__name__}: {fn}"
            continue
        # A list of functions (`_frozen_draws`) is one case: each is called once per round, times averaged.
        functions = [tf.function(f, jit_compile=jit) for f in (fn if isinstance(fn, list) else [fn])]
        try:
            for _ in range(warmup):
                for function in functions:
                    _sync(function(images, labels))
        except Exception as error:
            results[name] = f"failed: {type(error).__name__}: {str(error).splitlines()[0][:120]}"
            continue
        compiled[name] = functions
    times = {name: [] for name in compiled}
    for _ in range(rounds):
        for name, functions in compiled.items():
            start = time.perf_counter()
            for function in functions:
                _sync(function(images, labels))
            times[name].append((time.perf_counter() - start) / len(functions))
    results.update({name: statistics.median(values) for name, values in times.items()})
    return results


def machine_description():
    devices = tf.config.list_physical_devices("GPU")
    if devices:
        details = tf.config.experimental.get_device_details(devices[0])
        return f"GPU: {details.get('device_name', devices[0].name)}"
    return f"CPU: {os.cpu_count()} cores, {platform.processor() or platform.machine()}"


def build_parser(prog=None):
    """The script's argument parser (`tfaug bench` passes its options through to it)."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64, help="images per batch (default 64)")
    parser.add_argument("--size", type=int, default=224, help="image side in pixels (default 224)")
    parser.add_argument("--rounds", type=int, default=30, help="timed calls per case per run (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls per case first (default 3)")
    parser.add_argument("--runs", type=int, default=1, help="repeat the whole measurement; quote medians")
    parser.add_argument("--jit", action="store_true", help="tf.function(jit_compile=True) for every case")
    parser.add_argument("--only", nargs="*", choices=["tfaug", "keras", "keras_cv", "keras_aug"], help="groups to run")
    parser.add_argument(
        "--cases", nargs="+", metavar="TEXT", help="only cases whose name contains one of these (any case)"
    )
    parser.add_argument("--json", help="also write the results to this JSON file")
    return parser


def main(argv=None, parser=None):
    """Measures and prints the table; `parser` (default `build_parser()`) reads `argv`. Returns 0."""
    parser = parser or build_parser()
    args = parser.parse_args(argv)
    if min(args.batch, args.size, args.rounds, args.runs) < 1 or args.warmup < 0:
        parser.error("--batch, --size, --rounds and --runs must be >= 1, --warmup >= 0")

    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(0, 255, (args.batch, args.size, args.size, 3)).astype("float32"))
    labels = tf.one_hot(rng.integers(0, NUM_CLASSES, args.batch), NUM_CLASSES)
    entries = cases(args.only)
    if args.cases:
        wanted = [text.lower() for text in args.cases]
        entries = entries[:1] + [e for e in entries[1:] if any(text in e[1].lower() for text in wanted)]

    runs = [measure(entries, images, labels, args.rounds, args.warmup, args.jit) for _ in range(args.runs)]
    floor_name = entries[0][1]
    rows = []
    for _, name, _ in entries:
        values = [run[name] for run in runs]
        if isinstance(values[0], str):
            rows.append({"case": name, "error": values[0]})
            continue
        passes = statistics.median(run[name] / run[floor_name] for run in runs)
        seconds = statistics.median(values)
        rows.append({"case": name, "ms": seconds * 1e3, "images_per_s": args.batch / seconds, "passes": passes})

    mode = "tf.function(jit_compile=True)" if args.jit else "tf.function"
    print(
        f"{machine_description()}; TensorFlow {tf.__version__}, Keras {keras.__version__}; {mode}; "
        f"batch {args.batch}x{args.size}x{args.size}x3 float32; median of {args.rounds} rounds"
        + (f", median of {args.runs} runs" if args.runs > 1 else "")
    )
    print()
    print("| case | ms / batch | images/s | passes |")
    print("|---|---:|---:|---:|")
    for row in rows:
        if "error" in row:
            print(f"| {row['case']} | n/a | n/a | {row['error']} |")
        else:
            print(f"| {row['case']} | {row['ms']:.1f} | {row['images_per_s']:,.0f} | {row['passes']:.2f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine_description(), "mode": mode, "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
