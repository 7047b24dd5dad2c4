"""Losses for the training recipes, each a `keras.losses.Loss`.

Writing a term as a `keras.losses.Loss` (rather than a hand-written `ops.mean`) matters under
`tf.distribute`: with the default `"sum_over_batch_size"` reduction Keras divides each replica's sum by
its local batch size and by the number of replicas, so the summed gradients are those of the global-batch
mean. A plain mean on each replica gives updates `num_replicas` times too large.

Long-tailed losses (`ClassBalancedLoss`, `LDAMLoss`) take one-hot or soft labels (MixUp, CutMix, label
smoothing). Each has a soft-label form that equals the paper's loss on one-hot labels: a sample's weight is
`sum_j y_j w_j`, the class weight averaged over its label distribution.
"""

import keras
import numpy as np
from keras import ops

from recipes.reweighting import check_beta
from recipes.reweighting import check_class_counts
from recipes.reweighting import class_balanced_weights
from tfaug import validation as v


@keras.saving.register_keras_serializable(package="recipes")
class DistillationKL(keras.losses.Loss):
    """Soft-target distillation loss: `T^2 * KL(softmax(t / T) || softmax(s / T))` per sample.

    The teacher's softened distribution is the target; the student's is the prediction. The `T^2` factor
    keeps the gradient's size independent of `T` (the gradient of the KL term alone scales as `1 / T^2`),
    so the soft term and a hard-label cross-entropy can be weighted against each other without retuning
    when `T` changes (Hinton et al. 2015, section 2). Deterministic.

    Args:
        temperature: softmax temperature `T`, > 0. Default 1.0. The keras-io example uses 10.
        reduction: Keras reduction, default `"sum_over_batch_size"` (mean over the global batch, also
            under `tf.distribute`).
        name: loss name. Default `"distillation_kl"`.
        dtype: computation dtype; default `keras.backend.floatx()`.

    Call args:
        y_true: teacher LOGITS, `[batch, ..., classes]`, float.
        y_pred: student LOGITS of the same shape, float.

    Returns:
        The reduced loss (a scalar by default), or per-sample values `[batch, ...]` with
        `reduction=None`. Non-negative.

    Raises:
        ValueError: `temperature` not a number > 0.

    Example:
        >>> loss = DistillationKL(temperature=10.0)
        >>> value = loss(teacher_logits, student_logits)

    References:
        Hinton, Vinyals, Dean. "Distilling the Knowledge in a Neural Network". arXiv:1503.02531, 2015.
    """

    def __init__(self, temperature=1.0, reduction="sum_over_batch_size", name="distillation_kl", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.temperature = v.check_positive("temperature", temperature)

    def call(self, y_true, y_pred):
        # log_softmax on both sides: exact for large |logit / T| where softmax would underflow to 0.
        log_p_teacher = ops.log_softmax(y_true / self.temperature, axis=-1)
        log_p_student = ops.log_softmax(y_pred / self.temperature, axis=-1)
        kl = ops.sum(ops.exp(log_p_teacher) * (log_p_teacher - log_p_student), axis=-1)
        return (self.temperature**2) * kl

    def get_config(self):
        config = super().get_config()
        config.update(temperature=self.temperature, dtype=self.dtype)
        return config


class _ClassWeightedLoss(keras.losses.Loss):
    """A loss with per-class weights in a non-trainable `class_weights` variable `[K]`.

    A variable, not a constant, so that `DeferredReweighting` can change the weights between epochs while
    the compiled train step keeps reading them (no retracing, also under `jit_compile=True`).
    """

    def __init__(self, class_counts, beta, reduction, name, dtype):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        counts = check_class_counts(class_counts)
        self.beta = check_beta("beta", beta)
        # Kept as given (ints stay ints) for get_config.
        self.class_counts = np.asarray(class_counts).tolist()
        self.num_classes = counts.size
        self.class_weights = keras.Variable(
            class_balanced_weights(counts, self.beta), trainable=False, dtype=self.dtype, name="class_weights"
        )

    def _check_shapes(self, y_true, y_pred):
        if len(y_true.shape) != len(y_pred.shape):
            # Integer labels `[batch]` would otherwise broadcast against the logits without an error.
            raise ValueError(
                f"`y_true` must be one-hot or soft labels of the shape of `y_pred` {tuple(y_pred.shape)}, got shape "
                f"{tuple(y_true.shape)} (make integer labels one-hot with `keras.ops.one_hot`)."
            )
        for name, tensor in (("y_true", y_true), ("y_pred", y_pred)):
            classes = tensor.shape[-1] if len(tensor.shape) else None
            if classes is not None and classes != self.num_classes:
                raise ValueError(
                    f"`{name}` must have the {self.num_classes} classes of `class_counts` on its last axis "
                    f"(one-hot or soft labels for y_true, logits for y_pred), got shape {tuple(tensor.shape)}."
                )

    def _sample_weights(self, y_true):
        """`sum_j y_j w_j` per sample: the true class's weight for one-hot labels."""
        return ops.sum(y_true * ops.cast(self.class_weights, y_true.dtype), axis=-1)

    def get_config(self):
        config = super().get_config()
        config.update(class_counts=self.class_counts, beta=self.beta, dtype=self.dtype)
        return config


def _softmax_cross_entropy(y_true, logits, gamma):
    return -ops.sum(y_true * ops.log_softmax(logits, axis=-1), axis=-1)


def _sigmoid_cross_entropy(y_true, logits, gamma):
    # -log p = softplus(-x), -log(1 - p) = softplus(x): finite for any logit.
    terms = y_true * ops.softplus(-logits) + (1.0 - y_true) * ops.softplus(logits)
    return ops.sum(terms, axis=-1)


def _sigmoid_focal(y_true, logits, gamma):
    # (1 - p)^gamma = exp(-gamma softplus(x)) and p^gamma = exp(-gamma softplus(-x)): no 0^gamma, so the
    # gradient stays finite for gamma < 1 (the reference code's reason for the same rewrite).
    positive = ops.exp(-gamma * ops.softplus(logits)) * ops.softplus(-logits)
    negative = ops.exp(-gamma * ops.softplus(-logits)) * ops.softplus(logits)
    return ops.sum(y_true * positive + (1.0 - y_true) * negative, axis=-1)


#: Unweighted per-sample loss of each `ClassBalancedLoss` kind, from labels, logits and gamma.
_CLASS_BALANCED_KINDS = {
    "softmax": _softmax_cross_entropy,
    "sigmoid": _sigmoid_cross_entropy,
    "focal": _sigmoid_focal,
}


@keras.saving.register_keras_serializable(package="recipes")
class ClassBalancedLoss(_ClassWeightedLoss):
    """Class-balanced loss: softmax cross-entropy, sigmoid cross-entropy or sigmoid focal loss, each sample
    weighted by the inverse effective number of samples of its class.

    Per sample, with logits `x`, labels `y` and `w = class_weights` (`class_balanced_weights(class_counts,
    beta)` at construction, changed by `DeferredReweighting`):

    - `"softmax"`: `W * -sum_j y_j log softmax(x)_j`;
    - `"sigmoid"`: `W * sum_j BCE(y_j, sigmoid(x_j))`, one binary problem per class;
    - `"focal"`: `W * sum_j [y_j (1 - p_j)^gamma (-log p_j) + (1 - y_j) p_j^gamma (-log(1 - p_j))]`,
      `p = sigmoid(x)`, with no alpha balancing beyond `W` (the paper's class-balanced focal loss);

    where `W = sum_j y_j w_j` is the weight of the sample's class for one-hot labels. The sigmoid and focal
    terms are summed over the classes, as in the reference code, which divides the batch's sum by the number
    of positive labels, i.e. the batch size (Keras's `BinaryCrossentropy` averages over classes instead:
    `K` times smaller). `beta=0` means no re-weighting: `"softmax"` is then Keras's
    `CategoricalCrossentropy(from_logits=True)`.

    Soft labels: the formulas above with `y` a distribution. For the focal loss each class's term is linear
    in `y_j` (`gamma=0` gives the soft-label sigmoid loss exactly). The reference code's modulating factor,
    `exp(-gamma (y x + log(1 + exp(-x))))`, equals `(1 - p_t)^gamma` for 0/1 labels but for a soft label
    vanishes as `p -> 0` or `p -> 1`, which would make confident wrong predictions cheap.

    Args:
        class_counts: training samples per class, `[K]` numbers > 0.
        beta: in [0, 1). Default 0.9999. 0 means no re-weighting.
        loss: `"softmax"` (default), `"sigmoid"` or `"focal"`.
        gamma: focal loss's focusing parameter, >= 0 (used by `"focal"` only). Default 2.0.
        reduction: Keras reduction, default `"sum_over_batch_size"`: the mean over the global batch (also
            under `tf.distribute`), as the reference code.
        name: loss name. Default `"class_balanced_loss"`.
        dtype: computation dtype; default `keras.backend.floatx()`.

    Call args:
        y_true: one-hot or soft labels `[batch, ..., K]` (rows summing to 1).
        y_pred: LOGITS `[batch, ..., K]`.

    Returns:
        The reduced loss (a scalar by default), or per-sample values `[batch, ...]` with `reduction=None`.

    Raises:
        ValueError: bad `class_counts`, `beta` outside [0, 1), an unknown `loss`, `gamma` < 0; at the call,
            a last axis of `y_true` or `y_pred` other than `K`, or `y_true` of another rank than `y_pred`
            (integer labels).

    Example:
        >>> loss = ClassBalancedLoss([500, 50, 5], beta=0.999, loss="focal", gamma=1.0)
        >>> model.compile(optimizer="adam", loss=loss)   # model outputs logits; labels one-hot

    Reference: Cui, Jia, Lin, Song, Belongie. "Class-Balanced Loss Based on Effective Number of Samples".
        CVPR 2019.
    """

    def __init__(
        self,
        class_counts,
        beta=0.9999,
        loss="softmax",
        gamma=2.0,
        reduction="sum_over_batch_size",
        name="class_balanced_loss",
        dtype=None,
    ):
        super().__init__(class_counts, beta, reduction=reduction, name=name, dtype=dtype)
        self.loss = v.check_choice("loss", loss, _CLASS_BALANCED_KINDS)
        self.gamma = v.check_positive("gamma", gamma, allow_zero=True)

    def call(self, y_true, y_pred):
        self._check_shapes(y_true, y_pred)
        unweighted = _CLASS_BALANCED_KINDS[self.loss](y_true, y_pred, self.gamma)
        return self._sample_weights(y_true) * unweighted

    def get_config(self):
        config = super().get_config()
        config.update(loss=self.loss, gamma=self.gamma)
        return config


@keras.saving.register_keras_serializable(package="recipes")
class LDAMLoss(_ClassWeightedLoss):
    """Label-distribution-aware margin (LDAM) loss: cross-entropy with larger margins for rarer classes.

    Class `j` gets the margin `m_j = C / n_j^(1/4)` (the `margins` attribute), `C` set so the largest is
    `max_margin`. The true class's logit is reduced by its margin, all logits are multiplied by `scale`, and
    the result goes into (weighted) cross-entropy. Per sample, with logits `z` and labels `y`:

        s * (z - y * m)   ->   W * -sum_j y_j log softmax(s * (z - y * m))_j,   W = sum_j y_j w_j

    For a one-hot label of class `c` this is the paper's loss: only `z_c` loses `m_c`, and `W = w_c`. For soft
    labels every logit `z_j` loses `y_j m_j`, a margin shared out in proportion to the label.

    `w = class_weights` starts at `class_balanced_weights(class_counts, beta)`: all 1 with the default
    `beta=0` (plain LDAM); a `beta` > 0 re-weights from the start (LDAM-RW); `DeferredReweighting` switches to
    class-balanced weights at a chosen epoch (LDAM-DRW, the paper's best). Weights follow Keras semantics: with
    the default reduction the weighted per-sample losses are averaged over the batch size, as Keras's
    `sample_weight` and `class_weight` are. The reference code's PyTorch `cross_entropy(weight=...)` divides by
    the sum of the batch's weights instead, which rescales each batch by a factor that depends on its labels
    and needs a global sum across replicas under `tf.distribute`; the relative weights within a batch are the
    same.

    Args:
        class_counts: training samples per class, `[K]` numbers > 0.
        max_margin: the largest margin (of the rarest class), > 0. Default 0.5 (the paper's value).
        scale: logit scale `s`, > 0. Default 30.0 (the paper's value; the margins act on the unscaled logits,
            which the reference model bounds by normalising features and classifier weights).
        beta: class-balanced weights' `beta` in [0, 1) at construction. Default 0.0: no re-weighting.
        reduction: Keras reduction, default `"sum_over_batch_size"` (mean over the global batch, also under
            `tf.distribute`).
        name: loss name. Default `"ldam_loss"`.
        dtype: computation dtype; default `keras.backend.floatx()`.

    Call args:
        y_true: one-hot or soft labels `[batch, ..., K]` (rows summing to 1).
        y_pred: LOGITS `[batch, ..., K]`, before the margin and the scale.

    Returns:
        The reduced loss (a scalar by default), or per-sample values `[batch, ...]` with `reduction=None`.

    Raises:
        ValueError: bad `class_counts`, `max_margin` <= 0, `scale` <= 0, `beta` outside [0, 1); at the call, a
            last axis of `y_true` or `y_pred` other than `K`, or `y_true` of another rank than `y_pred` (integer
            labels).

    Example:
        >>> loss = LDAMLoss([500, 50, 5])
        >>> model.compile(optimizer="sgd", loss=loss)
        >>> model.fit(data, epochs=200, callbacks=[DeferredReweighting(loss, start_epoch=160)])

    Reference: Cao, Wei, Gaidon, Arechiga, Ma. "Learning Imbalanced Datasets with Label-Distribution-Aware
        Margin Loss". NeurIPS 2019.
    """

    def __init__(
        self,
        class_counts,
        max_margin=0.5,
        scale=30.0,
        beta=0.0,
        reduction="sum_over_batch_size",
        name="ldam_loss",
        dtype=None,
    ):
        super().__init__(class_counts, beta, reduction=reduction, name=name, dtype=dtype)
        self.max_margin = v.check_positive("max_margin", max_margin)
        self.scale = v.check_positive("scale", scale)
        margins = check_class_counts(class_counts) ** -0.25
        self.margins = (margins * (self.max_margin / margins.max())).astype(np.float32)

    def call(self, y_true, y_pred):
        self._check_shapes(y_true, y_pred)
        logits = self.scale * (y_pred - y_true * ops.cast(self.margins, y_pred.dtype))
        cross_entropy = -ops.sum(y_true * ops.log_softmax(logits, axis=-1), axis=-1)
        return self._sample_weights(y_true) * cross_entropy

    def get_config(self):
        config = super().get_config()
        config.update(max_margin=self.max_margin, scale=self.scale)
        return config


__all__ = ["ClassBalancedLoss", "DistillationKL", "LDAMLoss"]
