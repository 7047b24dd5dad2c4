"""RandAugment's (N, M) grid search on scikit-learn's digits: which digits RandAugment to train with.

The setup of `digits_results.py`, imported from it: the 1,797 gray digits upsampled to 16x16, its fixed
stratified 20% test split (never used here), and per seed its stratified 10% of the training split as the
labeled set (143 images); the other 1,294 training images, the unlabeled pool, are the validation split
here: their labels choose (N, M), they are never trained on. The small CNN (width 16), batch 32, Adam with
cosine decay and the epochs are that script's; RandAugment draws from its digits-suited op list
(`RA_DIGIT_OPS`: geometric and contrast ops) with black fill, the digits' background.

`recipes.search_randaugment` trains one fresh small CNN per (N, M) and seed, every point from the same
weights, shuffle and layer seed, and scores it on the pool. N = 0 (the same pipeline with no op: no
augmentation) is trained as a reference, outside the grid. With several seeds the choice is made on the
mean over seeds (each seed its own labeled set and pool); ties go to the fewest ops, then the smallest
magnitude.

    python benchmarks/randaugment_search.py                 # N 1-3 x M 3,5,7,9, seeds 0-2, 100 epochs
    python benchmarks/randaugment_search.py --seeds 1       # seed 0 only
    python benchmarks/randaugment_search.py --quick         # N 1,2 x M 5,9, 1 seed, 2 epochs: a smoke run
    python benchmarks/randaugment_search.py --num-ops 1,2 --magnitudes 2,4 --epochs 50 --tuner keras_tuner
"""

import argparse
import json
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import digits_results  # noqa: E402

from recipes import grid_search  # noqa: E402
from recipes import models  # noqa: E402
from recipes import search_randaugment  # noqa: E402

NUM_OPS = (1, 2, 3)
MAGNITUDES = (3, 5, 7, 9)
SEEDS = 3
QUICK = dict(num_ops=(1, 2), magnitudes=(5, 9), seeds=1, epochs=2)


def splits(data, seed):
    """`(train, validation)`: seed's labeled set and its unlabeled pool, with labels, as `digits_results`."""
    x_train, y_train, _, _ = data  # the test split is not used
    labeled, unlabeled = digits_results.labeled_index(y_train, seed)
    return (x_train[labeled], y_train[labeled]), (x_train[unlabeled], y_train[unlabeled])


def search(data, seed, num_ops, magnitudes, epochs, tuner=None, verbose=1):
    """`recipes.search_randaugment` on seed's split with the digits setup."""

    def build_model():
        return models.small_cnn(digits_results.SHAPE, digits_results.NUM_CLASSES, digits_results.WIDTH)

    train, validation = splits(data, seed)
    return search_randaugment(
        build_model,
        train,
        validation,
        num_ops,
        magnitudes,
        epochs=epochs,
        batch_size=digits_results.BATCH_SIZE,
        seed=seed,
        ops=digits_results.RA_DIGIT_OPS,
        fill_value=0,
        tuner=tuner,
        verbose=verbose,
    )


def combine(results):
    """The per-seed results as one: the mean score of each point, the best chosen on it."""
    first = results[0]
    # Rounded: equal numbers of correct images over the seeds must tie whatever the order of the float sum.
    mean = {point: round(float(np.mean([r.scores[point] for r in results])), 12) for point in first.scores}
    return grid_search(lambda n, m: mean[(n, m)], first.num_ops, first.magnitudes)


def spread_table(results):
    """Markdown: mean ± sample std over seeds (%) of each point, rows N, columns M."""
    first = results[0]
    lines = [
        "| N \\ M | " + " | ".join(str(m) for m in first.magnitudes) + " |",
        "|---|" + "---|" * len(first.magnitudes),
    ]
    for n in first.num_ops:
        cells = []
        for m in first.magnitudes:
            values = 100 * np.array([r.scores[(n, m)] for r in results])
            cells.append(f"{values.mean():.1f} ± {values.std(ddof=1):.1f}")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N 1,2 x M 5,9, 1 seed, 2 epochs: a smoke run")
    parser.add_argument("--num-ops", default=None, help="comma-separated N values (default 1,2,3)")
    parser.add_argument("--magnitudes", default=None, help="comma-separated M values (default 3,5,7,9)")
    parser.add_argument("--seeds", type=int, default=None, help=f"seeds 0..K-1 (default {SEEDS})")
    parser.add_argument("--epochs", type=int, default=None, help=f"default {digits_results.EPOCHS}")
    parser.add_argument("--tuner", choices=("grid", "keras_tuner"), default="grid", help="plain loop or KerasTuner")
    parser.add_argument("--no-reference", action="store_true", help="skip the N = 0 (no augmentation) reference")
    parser.add_argument(
        "--out",
        default=str(pathlib.Path(__file__).parent / "results"),
        help="folder for randaugment_search.md and .json ('' to write nothing)",
    )
    args = parser.parse_args(argv)
    quick = QUICK if args.quick else dict(num_ops=NUM_OPS, magnitudes=MAGNITUDES, seeds=SEEDS)
    try:
        args.num_ops = tuple(int(n) for n in args.num_ops.split(",")) if args.num_ops else quick["num_ops"]
        args.magnitudes = (
            tuple(_number(m) for m in args.magnitudes.split(",")) if args.magnitudes else quick["magnitudes"]
        )
    except ValueError as error:
        parser.error(f"--num-ops and --magnitudes must be comma-separated numbers: {error}")
    args.seeds = args.seeds or quick["seeds"]
    args.epochs = args.epochs or quick.get("epochs", digits_results.EPOCHS)
    if args.seeds < 1 or args.epochs < 1:
        parser.error("--seeds and --epochs must be >= 1")
    args.tuner = None if args.tuner == "grid" else args.tuner
    return args


def _number(text):
    value = float(text)
    return int(value) if value.is_integer() else value


def main(argv=None):
    """Runs the search; returns the JSON report (`best`, `table`, per-seed scores, settings)."""
    args = parse_args(argv)
    machine = digits_results.machine()
    start = time.time()
    data = digits_results.load_data()
    per_seed, reference = [], []
    for seed in range(args.seeds):
        tick = time.time()
        per_seed.append(search(data, seed, args.num_ops, args.magnitudes, args.epochs, tuner=args.tuner))
        if not args.no_reference:
            reference.append(search(data, seed, (0,), (0,), args.epochs, verbose=0).best_score)
        print(f"seed {seed}: {time.time() - tick:.0f} s, best {per_seed[-1].best}", file=sys.stderr, flush=True)
    document, report = render(per_seed, reference, args, argv, machine, time.time() - start)
    print(document)
    if args.out:
        out = pathlib.Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "randaugment_search.md").write_text(document + "\n")
        (out / "randaugment_search.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def render(per_seed, reference, args, argv, machine, runtime):
    """`(markdown document, JSON report)` of the per-seed results and the no-augmentation references."""
    seeds = list(range(len(per_seed)))
    result = per_seed[0] if len(seeds) == 1 else combine(per_seed)
    n, m = result.best
    tied = [point for point, score in result.scores.items() if score == result.best_score and point != result.best]
    tie = (
        f", tied with {', '.join(map(str, tied))}; ties go to the fewest ops, then the smallest magnitude"
        if tied
        else ""
    )
    what = (
        "validation accuracy % (seed 0)" if len(seeds) == 1 else f"mean validation accuracy % over {len(seeds)} seeds"
    )
    parts = [
        "# RandAugment (N, M) search on scikit-learn's digits",
        f"Made by `python benchmarks/randaugment_search.py`{' ' + ' '.join(argv) if argv else ''} in "
        f"{runtime / 60:.1f} minutes. Best: **N = {n}, M = {m}** ({100 * result.best_score:.1f}%{tie}). Table: "
        f"{what} on the unlabeled pool (1,294 images, never trained on; not the test split), rows N (ops an "
        "image), columns M (magnitude on timm's 0..10 scale); the best in bold.",
        result.table(),
    ]
    if len(seeds) > 1:
        parts += [
            "Mean ± sample std over seeds:",
            spread_table(per_seed),
            "Each seed's best: " + ", ".join(f"seed {s}: {r.best}" for s, r in zip(seeds, per_seed)) + ".",
        ]
    if reference:
        ref = 100 * np.array(reference)
        parts.append(
            f"Reference, N = 0 (no augmentation, the same pipeline and seeds): {ref.mean():.1f}%"
            + (f" ± {ref.std(ddof=1):.1f}" if len(ref) > 1 else "")
            + "."
        )
    parts.append(
        "Settings:\n\n"
        + "\n".join(
            [
                f"- Data: `digits_results.py`'s splits: {digits_results.SIZE}x{digits_results.SIZE} gray digits; "
                "per seed its stratified 10% of the 1,437 training images (143) is trained on and the other "
                "1,294 (the unlabeled pool, with their labels) validate; the 360-image test split is not used.",
                f"- Model and training: `recipes.models.small_cnn` width {digits_results.WIDTH} (24k parameters), "
                f"`recipes.train.pipeline` and `optimizer` (Adam {digits_results.LEARNING_RATE}, cosine decay to "
                f"0), batch {digits_results.BATCH_SIZE}, {args.epochs} epochs; one fresh model per (N, M) and "
                "seed, `keras.utils.set_random_seed(seed)` before each, so every point of a seed starts from the "
                "same weights and shuffle.",
                f"- RandAugment: `tfaug.RandAugment(num_ops=N, magnitude=M, ops=RA_DIGIT_OPS, fill_value=0, "
                f"seed=seed)`, ops {', '.join(digits_results.RA_DIGIT_OPS)}; timm's scale (M 9: rotate 27 "
                "degrees, shear 0.27, translate 40% of the side, enhance 1 ± 0.81).",
                f"- Search: {'KerasTuner GridSearch' if args.tuner else 'plain grid'}, N in "
                f"{', '.join(map(str, args.num_ops))} x M in {', '.join(map(str, args.magnitudes))}, seeds "
                f"{', '.join(map(str, seeds))}; ties go to the fewest ops, then the smallest magnitude.",
                f"- Machine: {machine}.",
            ]
        )
    )
    document = "\n\n".join(parts)
    report = {
        "best": {"num_ops": n, "magnitude": m, "accuracy": result.best_score, "tied_with": [list(t) for t in tied]},
        "table": result.table(),
        "mean": result.to_dict(),
        "per_seed": {str(s): r.to_dict() for s, r in zip(seeds, per_seed)},
        "reference_no_augmentation": {str(s): a for s, a in zip(seeds, reference)},
        "settings": {
            "num_ops": list(args.num_ops),
            "magnitudes": list(args.magnitudes),
            "seeds": seeds,
            "epochs": args.epochs,
            "batch_size": digits_results.BATCH_SIZE,
            "width": digits_results.WIDTH,
            "size": digits_results.SIZE,
            "ops": list(digits_results.RA_DIGIT_OPS),
            "fill_value": 0,
            "tuner": args.tuner or "grid",
        },
        "machine": machine,
        "runtime_s": round(runtime, 1),
    }
    return document, report


if __name__ == "__main__":
    main()
