"""Style, feature-statistics and saliency-guided augmentation on the digits: corruptions and shifted domains.

The protocol of `benchmarks/robustness.py` (the same 32 x 32 digits, splits, small CNN, optimiser, both
regimes, 3 seeds, fifteen corruptions at five severities, mCE against the same seed's no-augmentation
model), plus accuracy on three shifted test domains built from the test digits and real photos
(`shifted_digits`: inverted, coloured, MNIST-M-style photo blend; photos never seen in training).

Configurations (only what the table names changes):

- references: none, tfaug `CutMix`, `MixUp`, `AugMix` (the robustness recommendation);
- in the input pipeline: `RandConv`, `StyleAugmentation` (a small AdaIN decoder trained per seed on the
  training digits and `shifted_digits.STYLE_PHOTOS`, styles drawn from the statistics of those photos),
  `ResizeMix`, `SaliencyMix` (spectral-residual saliency);
- in the model: `MixStyle` and `DSU` after stages 1 and 2 of the small CNN;
- in the training step: `recipes.PuzzleMix` (input-gradient saliency, one extra backward pass) and
  `recipes.ManifoldMixup` (input, stage 1 or stage 2).

    python benchmarks/domain_shift.py                 # the README table: 3 seeds, both regimes
    python benchmarks/domain_shift.py --quick         # 1 seed, 2 epochs, 2 configurations: a smoke run
"""

import argparse
import json
import pathlib
import sys
import time

import keras
import numpy as np
import tensorflow as tf

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import robustness  # noqa: E402
import shifted_digits  # noqa: E402
import style_networks  # noqa: E402

import recipes  # noqa: E402
import tfaug  # noqa: E402
from recipes import models  # noqa: E402
from recipes import train as recipe_train  # noqa: E402

NUM_CLASSES = robustness.NUM_CLASSES
STYLE_PATCHES = 256


def _tfaug(cls, **kwargs):
    return lambda seed, x: cls(num_classes=NUM_CLASSES, seed=seed, **kwargs)


def _style_augmentation(seed, x):
    rng = np.random.default_rng(seed)
    styles = shifted_digits.patches(shifted_digits.STYLE_PHOTOS, STYLE_PATCHES, x.shape[1], rng)
    encoder, decoder = style_networks.fit(x.astype(np.float32), styles, seed)
    layer = tfaug.layers.StyleAugmentation(encoder, decoder, style_source="random", seed=seed)
    layer.adapt(styles)
    return layer


def _feature(cls):
    return lambda seed: lambda stage: cls(seed=seed + stage)


def _puzzle_mix(model, seed):
    return recipes.PuzzleMix(model, seed=seed)


def _manifold_mixup(model, seed):
    return recipes.ManifoldMixup(model, layers=["stage1", "stage2"], seed=seed)


#: Name -> (input-pipeline layer factories `(seed, x) -> layer`, feature-layer factory or None, training
#: wrapper `(model, seed) -> keras.Model` or None).
CONFIGS = {
    "none": ([], None, None),
    "cutmix": ([_tfaug(tfaug.CutMix)], None, None),
    "mixup": ([_tfaug(tfaug.MixUp)], None, None),
    "aug_mix": ([_tfaug(tfaug.AugMix)], None, None),
    "rand_conv": ([_tfaug(tfaug.layers.RandConv)], None, None),
    "style_augmentation": ([_style_augmentation], None, None),
    "mix_style": ([], _feature(tfaug.layers.MixStyle), None),
    "dsu": ([], _feature(tfaug.layers.DSU), None),
    "resize_mix": ([_tfaug(tfaug.layers.ResizeMix)], None, None),
    "saliency_mix": ([_tfaug(tfaug.layers.SaliencyMix)], None, None),
    "puzzle_mix": ([], None, _puzzle_mix),
    "manifold_mixup": ([], None, _manifold_mixup),
}


def train(config, x, y, batch_size, epochs, seed):
    """The small CNN trained on `(x, y)` under `config`; returns the plain classifier."""
    keras.utils.set_random_seed(seed)
    factories, feature, wrapper = CONFIGS[config]
    layers = [factory(seed + i, x) for i, factory in enumerate(factories)]
    features = None if feature is None else feature(seed)
    model = models.small_cnn(x.shape[1:], NUM_CLASSES, robustness.WIDTH, feature_augmentation=features)
    trainer = model if wrapper is None else wrapper(model, seed)
    ds, steps = recipe_train.pipeline(x, y, NUM_CLASSES, layers, batch_size, seed)
    trainer.compile(
        optimizer=recipe_train.optimizer(steps * epochs),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        # The max-flow loops of Puzzle Mix's cut run far faster compiled.
        jit_compile=config == "puzzle_mix",
    )
    trainer.fit(ds, epochs=epochs, steps_per_epoch=steps, verbose=0)
    return model


def domain_accuracies(model, domains, y):
    """Accuracy of `model` on each shifted domain, by name."""
    return {
        name: float(np.mean(np.argmax(model.predict(images, batch_size=120, verbose=0), axis=-1) == y))
        for name, images in domains.items()
    }


def step_overhead(x, y, seed, steps=20):
    """Seconds per step of Puzzle Mix and of a plain step: same model, batch of 64, XLA, this run."""
    model = models.small_cnn(x.shape[1:], NUM_CLASSES, robustness.WIDTH)
    images = tf.constant(x[:64], tf.float32)
    labels = tf.one_hot(y[:64], NUM_CLASSES)
    return recipes.step_overhead(model, images, labels, steps=steps, jit_compile=True, seed=seed)._asdict()


def run(configs, regimes, seeds, quick, epochs_factor=1.0):
    (x_train, y_train), (x_test, y_test) = robustness.load_splits()
    test = robustness.corrupted_test_set(x_test, y_test)
    domains = shifted_digits.shifted(x_test)
    results = {}
    for regime in regimes:
        fraction, batch_size, epochs = robustness.REGIMES[regime]
        epochs = 2 if quick else max(1, round(epochs * epochs_factor))
        for seed in seeds:
            x, y = robustness.labeled(x_train, y_train, fraction, seed)
            baseline = None
            for config in ["none", *[c for c in configs if c != "none"]]:
                start = time.time()
                model = train(config, x, y, batch_size, epochs, seed)
                result = test.evaluate(model, baseline, verbose=0)
                baseline = baseline or result
                result["domains"] = domain_accuracies(model, domains, y_test)
                result["shifted_accuracy"] = float(np.mean(list(result["domains"].values())))
                results.setdefault(regime, {}).setdefault(config, []).append(result)
                print(
                    f"{regime} seed {seed} {config}: clean {1 - result['clean_error']:.1%}, corrupted "
                    f"{1 - result['mean_error']:.1%}, shifted {result['shifted_accuracy']:.1%} "
                    f"({time.time() - start:.0f} s)",
                    flush=True,
                )
    return results


def table(results, seeds):
    stat = robustness.stat
    lines = []
    for regime, rows in results.items():
        lines += [
            f"\n{regime} labels ({len(seeds)} seeds, mean ± std; accuracies in %)\n",
            "| configuration | clean | corrupted | mCE | shifted (mean) | " + " | ".join(shifted_digits.DOMAINS) + " |",
            "|---|---|---|---|---|" + "---|" * len(shifted_digits.DOMAINS),
        ]
        for config, runs in rows.items():
            mce = [r.get("mce", 100.0) or 100.0 for r in runs]
            per_domain = [stat([r["domains"][d] for r in runs]) for d in shifted_digits.DOMAINS]
            lines.append(
                f"| {config} | {stat([1 - r['clean_error'] for r in runs])} | "
                f"{stat([1 - r['mean_error'] for r in runs])} | {stat(mce, 1.0)} | "
                f"{stat([r['shifted_accuracy'] for r in runs])} | " + " | ".join(per_domain) + " |"
            )
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated names of CONFIGS")
    parser.add_argument("--regimes", default="all,few", help="all, few or both (default)")
    parser.add_argument("--seeds", type=int, default=len(robustness.SEEDS), help="number of seeds (default 3)")
    parser.add_argument("--quick", action="store_true", help="1 seed, 2 epochs, none and rand_conv only")
    parser.add_argument("--epochs-factor", type=float, default=1.0, help="epochs of every regime times this")
    parser.add_argument("--out", default=str(pathlib.Path(__file__).parent / "results"), help="folder for the results")
    args = parser.parse_args(argv)
    args.configs = ["none", "rand_conv"] if args.quick else [c.strip() for c in args.configs.split(",") if c.strip()]
    regimes = [r.strip() for r in args.regimes.split(",") if r.strip()]
    unknown = [c for c in args.configs if c not in CONFIGS]
    if unknown or not set(regimes) <= set(robustness.REGIMES) or not 1 <= args.seeds <= len(robustness.SEEDS):
        parser.error(f"unknown configs {unknown} or regimes {regimes}, or --seeds outside 1..{len(robustness.SEEDS)}")
    args.regimes = regimes
    return args


def main(argv=None):
    args = parse_args(argv)
    seeds = robustness.SEEDS[: 1 if args.quick else args.seeds]
    start = time.time()
    results = run(args.configs, args.regimes, seeds, args.quick, args.epochs_factor)
    overhead = None
    if "puzzle_mix" in args.configs:
        (x_train, y_train), _ = robustness.load_splits()
        overhead = step_overhead(x_train, y_train, seeds[0])
    text = table(results, seeds)
    epochs = ", ".join(
        f"{r}: {2 if args.quick else max(1, round(robustness.REGIMES[r][2] * args.epochs_factor))} epochs"
        for r in args.regimes
    )
    machine = robustness.machine()
    header = f"Augmentation under corruptions and domain shift, digits 32 x 32 ({epochs}); {machine}; "
    header += f"{time.time() - start:.0f} s"
    if overhead:
        plain, puzzle = overhead["plain"], overhead["puzzle_mix"]
        header += f"\n\nSeconds per training step (batch 64, same model, XLA, this run): plain {plain:.4f}, "
        header += f"Puzzle Mix {puzzle:.4f} ({puzzle / plain:.1f}x)"
    print(f"\n{header}\n{text}")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "domain_shift_quick" if args.quick else "domain_shift"
    saved = {"machine": machine, "results": results, "puzzle_mix_step_seconds": overhead}
    (out / f"{name}.json").write_text(json.dumps(saved, indent=1) + "\n")
    (out / f"{name}.md").write_text(f"{header}\n{text}\n")


if __name__ == "__main__":
    main()
