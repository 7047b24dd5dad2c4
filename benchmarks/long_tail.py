"""Long-tailed and few-shot digits: what class-balanced losses, LDAM-DRW, decoupled classifiers and nearest
neighbours do for the rare classes, with and without tfaug augmentation.

Real data that ships offline: the digits of `sklearn.datasets.load_digits` at 16 x 16 (`recipes.data`), the
fixed stratified 20% test split (360 images, about 36 a class, split seed 0) of `digits_results.py`, never
trained on and never used to choose anything.

Long tail. Per seed the ten classes are put in a random order and class `j` of that order keeps
`floor(N_MAX * ratio^(-j / 9))` training images (imbalance ratio `ratio`: 130 images down to 13 for ratio 10,
down to 1 for ratio 100). `VAL_PER_CLASS` other training images a class form a balanced validation split,
used only to choose tau-normalisation's tau. Groups: the three most frequent classes are "many", the four
next "medium", the three rarest "few"; a group's accuracy is the mean of its classes' test accuracies.

Methods, each trained with no augmentation and with RandAugment (2 ops at magnitude 5 from the digits'
geometric and contrast ops of `digits_results.py`, black fill), on the same small CNN, steps and optimiser:

- CE: softmax cross-entropy, instance-balanced sampling (the representation the decoupled methods reuse).
- CB focal: `recipes.ClassBalancedLoss(loss="focal")` with beta 0.9999 and gamma 1 (the setting Cui et al.
  report best on CIFAR-10-LT), logits' bias initialised to -log(9) as their sigmoid losses need.
- LDAM-DRW: `recipes.LDAMLoss` (largest margin 0.5, s 30) on a cosine classifier (L2-normalised features and
  unit-norm class weights, as Cao et al.'s code uses with LDAM), class-balanced weights (beta 0.9999) from 80%
  of the epochs on (`recipes.DeferredReweighting`).
- cRT: the CE model's classifier re-initialised and re-trained with class-balanced sampling, the rest frozen
  (`recipes.retrain_classifier`).
- tau-norm: the CE model's class weights divided by their norm to the power tau, tau from 0, 0.1, ..., 1 chosen
  on the balanced validation split (`recipes.choose_tau`, `recipes.tau_normalize`).
- NCM and 1-NN: nearest class mean and nearest neighbour (cosine) on the CE model's pooled features of the
  long-tailed training images (`recipes.NearestMeanClassifier`, `recipes.NearestNeighborClassifier`).

Comparisons are paired (same seed, same long-tailed subset): each method against CE with the same
augmentation, CE with augmentation against CE without, and each method with augmentation against itself
without. A verdict says "helped" when the mean difference is above the standard deviation of the per-seed
differences, "hurt" when below minus it, and "within noise" otherwise.

Few shot. A CNN trained (CE, with and without augmentation) on the training images of the base classes 0-4
embeds the novel classes 5-9; per seed `EPISODES` episodes draw 1, 5 or 10 training images a novel class as
the support set, and the novel classes' test images are classified by 1-NN (cosine) or NCM on the embeddings
or by a linear head (softmax regression) trained on the support set's frozen embeddings.

    python benchmarks/long_tail.py            # the README tables: 3 seeds, both ratios, both parts
    python benchmarks/long_tail.py --quick    # 1 seed, few steps: a smoke run
    python benchmarks/long_tail.py --ratios 100 --seeds 1 --parts long_tail --out /tmp/r
"""

import argparse
import json
import math
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import digits_results  # noqa: E402

import recipes  # noqa: E402
import tfaug  # noqa: E402
from recipes import models  # noqa: E402
from recipes import train as recipe_train  # noqa: E402

NUM_CLASSES = 10
WIDTH = 16
BATCH_SIZE = 32
N_MAX = 130  # every class has at least N_MAX + VAL_PER_CLASS training images
VAL_PER_CLASS = 10
RATIOS = (10, 100)
SEEDS = (0, 1, 2)
STEPS = 800  # training steps of every model, whatever the size of its training set
CRT_STEPS = 200
BETA = 0.9999
FOCAL_GAMMA = 1.0
DRW_FRACTION = 0.8
BASE_CLASSES = (0, 1, 2, 3, 4)
NOVEL_CLASSES = (5, 6, 7, 8, 9)
SHOTS = (1, 5, 10)
EPISODES = 20
PROBE_STEPS = 300
GROUPS = {"many": slice(0, 3), "medium": slice(3, 7), "few": slice(7, 10)}
METHODS = ("ce", "cb_focal", "ldam_drw", "crt", "tau_norm", "ncm", "nn")
LABELS = {
    "ce": "CE",
    "cb_focal": "CB focal",
    "ldam_drw": "LDAM-DRW",
    "crt": "cRT",
    "tau_norm": "tau-norm",
    "ncm": "NCM",
    "nn": "1-NN",
}
AUGMENTS = {"none": None, "randaugment": "randaugment"}
PARTS = ("long_tail", "few_shot")


# -- data --------------------------------------------------------------------------------------------------


def long_tailed_counts(ratio, n_max=N_MAX, num_classes=NUM_CLASSES):
    """Images a class keeps, from the most to the least frequent: `floor(n_max * ratio^(-j / (K - 1)))`, >= 1."""
    j = np.arange(num_classes)
    return np.maximum(1, np.floor(n_max * float(ratio) ** (-j / (num_classes - 1)))).astype(np.int64)


def long_tailed_split(y_train, ratio, seed):
    """`(train_index, val_index, counts)`: a long-tailed training subset, a balanced validation split from the
    images it leaves out, and the training images of each class (indexed by label)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(NUM_CLASSES)  # order[j]: the label that is the j-th most frequent
    counts = np.zeros(NUM_CLASSES, np.int64)
    counts[order] = long_tailed_counts(ratio)
    train, val = [], []
    for label in range(NUM_CLASSES):
        index = rng.permutation(np.flatnonzero(y_train == label))
        train.append(index[: counts[label]])
        val.append(index[counts[label] : counts[label] + VAL_PER_CLASS])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val)), counts


def group_accuracies(predictions, y_test, counts):
    """Overall accuracy, and the mean per-class accuracy of the many, medium and few groups."""
    per_class = np.array([np.mean(predictions[y_test == c] == c) for c in range(NUM_CLASSES)])
    ranked = per_class[np.argsort(-counts, kind="stable")]
    result = {"overall": float(np.mean(predictions == y_test))}
    result.update({name: float(np.mean(ranked[part])) for name, part in GROUPS.items()})
    return result


# -- models ------------------------------------------------------------------------------------------------


def _layers(augment, seed):
    """The augmentation's layers: RandAugment with 2 ops at magnitude 5 from the digits' geometric and contrast
    ops (`digits_results.RA_DIGIT_OPS`), black fill; none for None."""
    if augment is None:
        return []
    return [tfaug.RandAugment(num_ops=2, magnitude=5, ops=digits_results.RA_DIGIT_OPS, fill_value=0, seed=seed)]


def _cosine_classifier(model):
    """`model` with its logits Dense replaced by a cosine classifier: L2-normalised features times unit-norm
    class weights (no bias), logits in [-1, 1]."""
    features = keras.layers.UnitNormalization(name="feature_norm")(model.get_layer("logits").input)
    head = keras.layers.Dense(
        NUM_CLASSES, use_bias=False, kernel_constraint=keras.constraints.UnitNorm(axis=0), name="cosine_logits"
    )
    return keras.Model(model.inputs, head(features), name=f"{model.name}_cosine")


def _loss(method, counts):
    if method == "cb_focal":
        return recipes.ClassBalancedLoss(counts, beta=BETA, loss="focal", gamma=FOCAL_GAMMA)
    if method == "ldam_drw":
        return recipes.LDAMLoss(counts)
    return keras.losses.CategoricalCrossentropy(from_logits=True)


def train(method, x, y, counts, augment, seed, steps=STEPS, num_classes=NUM_CLASSES):
    """The small CNN trained with `method`'s loss (CE, CB focal or LDAM-DRW) on `(x, y)`."""
    keras.utils.set_random_seed(seed)
    model = models.small_cnn(x.shape[1:], num_classes, WIDTH)
    if method == "ldam_drw":
        model = _cosine_classifier(model)
    elif method == "cb_focal":
        head = model.get_layer("logits")
        head.bias.assign(np.full(num_classes, -math.log(num_classes - 1), np.float32))
    ds, steps_per_epoch = recipe_train.pipeline(x, y, num_classes, _layers(augment, seed), BATCH_SIZE, seed)
    epochs = max(1, math.ceil(steps / steps_per_epoch))
    loss = _loss(method, counts)
    callbacks = []
    if method == "ldam_drw":
        callbacks.append(recipes.DeferredReweighting(loss, start_epoch=int(DRW_FRACTION * epochs), beta=BETA))
    model.compile(optimizer=recipe_train.optimizer(steps_per_epoch * epochs), loss=loss)
    model.fit(ds, epochs=epochs, steps_per_epoch=steps_per_epoch, callbacks=callbacks, verbose=0)
    return model


def outputs(model, images, batch_size=512):
    """The model's outputs on `images` in inference mode, as one numpy array."""
    chunks = range(0, len(images), batch_size)
    return np.concatenate(
        [np.asarray(model(tf.constant(images[i : i + batch_size], tf.float32), training=False)) for i in chunks]
    )


def predict(model, images):
    return np.argmax(outputs(model, images), axis=-1)


def _copy(model):
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def crt(model, x, y, augment, seed):
    """cRT on a copy of the CE model: classifier re-trained with class-balanced sampling, the rest frozen."""
    model = _copy(model)
    keras.utils.set_random_seed(seed)
    one_hot = np.eye(NUM_CLASSES, dtype=np.float32)[y]
    dataset = tf.data.Dataset.from_tensor_slices((x.astype(np.float32), one_hot))
    epochs = max(1, CRT_STEPS // max(1, len(x) // BATCH_SIZE))
    recipes.retrain_classifier(
        model,
        dataset,
        NUM_CLASSES,
        epochs=epochs,
        batch_size=BATCH_SIZE,
        seed=seed,
        augment=_layers(augment, seed + 1),
    )
    return model


def tau_norm(model, x_val, y_val):
    """tau-normalisation of a copy of the CE model, tau chosen on the validation split; `(model, tau)`."""
    model = _copy(model)
    tau, _ = recipes.choose_tau(model, (x_val.astype(np.float32), y_val))
    recipes.tau_normalize(model, tau)
    return model, tau


def neighbours(model, x, y, x_test):
    """NCM and 1-NN (cosine) predictions on the model's pooled features of `(x, y)`."""
    embedding = recipes.feature_extractor(model)
    data = (x.astype(np.float32), y)
    ncm = recipes.NearestMeanClassifier(metric="cosine", embedding_model=embedding).fit(data)
    nn = recipes.NearestNeighborClassifier(k=1, metric="cosine", embedding_model=embedding).fit(data)
    test = x_test.astype(np.float32)
    return {"ncm": ncm.predict(test), "nn": nn.predict(test)}


# -- the two parts ------------------------------------------------------------------------------------------


def long_tail(data, ratio, augment, seed, steps):
    """`{method: group accuracies}` for every method at one ratio, augmentation and seed."""
    x_train, y_train, x_test, y_test = data
    train_index, val_index, counts = long_tailed_split(y_train, ratio, seed)
    x, y = x_train[train_index], y_train[train_index]
    trained = {m: train(m, x, y, counts, augment, seed, steps) for m in ("ce", "cb_focal", "ldam_drw")}
    predictions = {m: predict(model, x_test) for m, model in trained.items()}
    predictions["crt"] = predict(crt(trained["ce"], x, y, augment, seed), x_test)
    tau_model, tau = tau_norm(trained["ce"], x_train[val_index], y_train[val_index])
    predictions["tau_norm"] = predict(tau_model, x_test)
    predictions.update(neighbours(trained["ce"], x, y, x_test))
    results = {m: group_accuracies(p, y_test, counts) for m, p in predictions.items()}
    results["tau_norm"]["tau"] = float(tau)
    return results


def _subset(x, y, classes):
    keep = np.isin(y, classes)
    return x[keep], np.searchsorted(classes, y[keep])


def linear_probe(features, labels, num_classes, seed, steps=PROBE_STEPS):
    """A softmax-regression head trained on frozen features (full batch, Adam); returns its predict function."""
    keras.utils.set_random_seed(seed)
    head = keras.Sequential([keras.Input(features.shape[1:]), keras.layers.Dense(num_classes)])
    head.compile(optimizer=keras.optimizers.Adam(1e-2), loss=keras.losses.SparseCategoricalCrossentropy(True))
    support = tf.data.Dataset.from_tensors((features, labels)).repeat()
    head.fit(support, epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0)
    return lambda queries: np.argmax(np.asarray(head(queries, training=False)), axis=-1)


def few_shot(data, augment, seed, steps):
    """`{f"{method}_{shots}": accuracy}` over `EPISODES` episodes on the novel classes (mean of episodes)."""
    x_train, y_train, x_test, y_test = data
    base = np.array(BASE_CLASSES)
    novel = np.array(NOVEL_CLASSES)
    x_base, y_base = _subset(x_train, y_train, base)
    counts = np.bincount(y_base, minlength=len(base))
    model = train("ce", x_base, y_base, counts, augment, seed, steps, num_classes=len(base))
    embed = recipes.feature_extractor(model)
    x_pool, y_pool = _subset(x_train, y_train, novel)
    x_query, y_query = _subset(x_test, y_test, novel)
    pool_features = outputs(embed, x_pool)
    query_features = outputs(embed, x_query)
    rng = np.random.default_rng(1000 + seed)
    results = {}
    for shots in SHOTS:
        scores = {"nn": [], "ncm": [], "linear": []}
        for episode in range(EPISODES):
            support = np.concatenate(
                [rng.choice(np.flatnonzero(y_pool == c), shots, replace=False) for c in range(len(novel))]
            )
            features, labels = pool_features[support], y_pool[support]
            nn = recipes.NearestNeighborClassifier(k=1, metric="cosine").fit((features, labels))
            ncm = recipes.NearestMeanClassifier(metric="cosine").fit((features, labels))
            probe = linear_probe(features, labels, len(novel), seed * EPISODES + episode)
            scores["nn"].append(np.mean(nn.predict(query_features) == y_query))
            scores["ncm"].append(np.mean(ncm.predict(query_features) == y_query))
            scores["linear"].append(np.mean(probe(query_features) == y_query))
        results.update({f"{name}_{shots}": float(np.mean(values)) for name, values in scores.items()})
    return results


# -- tables ------------------------------------------------------------------------------------------------


def _stat(values):
    values = 100 * np.asarray(values, np.float64)
    spread = f" ± {values.std(ddof=1):.1f}" if len(values) > 1 else ""
    return f"{values.mean():.1f}{spread}"


def _paired(values, reference):
    """`(mean, std)` in points of the per-seed differences `values - reference` (std 0 for one seed)."""
    diff = 100 * (np.asarray(values, np.float64) - np.asarray(reference, np.float64))
    return diff.mean(), diff.std(ddof=1) if len(diff) > 1 else 0.0


def _delta(values, reference):
    mean, spread = _paired(values, reference)
    return f"{mean:+.1f} ± {spread:.1f}"


def verdict(values, reference):
    """helped (mean paired difference above its std), hurt (below minus it) or within noise."""
    mean, spread = _paired(values, reference)
    return "helped" if mean > spread else "hurt" if mean < -spread else "within noise"


def _reference(method, augment, by_augment):
    """The row a method is compared with: CE with the same augmentation; CE with augmentation against none."""
    if method != "ce":
        return ("ce", augment), f"CE, {augment}"
    if augment != "none" and "none" in by_augment:
        return ("ce", "none"), "CE, none"
    return None, ""


def long_tail_table(results, seeds):
    lines = []
    for ratio, by_augment in results.items():
        lines += [
            f"\nImbalance ratio {ratio} ({len(seeds)} seeds; test accuracy %, mean ± std; Δ: paired per seed, "
            "points)\n",
            "| method | augmentation | overall | many | medium | few | Δ overall | Δ few | compared with |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for method in METHODS:
            for augment, runs in by_augment.items():
                if method not in runs[0]:
                    continue
                cells = [_stat([r[method][k] for r in runs]) for k in ("overall", "many", "medium", "few")]
                (reference, label) = _reference(method, augment, by_augment)
                if reference is not None:
                    base = by_augment[reference[1]]
                    cells += [
                        _delta([r[method][k] for r in runs], [b[reference[0]][k] for b in base])
                        for k in ("overall", "few")
                    ]
                else:
                    cells += ["", ""]
                name = LABELS[method]
                if method == "tau_norm":
                    taus = ", ".join(f"{r[method]['tau']:.1f}" for r in runs)
                    name += f" (tau {taus})"
                lines.append(f"| {name} | {augment} | " + " | ".join(cells) + f" | {label} |")
        lines += ["", *long_tail_verdicts(by_augment)]
    return "\n".join(lines)


def long_tail_verdicts(by_augment):
    """One line per compared row, on overall and few-group accuracy."""
    lines = []
    for method in METHODS:
        for augment, runs in by_augment.items():
            reference, label = _reference(method, augment, by_augment)
            if reference is None or method not in runs[0]:
                continue
            base = by_augment[reference[1]]
            parts = [
                f"{group} {verdict([r[method][group] for r in runs], [b[reference[0]][group] for b in base])}"
                for group in ("overall", "few")
            ]
            lines.append(f"- {LABELS[method]}, {augment}, against {label}: {'; '.join(parts)}.")
    plain = by_augment.get("none")
    for method in METHODS[1:]:  # CE's own augmentation effect is a row of the table
        for augment, runs in by_augment.items():
            if plain is None or augment == "none" or method not in runs[0] or method not in plain[0]:
                continue
            parts = [
                f"{group} {verdict([r[method][group] for r in runs], [p[method][group] for p in plain])}"
                for group in ("overall", "few")
            ]
            lines.append(f"- {LABELS[method]} with {augment} against {LABELS[method]} without: {'; '.join(parts)}.")
    return lines


FEW_SHOT_CLASSIFIERS = {"nn": "1-NN (cosine)", "ncm": "NCM (cosine)", "linear": "linear head (softmax regression)"}


def few_shot_table(results, seeds):
    lines = [
        f"\n\nFew shot: novel digits 5-9 on features of a CNN trained on digits 0-4 ({len(seeds)} seeds x "
        f"{EPISODES} episodes; accuracy % on the novel classes' test images, mean ± std over seeds; Δ against "
        "1-NN with the same features, paired per seed)\n",
        "| classifier | augmentation (base training) | " + " | ".join(f"{s} shot" for s in SHOTS) + " |",
        "|---|---|" + "---|" * len(SHOTS),
    ]
    for name, label in FEW_SHOT_CLASSIFIERS.items():
        for augment, runs in results.items():
            cells = []
            for s in SHOTS:
                values = [r[f"{name}_{s}"] for r in runs]
                delta = "" if name == "nn" else f" (Δ {_delta(values, [r[f'nn_{s}'] for r in runs])})"
                cells.append(_stat(values) + delta)
            lines.append(f"| {label} | {augment} | " + " | ".join(cells) + " |")
    lines.append("")
    for name in ("linear", "ncm"):
        for augment, runs in results.items():
            parts = [
                f"{s} shot {verdict([r[f'{name}_{s}'] for r in runs], [r[f'nn_{s}'] for r in runs])}" for s in SHOTS
            ]
            lines.append(f"- {FEW_SHOT_CLASSIFIERS[name]} against 1-NN, {augment}: {'; '.join(parts)}.")
    return "\n".join(lines)


# -- main --------------------------------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ratios", default=",".join(map(str, RATIOS)), help="comma-separated imbalance ratios")
    parser.add_argument("--augments", default=",".join(AUGMENTS), help=f"comma-separated from {','.join(AUGMENTS)}")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated from {','.join(PARTS)}")
    parser.add_argument("--seeds", type=int, default=len(SEEDS), help="number of seeds (default 3)")
    parser.add_argument("--steps", type=int, default=STEPS, help=f"training steps of every model (default {STEPS})")
    parser.add_argument("--quick", action="store_true", help="1 seed, 20 steps: a smoke run")
    parser.add_argument("--out", default=str(pathlib.Path(__file__).parent / "results"), help="folder for the results")
    args = parser.parse_args(argv)
    try:
        args.ratios = [float(r) for r in args.ratios.split(",") if r.strip()]
    except ValueError:
        parser.error(f"--ratios must be numbers, got {args.ratios!r}")
    args.augments = [a.strip() for a in args.augments.split(",") if a.strip()]
    args.parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if args.quick:
        args.seeds, args.steps = 1, 20
    if not set(args.augments) <= set(AUGMENTS) or not set(args.parts) <= set(PARTS):
        parser.error(f"--augments must be from {list(AUGMENTS)} and --parts from {list(PARTS)}")
    if not 1 <= args.seeds <= len(SEEDS) or args.steps < 1 or any(not r >= 1 for r in args.ratios):
        parser.error(f"--seeds must be in 1..{len(SEEDS)}, --steps >= 1 and every ratio >= 1")
    return args


def main(argv=None):
    """Runs the benchmark; returns `{"long_tail": ..., "few_shot": ..., "text": markdown}`."""
    args = parse_args(argv)
    start = time.time()
    data = digits_results.load_data()
    seeds = SEEDS[: args.seeds]
    long_results, few_results = {}, {}
    for seed in seeds:
        for augment in args.augments:
            for ratio in args.ratios if "long_tail" in args.parts else ():
                tick = time.time()
                result = long_tail(data, ratio, AUGMENTS[augment], seed, args.steps)
                long_results.setdefault(f"{ratio:g}", {}).setdefault(augment, []).append(result)
                overall = {m: round(100 * r["overall"], 1) for m, r in result.items()}
                print(f"ratio {ratio:g} {augment} seed {seed}: {overall} ({time.time() - tick:.0f} s)", flush=True)
            if "few_shot" in args.parts:
                tick = time.time()
                result = few_shot(data, AUGMENTS[augment], seed, args.steps)
                few_results.setdefault(augment, []).append(result)
                print(f"few shot {augment} seed {seed}: {result} ({time.time() - tick:.0f} s)", flush=True)
    text = long_tail_table(long_results, seeds) if long_results else ""
    text += few_shot_table(few_results, seeds) if few_results else ""
    header = (
        f"Long-tailed and few-shot digits (16 x 16, small CNN, {args.steps} steps a model); "
        f"{digits_results.machine()}; {time.time() - start:.0f} s"
    )
    print(f"\n{header}\n{text}")
    report = {"long_tail": long_results, "few_shot": few_results, "text": text, "header": header}
    if args.out:
        out = pathlib.Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        name = "long_tail_quick" if args.quick else "long_tail"
        (out / f"{name}.json").write_text(json.dumps(report, indent=1) + "\n")
        (out / f"{name}.md").write_text(f"{header}\n{text}\n")
    return report


if __name__ == "__main__":
    main()
