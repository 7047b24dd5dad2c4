"""Knowledge distillation: a student trained on labels and on a frozen teacher's logits.

`Distiller` wraps a teacher and a student; `fit` trains the student only, `predict`/`evaluate` run the
student, and `export_student` saves the student alone as the deployable model.
"""

import os

import keras
from keras import ops

from recipes.losses import DistillationKL
from tfaug import validation as v


@keras.saving.register_keras_serializable(package="recipes")
class Distiller(keras.Model):
    """Trains `student` on `alpha * CE(y, s) + (1 - alpha) * T^2 * KL(softmax(t / T) || softmax(s / T))`.

    `t` and `s` are the teacher's and the student's logits on the same input batch (augmented images
    included: the teacher sees exactly what the student sees). The teacher is frozen
    (`teacher.trainable = False`) and always run in inference mode (`training=False`: BatchNorm moving
    statistics, no dropout), so gradients and weight updates reach the student only. With `hard=True`
    the KL term is replaced by DeiT's hard distillation, `CE(argmax(t), s)`, and `temperature` is unused.
    Deterministic given the inputs.

    Each term is a `keras.losses.Loss` with the default `"sum_over_batch_size"` reduction, so the loss and
    the weight update under `tf.distribute.MirroredStrategy` equal those of one device on the global batch.
    The student's own regularisation losses (`student.losses`: weight regularisers, `add_loss`) are added
    once, as `keras.Model.compute_loss` adds a model's losses; the teacher's are not.

    Labels are chosen by shape: sparse integer class ids `[batch]` or `[batch, 1]` use sparse
    cross-entropy; dense or soft labels `[batch, classes]` (one-hot, label-smoothed, or mixed by
    `tfaug.MixUpCutMix`) use categorical cross-entropy. Both models must output LOGITS (no softmax).
    With `alpha=0` labels may be omitted (`fit(x)`: pure distillation on unlabeled images).

    Args:
        teacher: a built `keras.Model` returning logits `[batch, classes]`; frozen by the constructor.
        student: a `keras.Model` returning logits of the same shape; the model being trained.
        alpha: weight of the hard-label term, in [0, 1]; `1 - alpha` weights the distillation term.
            Default 0.1 (keras-io example). 1 gives plain cross-entropy training of the student.
        temperature: softmax temperature `T` of the distillation term, > 0. Default 10.0 (keras-io
            example); Hinton et al. found intermediate values (about 2 to 20) best.
        hard: use DeiT hard distillation (cross-entropy against the teacher's argmax). Default False.
        **kwargs: `keras.Model` arguments (`name`, ...).

    Input/output: `call(images)` returns the student's logits; inputs are whatever the models accept.

    Raises:
        ValueError: `teacher` or `student` not a `keras.Model`, the same model twice, more than one
            output, or outputs of different shapes (checked in the constructor when the shapes are
            known, else at the first training step); `alpha` outside [0, 1]; `temperature` <= 0;
            labels missing while `alpha > 0`, or labels whose shape fits neither form; a `loss` passed
            to `compile` (the loss is fixed by this class).

    Example:
        >>> distiller = Distiller(teacher=teacher, student=student, alpha=0.1, temperature=10.0)
        >>> distiller.compile(optimizer="adam", metrics=["accuracy"])
        >>> distiller.fit(train_ds.map(tfaug.data.mixup_cutmix(num_classes=10, seed=0)), epochs=3)
        >>> distiller.export_student("student.keras")   # the student alone; reload with load_model

    References:
        Hinton, Vinyals, Dean. "Distilling the Knowledge in a Neural Network". arXiv:1503.02531, 2015.
        Touvron et al. "Training data-efficient image transformers & distillation through attention"
        (DeiT), ICML 2021: hard distillation.
        keras-io example "Knowledge Distillation" (K. Kumar Ramanathan): alpha 0.1, temperature 10.
    """

    def __init__(self, *, teacher, student, alpha=0.1, temperature=10.0, hard=False, **kwargs):
        super().__init__(**kwargs)
        _check_model("teacher", teacher)
        _check_model("student", student)
        if student is teacher:
            raise ValueError("`student` must be a different model from `teacher`, got the same object twice.")
        teacher_shape, student_shape = _output_shape("teacher", teacher), _output_shape("student", student)
        if teacher_shape is not None and student_shape is not None:
            _check_same_shape(teacher_shape, student_shape)
        self.alpha = v.check_probability("alpha", alpha)
        self.temperature = v.check_positive("temperature", temperature)
        if not isinstance(hard, bool):
            raise ValueError(f"`hard` must be a bool, got {hard!r}.")
        self.hard = hard
        teacher.trainable = False
        self.teacher = teacher
        self.student = student
        self.sparse_ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True, name="sparse_ce")
        self.dense_ce = keras.losses.CategoricalCrossentropy(from_logits=True, name="dense_ce")
        self.distillation_kl = DistillationKL(temperature=self.temperature)

    def call(self, inputs, training=None):
        return self.student(inputs, training=training)

    def compile(self, optimizer="rmsprop", loss=None, **kwargs):
        """`keras.Model.compile` without `loss`: the distillation loss is fixed by this class."""
        if loss is not None:
            raise ValueError(
                f"`loss` must be None for a Distiller (its loss is set by alpha, temperature and hard), got {loss!r}."
            )
        super().compile(optimizer=optimizer, **kwargs)

    def compile_from_config(self, config):
        # Keras skips compiling a loaded model whose class overrides `compile`; this restores it.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        # The teacher is frozen and in inference mode whatever `training` is; stop_gradient also keeps
        # the tape from tracing back through it.
        teacher_logits = ops.stop_gradient(self.teacher(x, training=False))
        _check_same_shape(tuple(teacher_logits.shape[1:]), tuple(y_pred.shape[1:]))
        total = ops.zeros((), dtype="float32")
        if self.alpha > 0:
            if y is None:
                raise ValueError(f"Labels `y` are needed when `alpha` > 0, got alpha={self.alpha}.")
            total = total + self.alpha * self._label_loss(y, y_pred, sample_weight)
        if self.alpha < 1:
            if self.hard:
                teacher_labels = ops.argmax(teacher_logits, axis=-1)
                distill = self.sparse_ce(teacher_labels, y_pred, sample_weight)
            else:
                distill = self.distillation_kl(teacher_logits, y_pred, sample_weight)
            total = total + (1.0 - self.alpha) * distill
        student_losses = self.student.losses
        if student_losses:
            total = total + _additional_loss(student_losses, total.dtype)
        return total

    def _label_loss(self, y, y_pred, sample_weight):
        classes = y_pred.shape[-1]
        if len(y.shape) == len(y_pred.shape) and y.shape[-1] == classes and classes != 1:
            return self.dense_ce(y, y_pred, sample_weight)
        if len(y.shape) == len(y_pred.shape) - 1 or (len(y.shape) == len(y_pred.shape) and y.shape[-1] == 1):
            return self.sparse_ce(y, y_pred, sample_weight)
        raise ValueError(
            f"Labels `y` must be sparse class ids [batch] or [batch, 1], or dense/soft labels [batch, {classes}]; "
            f"got shape {tuple(y.shape)} for logits of shape {tuple(y_pred.shape)}."
        )

    def export_student(self, path):
        """Saves the student alone (no teacher) to a `.keras` file and returns `path`.

        The file reloads with `keras.saving.load_model(path)` and predicts exactly as `self.predict`.
        """
        if not str(os.fspath(path)).endswith(".keras"):
            raise ValueError(f"`path` must end in '.keras', got {path!r}.")
        self.student.save(path)
        return path

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "teacher": keras.saving.serialize_keras_object(self.teacher),
            "student": keras.saving.serialize_keras_object(self.student),
            "alpha": self.alpha,
            "temperature": self.temperature,
            "hard": self.hard,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["teacher"] = keras.saving.deserialize_keras_object(config["teacher"])
        config["student"] = keras.saving.deserialize_keras_object(config["student"])
        return cls(**config)


def _additional_loss(losses, dtype):
    """The sum of `losses` (regularisers, `add_loss`), scaled for the replicas as Keras scales its own.

    `keras.Model.compute_loss` adds each of `model.losses` summed to a scalar and, under `tf.distribute`,
    divided by the number of replicas: every replica computes the whole penalty and the replicas' gradients
    are summed, so each contributes its share. The reported loss is multiplied back, so it shows the
    penalty once.
    """
    total = ops.sum(ops.stack([ops.cast(ops.sum(loss), dtype) for loss in losses]))
    return total / ops.cast(_num_replicas(), dtype)


def _num_replicas():
    if keras.backend.backend() != "tensorflow":
        return 1
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync


def _check_model(name, model):
    if not isinstance(model, keras.Model):
        raise ValueError(f"`{name}` must be a keras.Model returning logits, got {type(model).__name__}: {model!r}.")


def _output_shape(name, model):
    """The static output shape without the batch axis, or None while unknown (unbuilt subclassed model)."""
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        return None
    if not outputs:
        return None
    if len(outputs) != 1:
        raise ValueError(f"`{name}` must have a single logits output, got {len(outputs)} outputs.")
    return tuple(outputs[0].shape[1:])


def _check_same_shape(teacher_shape, student_shape):
    if teacher_shape != student_shape:
        raise ValueError(
            "`teacher` and `student` must output logits of the same shape, got teacher "
            f"{teacher_shape} and student {student_shape} (batch axis left out)."
        )


__all__ = ["Distiller"]
