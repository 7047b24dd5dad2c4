"""Noisy Student self-training: a clean teacher labels unlabeled images for a noised, equal-or-larger student.

Two functions:

- `pseudo_label(teacher, unlabeled_ds, ...)` runs the teacher clean (no input noise) and in inference mode
  over images, keeps the confident ones and returns them with soft or hard labels (`PseudoLabels`).
- `run_noisy_student(make_model, labeled_ds, unlabeled_ds, ...)` is the whole loop: train a teacher on the
  labeled data, then for each round pseudo-label, train a noised student on labeled + pseudo-labeled data,
  and make the student the next teacher.

    >>> labeled, unlabeled = recipes.few_labels("digits", labeled_fraction=0.1, channels=3)
    >>> records = run_noisy_student(make_model, labeled, unlabeled, rounds=3, epochs=30)
    >>> records[-1].model                     # the last student
    >>> [r.pseudo_labels for r in records]   # None for the teacher, then each round's summary

Reference: Xie, Luong, Hovy, Le. "Self-training with Noisy Student improves ImageNet classification",
CVPR 2020.
"""

import dataclasses
import numbers

import keras
import numpy as np
import tensorflow as tf

import tfaug
from tfaug import _validation as v

#: RandAugment ops that need RGB images; left out of the default noise for gray images.
_RGB_OPS = ("color",)


@dataclasses.dataclass(frozen=True)
class PseudoLabels:
    """What `pseudo_label` returns: the selected images, their labels and a summary.

    Attributes:
        images: numpy array `[n, H, W, C]` of the selected images, dtype as the unlabeled dataset yields
            them; with `balance`, images of short classes appear more than once.
        labels: float32 `[n, classes]`: the teacher's probabilities (soft) or one-hot of their argmax (hard).
        confidence: float32 `[n]`: the teacher's maximum probability of each selected image.
        summary: dict with `total` (images seen), `kept` (confidence >= threshold), `per_class` (kept
            images per argmax class, a list), `selected` (`n`), `selected_per_class` (after balancing).
    """

    images: np.ndarray
    labels: np.ndarray
    confidence: np.ndarray
    summary: dict

    def dataset(self):
        """The selected pairs as an unbatched `tf.data.Dataset` of `(image, label)`."""
        return tf.data.Dataset.from_tensor_slices((self.images, self.labels))


@dataclasses.dataclass
class RoundRecord:
    """One model of the loop: round 0 is the teacher trained on labeled data only, round r >= 1 a student.

    Attributes:
        round: the round index `r` (`make_model(r)` built the model).
        model: the trained model; the student of round r is the teacher of round r + 1.
        history: `History.history` of its `fit` (a dict of per-epoch lists).
        pseudo_labels: the `summary` of the pseudo-labels it was trained on (None for round 0).
    """

    round: int
    model: keras.Model
    history: dict
    pseudo_labels: dict = None


def pseudo_label(teacher, unlabeled_ds, *, threshold=0.3, soft=True, balance=None, from_logits=False, batch_size=256):
    """Labels unlabeled images with a clean teacher in inference mode; keeps the confident ones.

    The teacher runs with `training=False` (`predict`: dropout off, stochastic depth off,
    BatchNorm moving statistics) on the images exactly as the dataset yields them (no augmentation), so
    the result is deterministic. An image is kept when its maximum probability is >= `threshold`; its
    class is the argmax. With `balance=K` each class keeps exactly K images: its K most confident ones,
    or, when it has fewer, its kept images repeated in order of confidence until there are K (the paper
    duplicates images of short classes). Classes with no kept image stay empty.

    Args:
        teacher: a `keras.Model` mapping an image batch to `[batch, classes]` probabilities (or logits with
            `from_logits=True`).
        unlabeled_ds: a `tf.data.Dataset` of images only, unbatched `[H, W, C]` or batched `[B, H, W, C]`.
        threshold: confidence threshold in [0, 1]; default 0.3 (the paper's ImageNet value). 0 keeps all.
        soft: soft labels (the teacher's probabilities at temperature 1, default) or hard one-hot labels.
        balance: None (no balancing, default), a positive int K, or `"auto"`: K = the number of kept images
            divided by the number of classes, rounded, at least 1 (keeps the total about the same).
        from_logits: apply a softmax to the teacher's outputs. Default False (outputs are probabilities).
        batch_size: images per teacher call, >= 1; default 256.

    Returns:
        `PseudoLabels`: numpy `images`, `labels`, `confidence`, a `summary` dict, and `.dataset()`. The
        selected images keep the dataset's order without balancing, and are grouped by class (most
        confident first) with it.

    Raises:
        ValueError: `unlabeled_ds` not a dataset of image tensors (for instance one yielding
            `(image, label)` tuples); `threshold` outside [0, 1]; `balance`, `soft`, `from_logits` or
            `batch_size` malformed; teacher outputs that are not probabilities while `from_logits=False`.

    Example:
        >>> result = pseudo_label(teacher, unlabeled, threshold=0.3, balance="auto")
        >>> result.summary["kept"], result.dataset().batch(64)
    """
    _check_model("teacher", teacher)
    threshold = _check_selection(threshold, soft, balance, from_logits)
    batch_size = v.check_int("batch_size", batch_size, low=1)
    images, probs = _predict(teacher, _images_only(unlabeled_ds), batch_size, from_logits)
    confidence, classes = probs.max(axis=1), probs.argmax(axis=1)
    num_classes = probs.shape[1]
    kept = np.flatnonzero(confidence >= threshold)
    per_class = np.bincount(classes[kept], minlength=num_classes)
    if balance is not None:
        k = max(1, int(round(len(kept) / num_classes))) if balance == "auto" else int(balance)
        kept = _balance(kept, classes, confidence, num_classes, k)
    labels = probs[kept] if soft else np.eye(num_classes, dtype=np.float32)[classes[kept]]
    summary = {
        "total": len(images),
        "kept": int(per_class.sum()),
        "per_class": per_class.tolist(),
        "selected": len(kept),
        "selected_per_class": np.bincount(classes[kept], minlength=num_classes).tolist(),
    }
    return PseudoLabels(images[kept], labels.astype(np.float32), confidence[kept].astype(np.float32), summary)


def run_noisy_student(
    make_model,
    labeled_ds,
    unlabeled_ds,
    *,
    rounds=2,
    threshold=0.3,
    soft=True,
    balance=None,
    unlabeled_ratio=1.0,
    noise="rand-n2-m9",
    epochs=10,
    batch_size=64,
    from_logits=False,
    optimizer="adam",
    metrics=("accuracy",),
    validation_data=None,
    strategy=None,
    seed=0,
    verbose=0,
):
    """Noisy Student training: a teacher on labeled data, then `rounds` noised students, each the next teacher.

    Round 0 trains `make_model(0)` on the labeled data. Round r = 1..`rounds` pseudo-labels `unlabeled_ds`
    with the previous model (`pseudo_label`: clean, inference mode, `threshold`, `soft`, `balance`) and
    trains a fresh `make_model(r)` on the labeled and pseudo-labeled examples shuffled together.

    Loss: categorical cross-entropy with `loss = mean_labeled + unlabeled_ratio * mean_unlabeled`,
    implemented with sample weights `N / n_L` on labeled and `unlabeled_ratio * N / n_U` on pseudo-labeled
    examples (`N = n_L + n_U`): with Keras's mean over each batch, the expected batch loss is exactly that
    sum, and the epoch's total over full batches equals it times the number of batches. (The paper instead
    draws separate batches with `unlabeled_ratio` times more unlabeled images; both weight the two means.)

    Noise, on the student only: input noise `noise` (RandAugment from tfaug) in the training pipeline,
    plus the model's own dropout and stochastic depth (`recipes.layers.StochasticDepth`), which are active
    in `fit` and off when the model labels data as the next teacher. `make_model(r)` builds that model:
    it should return a new, uncompiled model whose output matches `from_logits`, and students may (the
    paper: should) be equal or larger than their teacher (`make_model` can grow with `r`). Our choice:
    the round-0 teacher is trained with the same input noise; it is labelling, not training, that is clean.

    Args:
        make_model: callable `round_index -> keras.Model`: a new, uncompiled model built on a `keras.Input`
            (so its `[batch, classes]` output shape is known), with its dropout / stochastic depth inside.
        labeled_ds: `tf.data.Dataset` of `(image, label)`, unbatched or batched; labels sparse class ids
            or one-hot/soft rows.
        unlabeled_ds: `tf.data.Dataset` of images only, same image shape and dtype as `labeled_ds`.
        rounds: number of student rounds, >= 0; default 2 (the paper: 3). 0 trains the teacher only.
        threshold, soft, balance: see `pseudo_label`. Defaults 0.3, True, None.
        unlabeled_ratio: weight of the pseudo-labeled mean loss, >= 0; default 1.0.
        noise: input noise: a RandAugment string (`"rand-n2-m9"`, default; see `RandAugment.from_string`,
            built with the images' `value_range`, uint8 [0, 255] or float [0, 1], and without colour ops
            for gray images), a callable on image batches (a tfaug layer, say), or None for none.
        epochs: epochs per model, >= 1; default 10.
        batch_size: training batch size, >= 1; default 64.
        from_logits: models output logits (softmax applied in the loss and for pseudo-labels). Default False.
        optimizer: an optimizer name or instance; an instance is cloned from its config for each model.
        metrics: `compile` metrics; default `("accuracy",)`.
        validation_data: optional `tf.data.Dataset` of `(image, label)`, prepared like `labeled_ds`.
        strategy: a `tf.distribute.Strategy` to build and train every model under; default the current one.
        seed: int seed of the shuffling and of the default noise; default 0.
        verbose: `fit` verbosity; default 0.

    Returns:
        a list of `rounds + 1` `RoundRecord`s: the teacher, then each round's student.

    Raises:
        ValueError: a malformed argument (named), `make_model` returning something other than a
            `keras.Model`, or mismatched datasets; see also `pseudo_label`.
    """
    if not callable(make_model):
        raise ValueError(f"`make_model` must be a callable round_index -> keras.Model, got {make_model!r}.")
    rounds = v.check_int("rounds", rounds, low=0)
    unlabeled_ratio = v.check_positive("unlabeled_ratio", unlabeled_ratio, allow_zero=True)
    epochs = v.check_int("epochs", epochs, low=1)
    batch_size = v.check_int("batch_size", batch_size, low=1)
    _check_selection(threshold, soft, balance, from_logits)
    labeled = _images_labels(labeled_ds)
    image_spec = _images_only(unlabeled_ds).element_spec
    if labeled.element_spec[0].dtype != image_spec.dtype:
        raise ValueError(
            f"`labeled_ds` and `unlabeled_ds` must yield images of the same dtype, got "
            f"{labeled.element_spec[0].dtype.name} and {image_spec.dtype.name}."
        )
    augment = _noise(noise, image_spec, seed)
    strategy = strategy or tf.distribute.get_strategy()
    records, pseudo = [], None
    for r in range(rounds + 1):
        if r > 0:
            pseudo = pseudo_label(
                records[-1].model, unlabeled_ds, threshold=threshold, soft=soft, balance=balance,
                from_logits=from_logits, batch_size=max(batch_size, 256),
            )
        with strategy.scope():
            model = make_model(r)
            num_classes = _num_classes(model, r)
            model.compile(
                optimizer=_fresh(optimizer),
                loss=keras.losses.CategoricalCrossentropy(from_logits=from_logits),
                metrics=list(metrics),
            )
        train = _training_set(labeled, pseudo, num_classes, unlabeled_ratio, batch_size, augment, seed + r)
        validation = None
        if validation_data is not None:
            validation = _with_one_hot(_images_labels(validation_data), num_classes).batch(batch_size)
        history = model.fit(train, epochs=epochs, validation_data=validation, shuffle=False, verbose=verbose)
        records.append(RoundRecord(r, model, history.history, None if pseudo is None else pseudo.summary))
    return records


def _training_set(labeled, pseudo, num_classes, unlabeled_ratio, batch_size, augment, seed):
    """Labeled + pseudo-labeled `(image, label, weight)` batches, shuffled together, then noised."""
    labeled = _with_one_hot(labeled, num_classes)
    n_labeled = _count(labeled)
    n_pseudo = 0 if pseudo is None else len(pseudo.images)
    total = n_labeled + n_pseudo
    data = labeled.map(lambda x, y: (x, y, tf.constant(total / n_labeled, tf.float32)))
    if n_pseudo:
        if pseudo.labels.shape[1] != num_classes:
            raise ValueError(
                f"the teacher labels {pseudo.labels.shape[1]} classes but the student outputs {num_classes}."
            )
        weight = unlabeled_ratio * total / n_pseudo
        data = data.concatenate(pseudo.dataset().map(lambda x, y: (x, y, tf.constant(weight, tf.float32))))
    data = data.shuffle(total, seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    if augment is not None:
        data = data.map(lambda x, y, w: (augment(x), y, w))
    return data.prefetch(tf.data.AUTOTUNE)


def _noise(noise, image_spec, seed):
    if noise is None or callable(noise):
        return noise
    if not isinstance(noise, str):
        raise ValueError(f"`noise` must be None, a RandAugment string like 'rand-n2-m9' or a callable, got {noise!r}.")
    value_range = (0, 255) if image_spec.dtype == tf.uint8 else (0, 1)
    ops = tfaug.layers.rand_augment.DEFAULT_OPS
    if image_spec.shape[-1] != 3:
        ops = tuple(op for op in ops if op not in _RGB_OPS)
    layer = tfaug.RandAugment.from_string(noise, ops=ops, value_range=value_range, seed=seed)
    return layer.augment


def _predict(teacher, images_ds, batch_size, from_logits):
    images = [batch for batch in images_ds.batch(batch_size).as_numpy_iterator()]
    if not images:
        raise ValueError("`unlabeled_ds` is empty.")
    images = np.concatenate(images)
    # `predict`, not `predict_on_batch`: under a 2-replica MirroredStrategy, Keras 3.15's
    # `predict_on_batch` returns the whole batch once per replica (twice the rows).
    out = np.asarray(teacher.predict(images, batch_size=batch_size, verbose=0), dtype=np.float64)
    if out.ndim != 2 or len(out) != len(images):
        raise ValueError(f"`teacher` must output [batch, classes], got shape {out.shape} for {len(images)} images.")
    if from_logits:
        out = np.exp(out - out.max(axis=1, keepdims=True))
        out /= out.sum(axis=1, keepdims=True)
    elif out.min() < -1e-6 or np.abs(out.sum(axis=1) - 1).max() > 1e-3:
        raise ValueError(
            "`teacher` outputs are not probabilities (negative or rows not summing to 1); "
            "pass `from_logits=True` for a teacher that outputs logits."
        )
    return images, out.astype(np.float32)


def _balance(kept, classes, confidence, num_classes, k):
    """Per class: the top-k most confident kept indices, cycled (duplicated) when the class has fewer."""
    chosen = []
    for c in range(num_classes):
        members = kept[classes[kept] == c]
        members = members[np.argsort(-confidence[members], kind="stable")]
        if len(members):
            chosen.append(members[np.arange(k) % len(members)])
    return np.concatenate(chosen) if chosen else kept[:0]


def _images_only(ds):
    """`ds` as unbatched images; ValueError unless it yields single image tensors."""
    spec = getattr(ds, "element_spec", None)
    if not isinstance(spec, tf.TensorSpec):
        raise ValueError(
            "`unlabeled_ds` must be a tf.data.Dataset that yields images only (no labels), got "
            f"element_spec {spec!r}; map it with `lambda image, label: image` first."
        )
    if spec.shape.rank not in (3, 4):
        raise ValueError(f"`unlabeled_ds` must yield images [H, W, C] or batches [B, H, W, C], got {spec.shape}.")
    return ds.unbatch() if spec.shape.rank == 4 else ds


def _images_labels(ds):
    """`ds` as unbatched `(image, label)`; ValueError unless it yields such pairs."""
    spec = getattr(ds, "element_spec", None)
    if not (isinstance(spec, tuple) and len(spec) == 2 and spec[0].shape.rank in (3, 4)):
        raise ValueError(f"`labeled_ds` and `validation_data` must yield (image, label) pairs, got {spec!r}.")
    return ds.unbatch() if spec[0].shape.rank == 4 else ds


def _with_one_hot(ds, num_classes):
    def convert(image, label):
        if label.shape.rank == 0 or (label.shape.rank == 1 and label.shape[0] == 1 and num_classes != 1):
            return image, tf.one_hot(tf.reshape(tf.cast(label, tf.int32), []), num_classes)
        return image, tf.cast(label, tf.float32)

    return ds.map(convert)


def _count(ds):
    n = int(ds.cardinality())
    if n < 0:  # unknown or infinite: count it (finite datasets only)
        n = int(ds.reduce(np.int64(0), lambda count, *_: count + 1))
    if n == 0:
        raise ValueError("`labeled_ds` is empty.")
    return n


def _fresh(optimizer):
    if isinstance(optimizer, keras.optimizers.Optimizer):
        return optimizer.__class__.from_config(optimizer.get_config())
    return optimizer


def _check_selection(threshold, soft, balance, from_logits):
    """Checks `pseudo_label`'s selection arguments; returns `threshold` as a float."""
    threshold = v.check_probability("threshold", threshold)
    _check_bool("soft", soft)
    _check_bool("from_logits", from_logits)
    if not (balance is None or balance == "auto" or (_is_int(balance) and balance >= 1)):
        raise ValueError(f"`balance` must be None, a positive int or 'auto', got {balance!r}.")
    return threshold


def _num_classes(model, round_index):
    _check_model(f"make_model({round_index})", model)
    try:
        shape = model.output_shape
    except (AttributeError, ValueError):
        shape = None
    if not isinstance(shape, tuple) or len(shape) != 2 or shape[-1] is None:
        raise ValueError(
            f"`make_model({round_index})` must return a built model with one [batch, classes] output "
            f"(give it a keras.Input), got output shape {shape}."
        )
    return int(shape[-1])


def _check_model(name, model):
    if not isinstance(model, keras.Model):
        raise ValueError(f"`{name}` must be a keras.Model, got {type(model).__name__}: {model!r}.")


def _check_bool(name, value):
    if not isinstance(value, bool):
        raise ValueError(f"`{name}` must be True or False, got {value!r}.")


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


__all__ = ["PseudoLabels", "RoundRecord", "pseudo_label", "run_noisy_student"]
