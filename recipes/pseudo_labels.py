"""Pseudo-labels for self-training: a clean teacher labels unlabeled images; the confident ones are kept.

`pseudo_label(teacher, unlabeled_ds, ...)` runs the teacher clean (no input noise) and in inference mode
over images, keeps the confident ones and returns them with soft or hard labels (`PseudoLabels`), balanced
per class if asked. `recipes.noisy_student.run_noisy_student` calls it once a round. `select` applies the
same selection to probabilities computed another way (`recipes.data_distillation`'s ensemble of views).

    >>> result = pseudo_label(teacher, unlabeled, threshold=0.3, balance="auto")
    >>> result.summary["kept"], result.dataset().batch(64)

Reference: Xie, Luong, Hovy, Le. "Self-training with Noisy Student improves ImageNet classification",
CVPR 2020 (confidence threshold 0.3, per-class balancing by top-K and duplication).
"""

import dataclasses

import numpy as np
import tensorflow as tf

from recipes import checks
from tfaug import validation as v


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
    checks.check_model("teacher", teacher)
    threshold = checks.check_selection(threshold, soft, balance, from_logits)
    batch_size = v.check_int("batch_size", batch_size, low=1)
    images, probs = _predict(teacher, checks.images_only(unlabeled_ds), batch_size, from_logits)
    return _select(images, probs, threshold, soft, balance)


def select(images, probabilities, *, threshold=0.3, soft=True, balance=None):
    """`pseudo_label`'s selection on given class probabilities: threshold, argmax class, optional balancing.

    For probabilities computed another way (an ensemble of models or of views, as
    `recipes.data_distillation.distill_labels` does) with the same rules as `pseudo_label`.

    Args:
        images: array `[n, H, W, C]` (or any `[n, ...]` array), the images the probabilities belong to.
        probabilities: array `[n, classes]` of class probabilities (rows summing to 1).
        threshold, soft, balance: as `pseudo_label`. Defaults 0.3, True, None.

    Returns:
        `PseudoLabels`, as `pseudo_label` returns them.

    Raises:
        ValueError: malformed `threshold`, `soft` or `balance`; `probabilities` not `[n, classes]` with one
            row per image, or rows that are not probabilities (negative, non-finite, not summing to 1).
    """
    threshold = checks.check_selection(threshold, soft, balance, False)
    images, probs = np.asarray(images), np.asarray(probabilities, dtype=np.float32)
    if probs.ndim != 2 or len(probs) != len(images):
        raise ValueError(
            f"`probabilities` must be [n, classes] with one row per image, got shape {probs.shape} for "
            f"{len(images)} images."
        )
    if probs.size and not (np.all(np.isfinite(probs)) and probs.min() >= -1e-6 and _sums_to_one(probs)):
        raise ValueError("`probabilities` must be finite, non-negative and each row must sum to 1.")
    return _select(images, probs, threshold, soft, balance)


def _select(images, probs, threshold, soft, balance):
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


def _predict(teacher, images_ds, batch_size, from_logits):
    images = list(images_ds.batch(batch_size).as_numpy_iterator())
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
    elif out.min() < -1e-6 or not _sums_to_one(out):
        raise ValueError(
            "`teacher` outputs are not probabilities (negative or rows not summing to 1); "
            "pass `from_logits=True` for a teacher that outputs logits."
        )
    return images, out.astype(np.float32)


def _sums_to_one(probs):
    return np.abs(probs.sum(axis=1, dtype=np.float64) - 1).max() <= 1e-3


def _balance(kept, classes, confidence, num_classes, k):
    """Per class: the top-k most confident kept indices, cycled (duplicated) when the class has fewer."""
    chosen = []
    for c in range(num_classes):
        members = kept[classes[kept] == c]
        members = members[np.argsort(-confidence[members], kind="stable")]
        if len(members):
            chosen.append(members[np.arange(k) % len(members)])
    return np.concatenate(chosen) if chosen else kept[:0]


__all__ = ["PseudoLabels", "pseudo_label", "select"]
