"""Images/s of the DeiT / timm training input pipeline at 224 x 224 on real JPEGs: tfaug, Keras core layers, decoding.

The script writes `--images` JPEGs (quality 90) of about ImageNet's typical size, 500 x 375 (landscape) or
375 x 500, cut from scikit-image's photos (shifted, mirrored and rotated crops, so no two files are alike), into a
temporary folder with one sub-folder per photo, and reads them back through each pipeline:

- decode + resize (the floor): read, `tf.io.decode_jpeg`, resize the whole image to 224 x 224, batch. Any
  pipeline decodes every image, so none can beat this by much.
- decode, then crop (unfused): the whole JPEG decoded, then a random resized crop (`tfaug.RandomResizedCrop`
  on the image) resized to 224, batch.
- decode and crop, fused: `tfaug.data.decode_random_resized_crop` (only the crop window of the JPEG decoded).
- tfaug pipeline: `tfaug.data.train_pipeline` with its defaults (DeiT / timm): fused random resized crop
  (bicubic), horizontal flip, RandAugment `rand-m9-mstd0.5-inc1`, Random Erasing 0.25 (pixel), MixUp 0.8 /
  CutMix 1.0 with switch 0.5 and label smoothing 0.1, ImageNet normalisation.
- Keras core: the same stages from Keras's own layers, as a Keras user builds them: decode, resize to
  256 x 256, batch, then `RandomZoom((-0.3, 0))` and `RandomCrop(224, 224)`, `RandomFlip("horizontal")`,
  `RandAugment(factor=0.9)` (2 ops), `RandomErasing(factor=0.25)`, `CutMix` or `MixUp(0.8)` (alternate
  batches), normalisation, label smoothing. Keras draws some of its random parameters once per batch.

Every pipeline reads the same files through `tf.data` with `num_parallel_calls=AUTOTUNE` and `prefetch`; a
measurement starts a fresh iterator (the pipeline's functions are traced once, when it is built), runs
`--warmup` batches, then `--batches` timed ones, and stops it, so no other pipeline runs meanwhile. Rounds
go round-robin over the pipelines (load on a shared machine hits them alike); the table gives medians over
`--rounds` of images/s (wall clock) and images per CPU-second of this process (all its threads: the work an
image costs, whatever the core count).

    python benchmarks/pipeline.py                # writes benchmarks/results/pipeline.{md,json}
    python benchmarks/pipeline.py --images 40 --batch 8 --batches 2 --rounds 1 --out /tmp/p   # smoke run
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import tensorflow as tf  # noqa: E402

import tfaug  # noqa: E402
from tfaug.data.pipeline import IMAGENET_MEAN  # noqa: E402
from tfaug.data.pipeline import IMAGENET_STD  # noqa: E402
from tfaug.data.pipeline import train_pipeline  # noqa: E402

SIZE = 224
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "retina")
FLOOR = "decode + resize (floor)"
UNFUSED = "decode, then random resized crop"
FUSED = "decode and random resized crop, fused"
TFAUG = "tfaug pipeline (all stages)"
KERAS = "Keras core layers (all stages)"
CASES = (FLOOR, UNFUSED, FUSED, TFAUG, KERAS)


def write_jpegs(folder, count):
    """`count` JPEGs of 500 x 375 or 375 x 500 cut from scikit-image's photos: `(files, labels)`."""
    from PIL import Image
    from skimage import data

    photos = [Image.fromarray(getattr(data, name)()[..., :3]) for name in PHOTOS]
    files, labels = [], []
    for i in range(count):
        label = i % len(PHOTOS)
        photo = photos[label].rotate(7 * (i // len(PHOTOS)) % 360, resample=Image.BILINEAR)
        width, height = photo.size
        side = min(width, height) * (0.7 + 0.3 * ((i * 37) % 11) / 10)  # crop 70-100% of the shorter side
        left, top = (i * 13) % max(1, int(width - side)), (i * 29) % max(1, int(height - side))
        crop = photo.crop((left, top, left + side, top + side * 0.75))
        image = crop.resize((500, 375) if i % 4 else (375, 500), Image.BICUBIC)
        if i % 2:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        path = pathlib.Path(folder) / PHOTOS[label] / f"{i:04d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, quality=90)
        files.append(str(path))
        labels.append(label)
    return files, labels


def _read(files, labels):
    ds = tf.data.Dataset.from_tensor_slices((files, labels)).shuffle(len(files), seed=0).repeat()
    return ds.map(lambda f, y: (tf.io.read_file(f), y), num_parallel_calls=tf.data.AUTOTUNE)


def floor(files, labels, batch):
    def decode(data, label):
        image = tf.image.resize(tf.io.decode_jpeg(data, channels=3), (SIZE, SIZE))
        return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8), label

    ds = _read(files, labels).map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def unfused_crop(files, labels, batch):
    crop = tfaug.RandomResizedCrop(SIZE, seed=0)

    @tf.autograph.experimental.do_not_convert
    def decode(index, element):
        data, label = element
        image = crop.augment(tf.io.decode_jpeg(data, channels=3), seed=crop.seed_for_index(index))
        return image, label

    ds = _read(files, labels).enumerate().map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def fused_crop(files, labels, batch):
    decode = tfaug.data.decode_random_resized_crop(SIZE, seed=0)
    ds = _read(files, labels).enumerate().map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def tfaug_pipeline(files, labels, batch):
    return train_pipeline((files, labels), len(PHOTOS), SIZE, batch, seed=0)


def keras_pipeline(files, labels, batch):
    import keras

    k = len(PHOTOS)
    geometry = keras.Sequential(
        [
            keras.layers.RandomZoom((-0.3, 0.0), seed=0),
            keras.layers.RandomCrop(SIZE, SIZE, seed=1),
            keras.layers.RandomFlip("horizontal", seed=2),
            keras.layers.RandAugment(value_range=(0, 255), num_ops=2, factor=0.9, seed=3),
            keras.layers.RandomErasing(factor=0.25, value_range=(0, 255), seed=4),
        ]
    )
    cutmix, mixup = keras.layers.CutMix(seed=5), keras.layers.MixUp(alpha=0.8, seed=6)
    mean = tf.constant([255.0 * m for m in IMAGENET_MEAN])
    std = tf.constant([255.0 * s for s in IMAGENET_STD])

    def decode(data, label):
        image = tf.image.resize(tf.io.decode_jpeg(data, channels=3), (256, 256))
        return image, tf.one_hot(label, k)

    def augment(index, batch_):
        images, labels_ = batch_
        images = geometry(images, training=True)
        mixed = tf.cond(
            index % 2 == 0,
            lambda: cutmix({"images": images, "labels": labels_}, training=True),
            lambda: mixup({"images": images, "labels": labels_}, training=True),
        )
        return (mixed["images"] - mean) / std, mixed["labels"] * 0.9 + 0.1 / k

    ds = _read(files, labels).map(decode, num_parallel_calls=tf.data.AUTOTUNE).batch(batch, drop_remainder=True)
    return ds.enumerate().map(augment, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


BUILDERS = {FLOOR: floor, UNFUSED: unfused_crop, FUSED: fused_crop, TFAUG: tfaug_pipeline, KERAS: keras_pipeline}


def measure(iterator, batch, warmup, batches):
    """`(images/s, images per CPU-second)` over `batches` batches after `warmup` ones."""
    for _ in range(warmup):
        next(iterator)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(batches):
        next(iterator)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return batch * batches / wall, batch * batches / max(cpu, 1e-9)


def machine():
    cpu = platform.processor() or platform.machine()
    gpus = tf.config.list_physical_devices("GPU")
    where = f"GPU {gpus[0].name} (pipelines run on the CPU)" if gpus else "no GPU"
    return (
        f"{cpu}, {os.cpu_count()} CPU cores, {where}; Python {platform.python_version()}, TensorFlow {tf.__version__}"
    )


def run(images=300, batch=64, warmup=3, batches=10, rounds=3, cases=CASES):
    """Writes the JPEGs, measures every case `rounds` times; returns the JSON-ready results."""
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    with tempfile.TemporaryDirectory() as folder:
        files, labels = write_jpegs(folder, images)
        datasets = {case: BUILDERS[case](files, labels, batch) for case in cases}
        samples = {case: [] for case in cases}
        for _ in range(rounds):
            for case in cases:
                # A fresh iterator a measurement: no other pipeline prefetches in the background meanwhile.
                iterator = iter(datasets[case])
                samples[case].append(measure(iterator, batch, warmup, batches))
                del iterator
    rows = {
        case: {
            "images_per_s": statistics.median(s[0] for s in runs),
            "images_per_cpu_s": statistics.median(s[1] for s in runs),
            "rounds": [[round(a, 2), round(b, 2)] for a, b in runs],
        }
        for case, runs in samples.items()
    }
    return {
        "settings": dict(images=images, batch=batch, warmup=warmup, batches=batches, rounds=rounds, size=SIZE),
        "machine": machine(),
        "load_average": [load_start, os.getloadavg()[0] if hasattr(os, "getloadavg") else None],
        "rows": rows,
    }


def table(results):
    rows = results["rows"]
    s = results["settings"]
    lines = [
        f"Training input pipelines at {s['size']} x {s['size']}: {s['images']} JPEGs of 500 x 375 / 375 x 500 from "
        f"scikit-image's photos, batch {s['batch']}, {s['batches']} timed batches after {s['warmup']}, median of "
        f"{s['rounds']} rounds.",
        "",
        "| pipeline | images/s | images per CPU-second | vs floor | vs Keras |",
        "|---|---:|---:|---:|---:|",
    ]
    for case, row in rows.items():
        vs_floor = row["images_per_s"] / rows[FLOOR]["images_per_s"] if FLOOR in rows else float("nan")
        vs_keras = row["images_per_s"] / rows[KERAS]["images_per_s"] if KERAS in rows else float("nan")
        speed, per_cpu = row["images_per_s"], row["images_per_cpu_s"]
        lines.append(f"| {case} | {speed:.1f} | {per_cpu:.1f} | {vs_floor:.2f}x | {vs_keras:.2f}x |")
    start, end = results["load_average"]
    load = "" if start is None else f"; load average {start:.1f} at the start, {end:.1f} at the end"
    lines += ["", f"Machine: {results['machine']}{load}."]
    return "\n".join(lines) + "\n"


def build_parser(prog=None):
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300, help="JPEGs to write (default 300)")
    parser.add_argument("--batch", type=int, default=64, help="batch size (default 64)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed batches before each measurement (default 3)")
    parser.add_argument("--batches", type=int, default=10, help="timed batches a measurement (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="measurements of every pipeline (default 3)")
    parser.add_argument("--only", nargs="*", choices=range(len(CASES)), type=int, help="case numbers to run")
    parser.add_argument(
        "--out", default=str(pathlib.Path(__file__).parent / "results" / "pipeline"), help="output path, no suffix"
    )
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    for name in ("images", "batch", "batches", "rounds"):
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name} must be at least 1")
    cases = CASES if args.only is None else tuple(CASES[i] for i in args.only)
    results = run(args.images, args.batch, args.warmup, args.batches, args.rounds, cases)
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    text = table(results)
    out.with_suffix(".md").write_text(text)
    print(text)
    return results


if __name__ == "__main__":
    main()
