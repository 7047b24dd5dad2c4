"""Tests of `recipes.Distiller` and `recipes.losses.DistillationKL` against numpy references.

The models are one Dense layer on flattened 4x5x3 images with fixed weights, so logits, losses and the
SGD update of one step can be written out by hand: `logits = x @ W + b`, `W <- W - lr * x^T dL/dlogits`.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfaug
from recipes.distillation import Distiller
from recipes.losses import DistillationKL

K = 4  # classes
SHAPE = (4, 5, 3)
LR = 0.1


def _log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _softmax(z):
    return np.exp(_log_softmax(z))


def _one_hot(labels):
    return np.eye(K)[np.asarray(labels).reshape(-1)]


def _weights(seed, scale):
    rng = np.random.default_rng(seed)
    dim = int(np.prod(SHAPE))
    return [(rng.normal(size=(dim, K)) * scale).astype("float32"), (rng.normal(size=K) * 0.1).astype("float32")]


def _model(name, weights, classes=K, dropout=0.0, kernel_regularizer=None):
    layers = [keras.Input(SHAPE), keras.layers.Flatten()]
    layers += [keras.layers.Dropout(dropout, seed=0)] if dropout else []
    model = keras.Sequential(layers + [keras.layers.Dense(classes, kernel_regularizer=kernel_regularizer)], name=name)
    if weights is not None:
        model.set_weights(weights)
    return model


def _models(pixel_scale=1.0):
    """Teacher (sharper logits) and student with fixed weights, for images in [0, pixel_scale].

    The teacher has a Dropout layer, so the references (which ignore it) only hold in inference mode.
    """
    teacher_w, student_w = _weights(1, 0.6 / pixel_scale), _weights(2, 0.2 / pixel_scale)
    return _model("teacher", teacher_w, dropout=0.5), _model("student", student_w), teacher_w, student_w


def _images(n, pixel_scale=1.0, seed=0):
    return (np.random.default_rng(seed).uniform(size=(n,) + SHAPE) * pixel_scale).astype("float32")


def _logits(x, weights):
    return x.reshape(len(x), -1).astype("float64") @ weights[0] + weights[1]


def _reference(x, y_dense, teacher_w, student_w, alpha, temperature, hard):
    """Loss and the student's weights after one SGD step, from numpy with the formulas written out."""
    t, s = _logits(x, teacher_w), _logits(x, student_w)
    log_ps = _log_softmax(s)
    ce = -(y_dense * log_ps).sum(-1)
    if hard:
        teacher_labels = _one_hot(t.argmax(-1))
        distill = -(teacher_labels * log_ps).sum(-1)
        distill_grad = _softmax(s) - teacher_labels
    else:
        log_pt = _log_softmax(t / temperature)
        distill = temperature**2 * (np.exp(log_pt) * (log_pt - _log_softmax(s / temperature))).sum(-1)
        # d/ds of T^2 KL = T^2 * (1/T) * (softmax(s/T) - softmax(t/T))
        distill_grad = temperature * (_softmax(s / temperature) - _softmax(t / temperature))
    loss = alpha * ce.mean() + (1 - alpha) * distill.mean()
    grad = (alpha * (_softmax(s) - y_dense) + (1 - alpha) * distill_grad) / len(x)
    new_w = [student_w[0] - LR * x.reshape(len(x), -1).T @ grad, student_w[1] - LR * grad.sum(0)]
    return loss, new_w


def _fit_one_step(distiller, x, y, metrics=None):
    distiller.compile(optimizer=keras.optimizers.SGD(learning_rate=LR), metrics=metrics, jit_compile=False)
    return distiller.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0).history


LABELS = {
    "sparse": lambda n: np.arange(n) % K,
    "sparse_column": lambda n: (np.arange(n) % K)[:, None],
    "soft": lambda n: _softmax(np.random.default_rng(5).normal(size=(n, K)) * 2).astype("float32"),
}


@pytest.mark.parametrize("hard", [False, True], ids=["kl", "hard"])
@pytest.mark.parametrize("labels", list(LABELS))
def test_one_step_loss_and_update_match_numpy(labels, hard):
    x = _images(6)
    y = LABELS[labels](6)
    y_dense = y if labels == "soft" else _one_hot(y)
    teacher, student, teacher_w, student_w = _models()
    distiller = Distiller(teacher=teacher, student=student, alpha=0.3, temperature=4.0, hard=hard)
    history = _fit_one_step(distiller, x, y)

    loss, new_w = _reference(x, y_dense, teacher_w, student_w, alpha=0.3, temperature=4.0, hard=hard)
    np.testing.assert_allclose(history["loss"][0], loss, rtol=1e-5)
    for got, want, before in zip(student.get_weights(), new_w, student_w):
        assert np.abs(got - before).max() > 1e-3  # the step moved the student
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    # Gradients reach the student only: the teacher is frozen and bit-identical after fit.
    assert not teacher.trainable
    assert len(distiller.trainable_weights) == 2
    for got, before in zip(teacher.get_weights(), teacher_w):
        np.testing.assert_array_equal(got, before)


def test_student_regularization_loss_is_added_once():
    # L2 on the student's kernel: loss + l2 * sum(W^2) and gradient + 2 * l2 * W, on one device and on two
    # replicas (where Keras divides each replica's penalty by 2 and reports the loss multiplied back).
    l2 = 0.05
    x, y = _images(6), LABELS["sparse"](6)
    _, _, teacher_w, student_w = _models()
    loss, new_w = _reference(x, _one_hot(y), teacher_w, student_w, alpha=0.3, temperature=4.0, hard=False)
    penalty = l2 * (student_w[0].astype("float64") ** 2).sum()
    new_w[0] = new_w[0] - LR * 2 * l2 * student_w[0]
    assert penalty > 0.2  # twice the penalty, or none, would fail the loss check below
    mirrored = tf.distribute.MirroredStrategy(
        ["/cpu:0", "/cpu:1"], cross_device_ops=tf.distribute.ReductionToOneDevice()
    )
    for strategy in (tf.distribute.get_strategy(), mirrored):
        with strategy.scope():
            teacher = _model("teacher", teacher_w, dropout=0.5, kernel_regularizer=keras.regularizers.L2(1.0))
            student = _model("student", student_w, kernel_regularizer=keras.regularizers.L2(l2))
            history = _fit_one_step(Distiller(teacher=teacher, student=student, alpha=0.3, temperature=4.0), x, y)
        assert len(student.losses) == 1
        np.testing.assert_allclose(history["loss"][0], loss + penalty, rtol=1e-5, err_msg=strategy.__class__.__name__)
        for got, want in zip(student.get_weights(), new_w):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6, err_msg=strategy.__class__.__name__)


def test_hard_distillation_differs_from_soft():
    # Guards the parametrised test above against both paths computing the same thing.
    x, y = _images(6), LABELS["sparse"](6)
    _, _, teacher_w, student_w = _models()
    soft, _ = _reference(x, _one_hot(y), teacher_w, student_w, 0.3, 4.0, hard=False)
    hard, _ = _reference(x, _one_hot(y), teacher_w, student_w, 0.3, 4.0, hard=True)
    assert abs(soft - hard) > 0.05


def test_alpha_one_is_plain_cross_entropy():
    x, y = _images(6), LABELS["sparse"](6)
    teacher, student, _, student_w = _models()
    history = _fit_one_step(Distiller(teacher=teacher, student=student, alpha=1.0, temperature=3.0), x, y)

    plain = _model("plain", student_w)
    plain.compile(
        optimizer=keras.optimizers.SGD(learning_rate=LR),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=False,
    )
    plain_history = plain.fit(x, y, batch_size=6, epochs=1, shuffle=False, verbose=0).history
    np.testing.assert_allclose(history["loss"][0], plain_history["loss"][0], rtol=1e-6)
    for got, want in zip(student.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("temperature", [1.0, 2.0, 10.0])
def test_distillation_kl_is_t_squared_times_kl(temperature):
    rng = np.random.default_rng(3)
    t, s = rng.normal(size=(5, K)) * 3, rng.normal(size=(5, K))
    per_sample = DistillationKL(temperature=temperature, reduction=None, dtype="float64")(t, s)
    log_pt, log_ps = _log_softmax(t / temperature), _log_softmax(s / temperature)
    kl = (np.exp(log_pt) * (log_pt - log_ps)).sum(-1)
    np.testing.assert_allclose(per_sample, temperature**2 * kl, rtol=1e-10)
    mean = DistillationKL(temperature=temperature, dtype="float64")(t, s)
    np.testing.assert_allclose(mean, temperature**2 * kl.mean(), rtol=1e-10)
    assert float(DistillationKL(temperature=temperature)(t, t)) == pytest.approx(0.0, abs=1e-6)


def test_t_squared_keeps_the_high_temperature_gradient_at_logit_difference():
    # Hinton et al. eq. 3-4: for T >> |logits| and zero-mean logits, d(T^2 KL)/ds_i -> (s_i - t_i) / K,
    # independent of T. Without the T^2 factor the gradient would shrink as 1 / T^2.
    rng = np.random.default_rng(4)
    t, s = rng.normal(size=(3, K)), rng.normal(size=(3, K))
    t, s = t - t.mean(-1, keepdims=True), s - s.mean(-1, keepdims=True)
    for temperature in (300.0, 3000.0):
        student = tf.Variable(s)
        with tf.GradientTape() as tape:
            loss = DistillationKL(temperature=temperature, reduction="sum", dtype="float64")(t, student)
        np.testing.assert_allclose(tape.gradient(loss, student), (s - t) / K, rtol=1e-2, atol=1e-4)


def test_mixup_cutmix_pipeline_soft_labels():
    x, y = _images(8, pixel_scale=255.0), LABELS["sparse"](8)
    # enumerate() makes the mixing seed depend on the batch index, so the batch can be read twice.
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8).enumerate()
    ds = ds.map(tfaug.data.mixup_cutmix(num_classes=K, seed=0))
    (images, soft), (images_again, soft_again) = next(iter(ds)), next(iter(ds))
    np.testing.assert_array_equal(images, images_again)
    images, soft = images.numpy(), soft.numpy().astype("float64")
    np.testing.assert_array_equal(soft, soft_again.numpy())
    np.testing.assert_allclose(soft.sum(-1), 1.0, rtol=1e-6)
    assert soft.shape == (8, K) and soft.max() < 0.99  # soft, not one-hot

    teacher, student, teacher_w, student_w = _models(pixel_scale=255.0)
    distiller = Distiller(teacher=teacher, student=student, alpha=0.5, temperature=2.0)
    distiller.compile(optimizer=keras.optimizers.SGD(learning_rate=LR), jit_compile=False)
    history = distiller.fit(ds, epochs=1, shuffle=False, verbose=0).history
    loss, _ = _reference(images, soft, teacher_w, student_w, alpha=0.5, temperature=2.0, hard=False)
    np.testing.assert_allclose(history["loss"][0], loss, rtol=1e-5)
    loss_sparse, _ = _reference(images, _one_hot(y), teacher_w, student_w, 0.5, 2.0, hard=False)
    assert abs(loss - loss_sparse) > 1e-3  # the soft labels mattered


@pytest.mark.parametrize("labels", ["sparse", "soft"])
def test_mirrored_strategy_matches_one_device(labels):
    x, y = _images(8), LABELS[labels](8)
    results = []
    for strategy in (tf.distribute.get_strategy(), tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])):
        with strategy.scope():
            teacher, student, teacher_w, student_w = _models()
            distiller = Distiller(teacher=teacher, student=student, alpha=0.3, temperature=4.0)
            history = _fit_one_step(distiller, x, y)
        results.append((history["loss"][0], student.get_weights()))
    assert strategy.num_replicas_in_sync == 2
    (loss_one, w_one), (loss_two, w_two) = results
    np.testing.assert_allclose(loss_two, loss_one, rtol=1e-5)
    for one, two, before in zip(w_one, w_two, student_w):
        assert np.abs(one - before).max() > 1e-3  # a 2x-too-large update would fail the next line
        np.testing.assert_allclose(two, one, atol=1e-5)


def test_metrics_predict_and_evaluate_use_the_student():
    x, y = _images(6), LABELS["sparse"](6)
    teacher, student, _, _ = _models()
    distiller = Distiller(teacher=teacher, student=student, alpha=0.5, temperature=2.0)
    history = _fit_one_step(distiller, x, y, metrics=[keras.metrics.SparseCategoricalAccuracy(name="acc")])
    assert "acc" in history

    predicted = distiller.predict(x, verbose=0)
    np.testing.assert_allclose(predicted, student.predict(x, verbose=0), rtol=1e-6)
    result = distiller.evaluate(x, y, verbose=0, return_dict=True)
    assert result["acc"] == pytest.approx((predicted.argmax(-1) == y).mean())
    assert np.isfinite(result["loss"])


def test_export_student_round_trip(tmp_path):
    x, y = _images(6), LABELS["sparse"](6)
    teacher, student, _, _ = _models()
    distiller = Distiller(teacher=teacher, student=student)
    _fit_one_step(distiller, x, y)
    path = distiller.export_student(tmp_path / "student.keras")

    loaded = keras.saving.load_model(path)
    assert not isinstance(loaded, Distiller)
    assert [w.shape for w in loaded.weights] == [w.shape for w in student.weights]  # no teacher inside
    np.testing.assert_allclose(loaded.predict(x, verbose=0), distiller.predict(x, verbose=0), rtol=1e-6)
    with pytest.raises(ValueError, match="path"):
        distiller.export_student(tmp_path / "student.h5")


BAD_ARGUMENTS = {
    "teacher_layer": (lambda: dict(teacher=keras.layers.Dense(K)), "`teacher`"),
    "teacher_function": (lambda: dict(teacher=lambda x: x), "`teacher`"),
    "student_path": (lambda: dict(student="student.keras"), "`student`"),
    "student_none": (lambda: dict(student=None), "`student`"),
    "output_shapes": (lambda: dict(student=_model("wide", None, classes=K + 1)), "`teacher` and `student`.*same shape"),
    "temperature_zero": (lambda: dict(temperature=0.0), "`temperature`"),
    "temperature_negative": (lambda: dict(temperature=-2.0), "`temperature`"),
    "temperature_string": (lambda: dict(temperature="10"), "`temperature`"),
    "alpha_negative": (lambda: dict(alpha=-0.1), "`alpha`"),
    "alpha_above_one": (lambda: dict(alpha=1.5), "`alpha`"),
    "alpha_none": (lambda: dict(alpha=None), "`alpha`"),
    "hard_string": (lambda: dict(hard="yes"), "`hard`"),
}


@pytest.mark.parametrize("case", list(BAD_ARGUMENTS))
def test_bad_arguments_raise_value_error_naming_them(case):
    make_kwargs, match = BAD_ARGUMENTS[case]
    teacher, student, _, _ = _models()
    kwargs = dict(teacher=teacher, student=student, alpha=0.1, temperature=10.0)
    kwargs.update(make_kwargs())
    with pytest.raises(ValueError, match=match):
        Distiller(**kwargs)


def test_same_model_twice_raises():
    teacher, _, _, _ = _models()
    with pytest.raises(ValueError, match="`student`"):
        Distiller(teacher=teacher, student=teacher)


def test_compile_with_a_loss_raises():
    teacher, student, _, _ = _models()
    with pytest.raises(ValueError, match="`loss`"):
        Distiller(teacher=teacher, student=student).compile(optimizer="sgd", loss="mse")


def test_labels_of_the_wrong_width_raise():
    teacher, student, _, _ = _models()
    distiller = Distiller(teacher=teacher, student=student)
    with pytest.raises(ValueError, match="Labels `y`"):
        _fit_one_step(distiller, _images(6), np.full((6, K + 1), 1.0 / (K + 1), "float32"))


class SubclassedLogits(keras.Model):
    """A subclassed model: its output shape is unknown until it is called."""

    def __init__(self, classes, **kwargs):
        super().__init__(**kwargs)
        self.flatten, self.dense = keras.layers.Flatten(), keras.layers.Dense(classes)

    def call(self, inputs):
        return self.dense(self.flatten(inputs))


def test_shape_mismatch_of_unbuilt_models_raises_at_the_first_step():
    teacher, _, _, _ = _models()
    distiller = Distiller(teacher=teacher, student=SubclassedLogits(K + 1))
    with pytest.raises(ValueError, match="`teacher` and `student`.*same shape"):
        _fit_one_step(distiller, _images(6), LABELS["sparse"](6))


def test_whole_distiller_and_loss_round_trip(tmp_path):
    # Optional path (exporting the student is the documented one): the Distiller saves with its teacher.
    x, y = _images(6), LABELS["sparse"](6)
    teacher, student, _, _ = _models()
    distiller = Distiller(teacher=teacher, student=student, alpha=0.2, temperature=3.0, hard=True)
    _fit_one_step(distiller, x, y)
    distiller.save(tmp_path / "distiller.keras")
    loaded = keras.saving.load_model(tmp_path / "distiller.keras")
    assert (loaded.alpha, loaded.temperature, loaded.hard) == (0.2, 3.0, True)
    assert not loaded.teacher.trainable
    np.testing.assert_allclose(loaded.predict(x, verbose=0), distiller.predict(x, verbose=0), rtol=1e-6)
    np.testing.assert_array_equal(loaded.teacher.get_weights()[0], teacher.get_weights()[0])

    loss = DistillationKL.from_config(DistillationKL(temperature=7.0, name="kd").get_config())
    assert (loss.temperature, loss.name, loss.reduction) == (7.0, "kd", "sum_over_batch_size")
