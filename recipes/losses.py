"""Losses for the training recipes, each a `keras.losses.Loss`.

Writing a term as a `keras.losses.Loss` (rather than a hand-written `ops.mean`) matters under
`tf.distribute`: with the default `"sum_over_batch_size"` reduction Keras divides each replica's sum by
its local batch size and by the number of replicas, so the summed gradients are those of the global-batch
mean. A plain mean on each replica gives updates `num_replicas` times too large.
"""

import keras
from keras import ops

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


__all__ = ["DistillationKL"]
