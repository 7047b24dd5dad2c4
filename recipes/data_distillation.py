"""Data distillation: one trained model, applied to several views of each unlabeled image, labels it for a student.

- `distill_labels(teacher, unlabeled_ds, views=..., scales=...)` runs the teacher in inference mode on
  deterministic, label-preserving views of every unlabeled image (the flips, crops and scales of
  `recipes.tta.views`), averages its class probabilities over the views (`recipes.TTAClassifier`), and
  keeps the confident images with `pseudo_label`'s rules (threshold, argmax, optional per-class
  balancing), hard one-hot labels by default. It returns the same `PseudoLabels` as `pseudo_label`.
- `run_data_distillation(make_model, labeled_ds, unlabeled_ds, ...)` is the whole method: train a teacher on
  the labeled data (or take a trained one), label the unlabeled data with `distill_labels`, and train a
  fresh student on labeled + distilled data (`recipes.noisy_student.self_train`, the loop
  `run_noisy_student` runs, so loss weights, optional input noise and rounds behave the same).

The ensemble of views is what the method adds over plain self-training: the averaged prediction is
usually more accurate than a single view's, so the student is taught more than its teacher predicts on
one view (Noisy Student instead weakens the student with noise). Views must leave the class unchanged: no
flips for digits or text, say.

    >>> records = run_data_distillation(make_model, labeled, unlabeled, views=("identity",), scales=(0.9, 1.1))
    >>> records[1].model, records[1].pseudo_labels["kept"]

Differences from the paper (COCO keypoints and boxes): labels are class ids, so ensembling is the mean of
the views' class probabilities; the paper instead selects boxes by a score threshold chosen so that
unlabeled images receive as many annotations as labeled ones have, while a classification image has one
label, so the threshold here is `pseudo_label`'s confidence threshold. The paper fixes the share of labeled
and distilled images in every minibatch; here the two mean losses are weighted (`unlabeled_ratio`), as in
`run_noisy_student`.

Reference: Radosavovic, Dollar, Girshick, Gkioxari, He. "Data Distillation: Towards Omni-Supervised
Learning", CVPR 2018.
"""

import dataclasses

from recipes import checks
from recipes.noisy_student import self_train
from recipes.pseudo_labels import pseudo_label
from recipes.tta import TTAClassifier
from recipes.tta import check_view_arguments
from tfaug import validation as v


def distill_labels(
    teacher,
    unlabeled_ds,
    *,
    views=("identity", "flip"),
    crop_fraction=0.875,
    scales=(),
    threshold=0.3,
    soft=False,
    balance=None,
    from_logits=False,
    batch_size=256,
):
    """Labels unlabeled images with a teacher's predictions averaged over views; keeps the confident ones.

    The teacher runs with `training=False` on every view of `recipes.tta.views(images, views,
    crop_fraction, scales)` at its input size (`TTAClassifier`); its class probabilities (softmax of each
    view's logits with `from_logits=True`) are averaged over the views. Selection is `pseudo_label`'s on
    those averaged probabilities (`recipes.pseudo_labels.select`): an image is kept when its largest
    averaged probability is >= `threshold`, its class is the argmax, and `balance` keeps K images a class.
    Nothing is random.

    Args:
        teacher: a trained `keras.Model` mapping `[batch, H, W, C]` images to `[batch, classes]`
            probabilities (logits with `from_logits=True`).
        unlabeled_ds: a `tf.data.Dataset` of images only, unbatched or batched.
        views: view names from `"identity"`, `"flip"`, `"five_crop"`, `"ten_crop"` (a string for one);
            default `("identity", "flip")`, the paper's flips (add `scales` for its multi-scale views).
        crop_fraction: crop side as a fraction of the image's sides, in (0, 1]; default 0.875.
        scales: resize factors > 0 for multi-scale views; default none.
        threshold: confidence threshold in [0, 1] on the averaged probabilities; default 0.3.
        soft: the averaged probabilities as soft labels, or one-hot labels of their argmax (default False:
            hard labels, as the paper's annotations).
        balance: None (default), a positive int K or `"auto"`; see `pseudo_label`.
        from_logits: the teacher outputs logits; default False.
        batch_size: images per teacher call, >= 1; default 256 (the teacher sees `batch_size` times the
            number of views in one call).

    Returns:
        `PseudoLabels`, as `pseudo_label`: the selected images as the dataset yields them (not their views),
        their labels, their averaged confidence, and a `summary` that also lists the `views` by name.

    Raises:
        ValueError: `teacher` not a `keras.Model`; malformed view arguments (see `recipes.tta.views`);
            malformed `threshold`, `soft`, `balance`, `from_logits` or `batch_size`; `unlabeled_ds` not a
            dataset of images; averaged outputs that are not probabilities while `from_logits=False`.

    Example:
        >>> distilled = distill_labels(teacher, unlabeled, views=("identity",), scales=(0.9, 1.1), from_logits=True)
        >>> distilled.summary["kept"], distilled.dataset().batch(64)
    """
    checks.check_model("teacher", teacher)
    views, crop_fraction, scales = check_view_arguments(views, crop_fraction, scales)
    checks.check_selection(threshold, soft, balance, from_logits)
    ensemble = TTAClassifier(teacher, views=views, crop_fraction=crop_fraction, scales=scales, from_logits=from_logits)
    # The ensemble outputs probabilities, so `pseudo_label` selects on them as they are.
    result = pseudo_label(
        ensemble,
        unlabeled_ds,
        threshold=threshold,
        soft=soft,
        balance=balance,
        from_logits=False,
        batch_size=batch_size,
    )
    return dataclasses.replace(result, summary={**result.summary, "views": list(ensemble.view_names)})


def run_data_distillation(
    make_model,
    labeled_ds,
    unlabeled_ds,
    *,
    rounds=1,
    views=("identity", "flip"),
    crop_fraction=0.875,
    scales=(),
    threshold=0.3,
    soft=False,
    balance=None,
    unlabeled_ratio=1.0,
    noise=None,
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
    """Data distillation: a teacher on labeled data labels views of unlabeled data for a fresh student.

    Round 0 trains `make_model(0)` on the labeled data for `teacher_epochs` epochs, or takes the trained
    `teacher`. Round r = 1..`rounds` labels `unlabeled_ds` with the previous model by `distill_labels`
    (`views`, `crop_fraction`, `scales`, `threshold`, `soft`, `balance`) and trains a new `make_model(r)`
    for `epochs` epochs on the labeled and distilled examples shuffled together, with the loss
    `mean_labeled + unlabeled_ratio * mean_distilled` (the training loop is `run_noisy_student`'s; see
    there for the loss weights, `noise` and the optimizer). The paper runs one round and trains a model
    of the teacher's architecture, with the same loss, on the union.

    Args:
        make_model: callable `round_index -> keras.Model`: a new, uncompiled model built on a `keras.Input`.
        labeled_ds: `tf.data.Dataset` of `(image, label)`, unbatched or batched; labels sparse or one-hot.
        unlabeled_ds: `tf.data.Dataset` of images only, same image shape and dtype as `labeled_ds`.
        rounds: student rounds, >= 0; default 1 (the paper's).
        views, crop_fraction, scales, threshold, soft, balance: see `distill_labels`. Defaults
            `("identity", "flip")`, 0.875, none, 0.3, False (hard labels), None.
        unlabeled_ratio: weight of the distilled mean loss, >= 0; default 1.0.
        noise: input augmentation of every model's training batches (teacher and students), as
            `run_noisy_student`'s `noise`; default None: none (the paper trains the student as the
            teacher, with no added noise).
        epochs, batch_size, from_logits, optimizer, metrics, validation_data, strategy, seed, verbose,
            teacher_epochs, teacher: as `run_noisy_student`. Defaults 10, 64, False, "adam",
            `("accuracy",)`, None, None, 0, 0, None (`epochs`), None (train one).

    Returns:
        a list of `rounds + 1` `recipes.RoundRecord`s: the teacher, then each round's student, whose
        `pseudo_labels` is the `distill_labels` summary it was trained on.

    Raises:
        ValueError: a malformed argument (named), as `distill_labels` and `run_noisy_student`.

    Example:
        >>> labeled, unlabeled = recipes.few_labels("digits", labeled_fraction=0.1)
        >>> records = run_data_distillation(make_model, labeled, unlabeled, views=("identity",),
        ...                                 scales=(0.9, 1.1), epochs=30, teacher_epochs=100)
        >>> teacher, student = records[0].model, records[1].model
    """
    # Checked here, before a teacher is trained, not only when round 1 labels.
    views, crop_fraction, scales = check_view_arguments(views, crop_fraction, scales)
    checks.check_selection(threshold, soft, balance, from_logits)
    labeling_batch = max(v.check_int("batch_size", batch_size, low=1), 256)

    def label(model, unlabeled):
        return distill_labels(
            model,
            unlabeled,
            views=views,
            crop_fraction=crop_fraction,
            scales=scales,
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


__all__ = ["distill_labels", "run_data_distillation"]
