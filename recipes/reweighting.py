"""Per-class weights for long-tailed training: class-balanced weights and deferred re-weighting (DRW).

`class_balanced_weights` computes the weights; the losses that use them (`recipes.losses.ClassBalancedLoss`,
`recipes.losses.LDAMLoss`) hold them in a non-trainable `class_weights` variable, which
`DeferredReweighting` overwrites between epochs. The compiled train step reads the variable, so switching
weights needs no retracing (also under `jit_compile=True` and `tf.distribute`).
"""

import keras
import numpy as np

from tfaug import validation as v


def check_beta(name, beta):
    """A finite number in [0, 1), as a float."""
    message = f"`{name}` must be a finite number in [0, 1), got {beta!r}."
    try:
        beta = v.check_number(name, beta, 0.0, 1.0)
    except ValueError:
        raise ValueError(message) from None
    if beta == 1.0:
        raise ValueError(message)
    return beta


def check_class_counts(class_counts):
    """A non-empty 1-D sequence of finite numbers > 0 -> a float64 NumPy array."""
    try:
        counts = np.asarray(class_counts)
    except (TypeError, ValueError):
        counts = np.asarray(None)
    ok = counts.ndim == 1 and counts.size > 0 and counts.dtype.kind in "iuf"
    if ok:
        counts = counts.astype(np.float64)
        ok = bool(np.all(np.isfinite(counts)) and np.all(counts > 0))
    if not ok:
        raise ValueError(
            f"`class_counts` must be a non-empty 1-D sequence of finite numbers > 0 (one per class), "
            f"got {class_counts!r}."
        )
    return counts


def class_balanced_weights(class_counts, beta):
    """Class-balanced weights: the inverse effective number of samples of each class.

    The effective number of `n` samples is `(1 - beta^n) / (1 - beta)`, so class `j` weighs
    `(1 - beta) / (1 - beta^n_j)`; the weights are then scaled to sum to the number of classes `K`, so the
    total loss keeps its size. `beta = 0` gives equal weights (all 1, no re-weighting); `beta -> 1`
    approaches inverse class frequency. Deterministic.

    Args:
        class_counts: training samples per class, `[K]` numbers > 0 (a list, tuple or NumPy array).
        beta: in [0, 1). The paper uses 0.9, 0.99, 0.999 or 0.9999 (larger for larger datasets).

    Returns:
        `np.float32` array `[K]`, positive, summing to `K`; larger for rarer classes.

    Raises:
        ValueError: `beta` outside [0, 1); `class_counts` empty, not 1-D, with zeros, negative or non-finite
            numbers.

    Example:
        >>> class_balanced_weights([3, 1], beta=0.5)   # (0.5/0.875, 0.5/0.5), scaled to sum 2
        array([0.72727275, 1.2727273 ], dtype=float32)

    Reference: Cui, Jia, Lin, Song, Belongie. "Class-Balanced Loss Based on Effective Number of Samples".
        CVPR 2019.
    """
    beta = check_beta("beta", beta)
    counts = check_class_counts(class_counts)
    # 1 - beta^n as -expm1(n log beta): exact for beta close to 1, where 1 - beta^n loses digits.
    effective = -np.expm1(counts * np.log(beta)) if beta > 0 else np.ones_like(counts)
    weights = (1.0 - beta) / effective
    return (weights * (counts.size / weights.sum())).astype(np.float32)


class DeferredReweighting(keras.callbacks.Callback):
    """Deferred re-weighting (DRW): switches a loss to class-balanced weights from a given epoch on.

    Before epoch `start_epoch` (0-based) the loss keeps the weights it had when the callback was made (for
    `LDAMLoss()` with its default `beta=0`, no re-weighting); from `start_epoch` on it uses
    `class_balanced_weights(loss.class_counts, beta)`. The weights are assigned to `loss.class_weights` at the
    beginning of every epoch, so a `fit` resumed with `initial_epoch` gets the right ones. The paper trains
    200 epochs and switches at 160, when the learning rate decays: the representation is learned with
    unweighted samples, re-weighting then adjusts the decision boundaries.

    Do not also pass `class_weight` to `fit`: the sample weights would multiply.

    Args:
        loss: a loss with a `class_weights` variable `[K]` and `class_counts` (`ClassBalancedLoss`,
            `LDAMLoss`), the same object given to `compile`.
        start_epoch: first epoch (0-based) with class-balanced weights, an int >= 0.
        beta: class-balanced `beta` in [0, 1). Default 0.9999 (the paper's DRW value).

    Raises:
        ValueError: `loss` without `class_weights` or `class_counts`; `start_epoch` not an int >= 0; `beta`
            outside [0, 1).

    Example:
        >>> loss = LDAMLoss(class_counts)
        >>> model.compile(optimizer="sgd", loss=loss)
        >>> model.fit(data, epochs=200, callbacks=[DeferredReweighting(loss, start_epoch=160)])

    Reference: Cao, Wei, Gaidon, Arechiga, Ma. "Learning Imbalanced Datasets with Label-Distribution-Aware
        Margin Loss". NeurIPS 2019.
    """

    def __init__(self, loss, start_epoch, beta=0.9999):
        super().__init__()
        weights = getattr(loss, "class_weights", None)
        if not hasattr(weights, "assign") or not hasattr(loss, "class_counts"):
            raise ValueError(
                "`loss` must hold a `class_weights` variable and `class_counts` (a ClassBalancedLoss or LDAMLoss), "
                f"got {loss!r}."
            )
        self.loss = loss
        self.start_epoch = v.check_int("start_epoch", start_epoch, low=0)
        self.beta = check_beta("beta", beta)
        self.deferred_weights = class_balanced_weights(loss.class_counts, self.beta)
        self.initial_weights = np.asarray(keras.ops.convert_to_numpy(weights))
        if self.initial_weights.shape != self.deferred_weights.shape:
            raise ValueError(
                f"`loss.class_weights` has shape {self.initial_weights.shape}, but `loss.class_counts` has "
                f"{self.deferred_weights.size} classes."
            )

    def on_epoch_begin(self, epoch, logs=None):
        weights = self.deferred_weights if epoch >= self.start_epoch else self.initial_weights
        self.loss.class_weights.assign(weights.astype(self.loss.class_weights.dtype))


__all__ = ["DeferredReweighting", "class_balanced_weights"]
