"""Corruption robustness on scikit-learn's handwritten digits: which augmentations make a small CNN robust.

Real data that ships offline: the 1,797 digits of `sklearn.datasets.load_digits` (`recipes.data`),
upsampled to 32 x 32 (bilinear, antialiased) and replicated to RGB, so that every augmentation, Keras
core's included, takes them. A fixed stratified 20% test split (360 images, split seed 0) is never
trained on. Two regimes: all labels (1,437 training images) and few labels (a stratified 10% of the
training split per seed, 143 images).

Robustness is measured with `recipes.robustness.corruption_errors` on the fifteen ImageNet-C corruptions
(`tfaug.corruptions.COMMON`; CIFAR-10-C parameters, the 32-pixel table), five severities each. mCE is
relative to the no-augmentation model of the same seed and regime (so `none` is 100 by definition);
relative mCE compares the rise of error over the clean error. No configuration trains on a corruption of
the fifteen: the only corruption layer used in training is `RandomCorruption` on the four held-out ones
(speckle noise, Gaussian blur, spatter, saturate), and its rows say so, because speckle noise and Gaussian
blur are close relatives of the benchmark's noise and blur.

Configurations (the same small CNN, optimiser and steps; only the training data changes):

- none; Keras core `CutMix`, `MixUp`, `RandAugment`, `AugMix` (their defaults, `value_range=(0, 255)`);
- tfaug `CutMix`, `MixUp`, `MixUpCutMix`, `RandomErasing`, `RandAugment`, `TrivialAugmentWide`, `AugMix`
  (defaults), and `AugMix` with the Jensen-Shannon consistency loss (`AugMixConsistency`, weight 12:
  each batch is seen clean and in two AugMix views);
- combinations (`COMBINATIONS`), the search for a robust recipe.

    python benchmarks/robustness.py                     # the README table: 3 seeds, both regimes
    python benchmarks/robustness.py --quick             # 1 seed, few epochs, 2 configurations: a smoke run
    python benchmarks/robustness.py --configs none,aug_mix_jsd --seeds 1 --regimes all --out /tmp/r
"""

import argparse
import json
import os
import pathlib
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import tfaug  # noqa: E402
from recipes import data as recipe_data  # noqa: E402
from recipes import robustness  # noqa: E402
from recipes import train as recipe_train  # noqa: E402

NUM_CLASSES = 10
SIZE = 32
WIDTH = 16
SPLIT_SEED = 0
SEEDS = (0, 1, 2)
#: Per regime: labeled fraction of the training split, batch size, epochs.
REGIMES = {"all": (None, 64, 40), "few": (0.1, 32, 150)}
HELD_OUT = tfaug.corruptions.HELD_OUT


class KerasCore:
    """A Keras core preprocessing layer in `recipes.train.augmenter`'s protocol (dict in, dict out)."""

    def __init__(self, layer):
        self.layer = layer

    def seed_for_index(self, index):
        return None

    def augment(self, batch, seed=None):
        images, labels = batch
        out = self.layer({"images": images, "labels": labels}, training=True)
        return out["images"], out["labels"]


def _tfaug(cls, **kwargs):
    return lambda seed: cls(num_classes=NUM_CLASSES, seed=seed, **kwargs)


#: Name -> list of layer factories (seed -> layer), applied in order.
CONFIGS = {
    "none": [],
    "keras_cutmix": [lambda seed: KerasCore(keras.layers.CutMix(seed=seed))],
    "keras_mixup": [lambda seed: KerasCore(keras.layers.MixUp(seed=seed))],
    "keras_rand_augment": [lambda seed: KerasCore(keras.layers.RandAugment(value_range=(0, 255), seed=seed))],
    "keras_aug_mix": [lambda seed: KerasCore(keras.layers.AugMix(value_range=(0, 255), seed=seed))],
    "cutmix": [_tfaug(tfaug.CutMix)],
    "mixup": [_tfaug(tfaug.MixUp)],
    "mixup_cutmix": [_tfaug(tfaug.MixUpCutMix)],
    "random_erasing": [_tfaug(tfaug.RandomErasing)],
    "rand_augment": [_tfaug(tfaug.RandAugment)],
    "trivial_augment_wide": [_tfaug(tfaug.TrivialAugmentWide)],
    "aug_mix": [_tfaug(tfaug.AugMix)],
    "aug_mix_jsd": [_tfaug(tfaug.AugMix)],  # trained with the consistency loss (JSD)
}
#: Combinations tried in the search for a robust recipe (same protocol).
COMBINATIONS = {
    "aug_mix_severity1": [_tfaug(tfaug.AugMix, severity=1)],
    "aug_mix_severity2": [_tfaug(tfaug.AugMix, severity=2)],
    "held_out_corruption": [_tfaug(tfaug.RandomCorruption, corruptions=list(HELD_OUT))],
    "aug_mix_jsd+held_out_corruption": [
        _tfaug(tfaug.RandomCorruption, corruptions=list(HELD_OUT)),
        _tfaug(tfaug.AugMix),
    ],
}
CONFIGS.update(COMBINATIONS)
#: What a plain run trains: all but the milder AugMix severities (tried, no better at clean accuracy).
DEFAULT_CONFIGS = [name for name in CONFIGS if not name.startswith("aug_mix_severity")]
JSD = ("aug_mix_jsd", "aug_mix_jsd+held_out_corruption")


def load_splits():
    def arrays(split):
        ds = recipe_data.load("digits", split=split, size=SIZE, channels=3, seed=SPLIT_SEED)
        images, labels = zip(*ds.as_numpy_iterator())
        return np.stack(images), np.array(labels)

    return arrays("train"), arrays("test")


def labeled(x, y, fraction, seed):
    if fraction is None:
        return x, y
    from sklearn.model_selection import train_test_split

    index, _ = train_test_split(np.arange(len(y)), train_size=fraction, stratify=y, random_state=seed)
    return x[np.sort(index)], y[np.sort(index)]


def train(config, x, y, batch_size, epochs, seed):
    """The small CNN trained on `(x, y)` with `config`'s layers (and the JSD loss for the JSD configs)."""
    keras.utils.set_random_seed(seed)
    layers = [factory(seed + i) for i, factory in enumerate(CONFIGS[config])]
    model = recipe_train.small_cnn(x.shape[1:], NUM_CLASSES, WIDTH)
    if config in JSD:
        ds, steps = _jsd_pipeline(x, y, layers, batch_size, seed)
        loss = tfaug.AugMixConsistency()
        metrics = []
    else:
        ds, steps = recipe_train.pipeline(x, y, NUM_CLASSES, layers, batch_size, seed)
        loss = keras.losses.CategoricalCrossentropy(from_logits=True)
        metrics = ["accuracy"]
    model.compile(optimizer=recipe_train.optimizer(steps * epochs), loss=loss, metrics=metrics)
    model.fit(ds, epochs=epochs, steps_per_epoch=steps, verbose=0)
    return model


def _jsd_pipeline(x, y, layers, batch_size, seed):
    """Batches of `[clean, view 1, view 2]` images (the last layer, AugMix, draws the two views; earlier
    layers act on the clean batch) with the clean batch's one-hot labels."""
    *before, augmix = layers
    first = recipe_train.augmenter(before)

    @tf.autograph.experimental.do_not_convert
    def views(index, batch):
        images, labels = first(index, batch)
        seeds = tfaug.random.split_seed(augmix.seed_for_index(index), 2)
        one, two = (augmix.augment(images, seed=s) for s in tf.unstack(seeds))
        return tf.concat([images, one, two], axis=0), labels

    steps = max(1, len(x) // batch_size)
    ds = tf.data.Dataset.from_tensor_slices((x, np.eye(NUM_CLASSES, dtype=np.float32)[y]))
    ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.batch(batch_size, drop_remainder=True).enumerate().map(views, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE), steps


def corrupted_test_set(x_test, y_test):
    """The test split under the fifteen corruptions, corrupted once and kept in memory for every model."""
    ds = tf.data.Dataset.from_tensor_slices((x_test.astype(np.float32), y_test)).batch(120)
    return robustness.CorruptedDataset(ds, cache=True)


def run(configs, regimes, seeds, quick, models=None, epochs_factor=1.0):
    (x_train, y_train), (x_test, y_test) = load_splits()
    test = corrupted_test_set(x_test, y_test)
    results = {}
    for regime in regimes:
        fraction, batch_size, epochs = REGIMES[regime]
        epochs = 2 if quick else round(epochs * epochs_factor)
        for seed in seeds:
            x, y = labeled(x_train, y_train, fraction, seed)
            baseline = None
            for config in ["none", *[c for c in configs if c != "none"]]:
                start = time.time()
                model = train(config, x, y, batch_size, epochs, seed)
                if models:
                    model.save(pathlib.Path(models) / f"{regime}_{seed}_{config}.keras")
                result = test.evaluate(model, baseline, verbose=0)
                baseline = baseline or result
                results.setdefault(regime, {}).setdefault(config, []).append(result)
                print(
                    f"{regime} seed {seed} {config}: clean {1 - result['clean_error']:.1%}, corrupted "
                    f"{1 - result['mean_error']:.1%}, mCE {result.get('mce') or 100:.1f} ({time.time() - start:.0f} s)",
                    flush=True,
                )
    return results


def stat(values, scale=100.0, digits=1):
    values = scale * np.asarray(values, float)
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"


def table(results, seeds):
    lines = []
    for regime, rows in results.items():
        lines += [
            f"\n{regime} labels ({len(seeds)} seeds, mean ± std)\n",
            "| configuration | clean accuracy % | corrupted accuracy % | mCE | relative mCE |",
            "|---|---|---|---|---|",
        ]
        for config, runs in rows.items():
            mce = [r.get("mce", 100.0) or 100.0 for r in runs]
            rel = [r.get("relative_mce", 100.0) or 100.0 for r in runs]
            lines.append(
                f"| {config} | {stat([1 - r['clean_error'] for r in runs])} | "
                f"{stat([1 - r['mean_error'] for r in runs])} | {stat(mce, 1.0)} | {stat(rel, 1.0)} |"
            )
    return "\n".join(lines)


def machine():
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, TensorFlow {tf.__version__}"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default=",".join(DEFAULT_CONFIGS), help="comma-separated names of CONFIGS")
    parser.add_argument("--regimes", default="all,few", help="all, few or both (default)")
    parser.add_argument("--seeds", type=int, default=len(SEEDS), help="number of seeds (default 3)")
    parser.add_argument("--quick", action="store_true", help="1 seed, 2 epochs, none and aug_mix only")
    parser.add_argument("--epochs-factor", type=float, default=1.0, help="epochs of every regime times this")
    parser.add_argument("--models", help="folder to save every trained model in (to evaluate them again)")
    parser.add_argument("--out", default=str(pathlib.Path(__file__).parent / "results"), help="folder for the results")
    args = parser.parse_args(argv)
    args.configs = ["none", "aug_mix"] if args.quick else [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in args.configs if c not in CONFIGS]
    regimes = [r.strip() for r in args.regimes.split(",") if r.strip()]
    if unknown or not set(regimes) <= set(REGIMES) or not 1 <= args.seeds <= len(SEEDS):
        parser.error(f"unknown configs {unknown} or regimes {regimes}, or --seeds outside 1..{len(SEEDS)}")
    args.regimes = regimes
    return args


def main(argv=None):
    args = parse_args(argv)
    seeds = SEEDS[: 1 if args.quick else args.seeds]
    start = time.time()
    if args.models:
        pathlib.Path(args.models).mkdir(parents=True, exist_ok=True)
    results = run(args.configs, args.regimes, seeds, args.quick, args.models, args.epochs_factor)
    text = table(results, seeds)
    epochs = ", ".join(f"{r}: {round(REGIMES[r][2] * args.epochs_factor)} epochs" for r in args.regimes)
    header = f"Corruption robustness on the digits (32 x 32; {epochs}); {machine()}; {time.time() - start:.0f} s"
    print(f"\n{header}\n{text}")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "robustness_quick" if args.quick else "robustness"
    (out / f"{name}.json").write_text(json.dumps({"machine": machine(), "results": results}, indent=1) + "\n")
    (out / f"{name}.md").write_text(f"{header}\n{text}\n")


if __name__ == "__main__":
    main()
