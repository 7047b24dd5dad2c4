"""Noisy Student self-training: a clean teacher labels unlabeled images for a noised, equal-or-larger student.

- `pseudo_label(teacher, unlabeled_ds, ...)` (from `recipes.pseudo_labels`, also importable from here)
  runs the teacher clean (no input noise) and in inference mode over images, keeps the confident ones and
  returns them with soft or hard labels (`PseudoLabels`).
- `run_noisy_student(make_model, labeled_ds, unlabeled_ds, ...)` is the whole loop: train a teacher on the
  labeled data (or take a trained one), then for each round pseudo-label, train a noised student on labeled
  + pseudo-labeled data, and make the student the next teacher.
- `self_train(make_model, labeled_ds, unlabeled_ds, label, ...)` is that loop with the labelling step as an
  argument (`recipes.run_data_distillation` labels with an ensemble of views instead).

    >>> labeled, unlabeled = recipes.few_labels("digits", labeled_fraction=0.1, channels=3)
    >>> records = run_noisy_student(make_model, labeled, unlabeled, rounds=3, epochs=30, teacher_epochs=100)
    >>> records[-1].model                     # the last student
    >>> [r.pseudo_labels for r in records]   # None for the teacher, then each round's summary

Reference: Xie, Luong, Hovy, Le. "Self-training with Noisy Student improves ImageNet classification",
CVPR 2020.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

import tfaug
from recipes import checks
from recipes.pseudo_labels import PseudoLabels
from recipes.pseudo_labels import pseudo_label
from tfaug import validation as v

#: RandAugment ops that need RGB images; left out of the default noise for gray images.
_RGB_OPS = ("color",)


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
    teacher_epochs=None,
    teacher=None,
):
    """Noisy Student training: a teacher on labeled data, then `rounds` noised students, each the next teacher.

    Round 0 trains `make_model(0)` on the labeled data for `teacher_epochs` epochs, or takes the trained
    `teacher` as it is (no training, `make_model(0)` not called). Round r = 1..`rounds` pseudo-labels
    `unlabeled_ds` with the previous model (`pseudo_label`: clean, inference mode, `threshold`, `soft`,
    `balance`) and trains a fresh `make_model(r)` for `epochs` epochs on the labeled and pseudo-labeled
    examples shuffled together.

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
    The input noise is traced once, as one `tf.function` over image batches, and reused by every round's
    pipeline (a callable `noise` is therefore traced once too, like any function given to `Dataset.map`).

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
            built for uint8 images in [0, 255] or float images in [0, 1], and without colour ops for gray
            images; float images outside [0, 1] fail in the pipeline with an `InvalidArgumentError`), a
            callable on image batches (a tfaug layer with your `value_range`, say), or None for none.
        epochs: epochs per student, >= 1; default 10.
        batch_size: training batch size, >= 1; default 64.
        from_logits: models output logits (softmax applied in the loss and for pseudo-labels). Default False.
        optimizer: an optimizer name or instance; an instance is cloned from its config for each model.
        metrics: `compile` metrics; default `("accuracy",)`.
        validation_data: optional `tf.data.Dataset` of `(image, label)`, prepared like `labeled_ds`.
        strategy: a `tf.distribute.Strategy` to build and train every model under; default the current one.
        seed: int seed of the shuffling and of the default noise; default 0.
        verbose: `fit` verbosity; default 0.
        teacher_epochs: epochs of the round-0 teacher, >= 1; default None: `epochs`. A teacher trained on
            the few labeled images alone takes far fewer steps per epoch than the students, so it often
            needs more epochs.
        teacher: an already trained `keras.Model` to use as the round-0 teacher (same output form as
            the students: probabilities, or logits with `from_logits=True`); default None: train
            `make_model(0)`. Its record has an empty `history`. Not combined with `teacher_epochs`.

    Returns:
        a list of `rounds + 1` `RoundRecord`s: the teacher, then each round's student.

    Raises:
        ValueError: a malformed argument (named), `make_model` returning something other than a
            `keras.Model`, `teacher` not a `keras.Model` or given with `teacher_epochs`, or mismatched
            datasets; see also `pseudo_label`.
    """
    checks.check_selection(threshold, soft, balance, from_logits)
    labeling_batch = max(v.check_int("batch_size", batch_size, low=1), 256)

    def label(model, unlabeled):
        return pseudo_label(
            model,
            unlabeled,
            threshold=threshold,
            soft=soft,
            balance=balance,
            from_logits=from_logits,
            batch_size=labeling_batch,
        )

    return self_train(
        make_model,
        labeled_ds,
        unlabeled_ds,
        label,
        rounds=rounds,
        unlabeled_ratio=unlabeled_ratio,
        noise=noise,
        epochs=epochs,
        batch_size=batch_size,
        from_logits=from_logits,
        optimizer=optimizer,
        metrics=metrics,
        validation_data=validation_data,
        strategy=strategy,
        seed=seed,
        verbose=verbose,
        teacher_epochs=teacher_epochs,
        teacher=teacher,
    )


def self_train(
    make_model,
    labeled_ds,
    unlabeled_ds,
    label,
    *,
    rounds=2,
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
    teacher_epochs=None,
    teacher=None,
):
    """The self-training loop of `run_noisy_student`, with the labelling step given as `label`.

    Round 0 trains (or takes) the teacher; round r >= 1 calls `label(previous_model, unlabeled_ds)` and
    trains a fresh `make_model(r)` on the labeled examples and the newly labelled ones, exactly as `run_noisy_student`
    does with `pseudo_label` (`recipes.run_data_distillation` passes `distill_labels`, its ensemble of
    views). Loss weights, noise, optimizer cloning and validation are `run_noisy_student`'s.

    Args:
        label: callable `(model, unlabeled_ds) -> PseudoLabels`: labels the unlabeled images with the
            previous round's model (its labels' width must match the students' classes).
        everything else: as `run_noisy_student`.

    Returns:
        a list of `rounds + 1` `RoundRecord`s: the teacher, then each round's student.

    Raises:
        ValueError: as `run_noisy_student` (but for the selection arguments, which `label` owns), or a
            `label` that is not callable.
    """
    if not callable(label):
        raise ValueError(f"`label` must be a callable (model, unlabeled_ds) -> PseudoLabels, got {label!r}.")
    if not callable(make_model):
        raise ValueError(f"`make_model` must be a callable round_index -> keras.Model, got {make_model!r}.")
    rounds = v.check_int("rounds", rounds, low=0)
    unlabeled_ratio = v.check_positive("unlabeled_ratio", unlabeled_ratio, allow_zero=True)
    epochs = v.check_int("epochs", epochs, low=1)
    if teacher is not None:
        checks.check_model("teacher", teacher)
        if teacher_epochs is not None:
            raise ValueError(
                "`teacher_epochs` must be None with a trained `teacher` (round 0 is not trained), "
                f"got {teacher_epochs!r}."
            )
    teacher_epochs = epochs if teacher_epochs is None else v.check_int("teacher_epochs", teacher_epochs, low=1)
    batch_size = v.check_int("batch_size", batch_size, low=1)
    labeled = _images_labels(labeled_ds)
    image_spec = checks.images_only(unlabeled_ds).element_spec
    if labeled.element_spec[0].dtype != image_spec.dtype:
        raise ValueError(
            f"`labeled_ds` and `unlabeled_ds` must yield images of the same dtype, got "
            f"{labeled.element_spec[0].dtype.name} and {image_spec.dtype.name}."
        )
    noise_map = _noise_map(_noise(noise, image_spec, seed), labeled.element_spec[0], image_spec)
    strategy = strategy or tf.distribute.get_strategy()
    records, pseudo = [], None
    if teacher is not None:
        records.append(RoundRecord(0, teacher, {}, None))
    for r in range(len(records), rounds + 1):
        if r > 0:
            pseudo = label(records[-1].model, unlabeled_ds)
        with strategy.scope():
            model = make_model(r)
            num_classes = _num_classes(model, r)
            model.compile(
                optimizer=_fresh(optimizer),
                loss=keras.losses.CategoricalCrossentropy(from_logits=from_logits),
                metrics=list(metrics),
            )
        train = _training_set(labeled, pseudo, num_classes, unlabeled_ratio, batch_size, noise_map, seed + r)
        validation = None
        if validation_data is not None:
            validation = _with_one_hot(_images_labels(validation_data), num_classes).batch(batch_size)
        history = model.fit(
            train, epochs=epochs if r else teacher_epochs, validation_data=validation, shuffle=False, verbose=verbose
        )
        records.append(RoundRecord(r, model, history.history, None if pseudo is None else pseudo.summary))
    return records


def _training_set(labeled, pseudo, num_classes, unlabeled_ratio, batch_size, noise_map, seed):
    """Labeled + pseudo-labeled `(image, label, weight)` batches, shuffled together, then `noise_map`ped."""
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
    if noise_map is not None:
        data = data.map(noise_map)
    return data.prefetch(tf.data.AUTOTUNE)


def _noise_map(augment, labeled_spec, unlabeled_spec):
    """`(x, y, w) -> (augment(x), y, w)` around one `tf.function`, so all rounds share a single trace."""
    if augment is None:
        return None
    shape = labeled_spec.shape.most_specific_compatible_shape(unlabeled_spec.shape)
    noise = tf.function(augment, input_signature=[tf.TensorSpec([None, *shape], unlabeled_spec.dtype)])
    return lambda x, y, w: (noise(x), y, w)


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


def _num_classes(model, round_index):
    checks.check_model(f"make_model({round_index})", model)
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


__all__ = ["PseudoLabels", "RoundRecord", "pseudo_label", "run_noisy_student", "self_train"]
