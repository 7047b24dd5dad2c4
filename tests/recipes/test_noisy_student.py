"""Tests of `recipes.noisy_student` and `recipes.layers.StochasticDepth`.

The pseudo-labelling teacher is built so that its probabilities are known: each 2x2x1 image holds the log
of a probability vector over 4 classes, and the teacher is Flatten -> Dropout(0.5) -> Dense(identity
weights, zero bias) -> softmax, so in inference mode it returns exactly that vector. Its Dropout would
change (and randomise) the probabilities if the teacher ran in training mode.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import recipes
import tfaug
from recipes import noisy_student as ns
from recipes.layers import StochasticDepth

K = 4
# Probability vectors, one per unlabeled image: (max probability, class) is what the tests reason about.
PROBS = np.array(
    [
        [0.90, 0.05, 0.03, 0.02],  # 0: class 0, 0.90
        [0.25, 0.25, 0.26, 0.24],  # 1: class 2, 0.26 (dropped at 0.3)
        [0.10, 0.60, 0.20, 0.10],  # 2: class 1, 0.60
        [0.35, 0.30, 0.20, 0.15],  # 3: class 0, 0.35
        [0.28, 0.24, 0.24, 0.24],  # 4: class 0, 0.28 (dropped)
        [0.05, 0.05, 0.85, 0.05],  # 5: class 2, 0.85
        [0.50, 0.20, 0.20, 0.10],  # 6: class 0, 0.50
        [0.20, 0.20, 0.40, 0.20],  # 7: class 2, 0.40
        [0.29, 0.29, 0.13, 0.29],  # 8: class 0, 0.29 (dropped)
    ],
    dtype=np.float64,
)
KEPT = [0, 2, 3, 5, 6, 7]  # max probability >= 0.3


def _images(probs=PROBS):
    return np.log(probs).reshape(-1, 2, 2, 1).astype(np.float32)


def _mirrored():
    """Two replicas on the two logical CPUs of conftest."""
    # Reduction to one device, not the default collective all-reduce: in TF 2.21 every MirroredStrategy
    # instance of a process numbers its collective ops from the same key, so two instances training models
    # of different shapes abort with "Shape mismatch in the collective instance" (the distillation tests
    # build their own instances in this same process).
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"], cross_device_ops=tf.distribute.ReductionToOneDevice())


def _teacher(softmax=True, name="teacher"):
    layers = [keras.Input((2, 2, 1)), keras.layers.Flatten(), keras.layers.Dropout(0.5, seed=0)]
    layers.append(keras.layers.Dense(K, activation="softmax" if softmax else None))
    model = keras.Sequential(layers, name=name)
    model.set_weights([np.eye(K, dtype=np.float32), np.zeros(K, np.float32)])
    return model


def _unlabeled(images=None):
    return tf.data.Dataset.from_tensor_slices(_images() if images is None else images)


# -- pseudo_label ---------------------------------------------------------------------------------------


def test_keeps_exactly_the_confident_images_with_the_teachers_probabilities():
    result = ns.pseudo_label(_teacher(), _unlabeled(), threshold=0.3, batch_size=4)
    np.testing.assert_array_equal(result.images, _images()[KEPT])
    np.testing.assert_allclose(result.labels, PROBS[KEPT], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.confidence, PROBS[KEPT].max(axis=1), rtol=1e-5)
    assert result.summary == {
        "total": 9,
        "kept": 6,
        "per_class": [3, 1, 2, 0],
        "selected": 6,
        "selected_per_class": [3, 1, 2, 0],
    }
    images, labels = zip(*result.dataset().as_numpy_iterator())
    np.testing.assert_array_equal(np.stack(images), result.images)
    np.testing.assert_array_equal(np.stack(labels), result.labels)


def test_teacher_runs_in_inference_mode_and_deterministically():
    # With the Dropout active, half the logits would be zeroed and the rest doubled: far from PROBS.
    first = ns.pseudo_label(_teacher(), _unlabeled(), threshold=0.0)
    second = ns.pseudo_label(_teacher(), _unlabeled(), threshold=0.0)
    np.testing.assert_allclose(first.labels, PROBS, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(first.labels, second.labels)


@pytest.mark.parametrize("threshold, kept", [(0.0, list(range(9))), (0.5, [0, 2, 5, 6]), (0.86, [0]), (1.0, [])])
def test_threshold_is_inclusive_lower_bound(threshold, kept):
    result = ns.pseudo_label(_teacher(), _unlabeled(), threshold=threshold)
    np.testing.assert_array_equal(result.images, _images()[kept])
    assert result.summary["kept"] == len(kept)


def test_hard_labels_are_one_hot_of_the_argmax():
    result = ns.pseudo_label(_teacher(), _unlabeled(), soft=False)
    np.testing.assert_array_equal(result.labels, np.eye(K)[PROBS[KEPT].argmax(axis=1)])
    assert result.labels.dtype == np.float32


def test_logits_teacher_with_from_logits():
    result = ns.pseudo_label(_teacher(softmax=False), _unlabeled(), from_logits=True)
    np.testing.assert_allclose(result.labels, PROBS[KEPT], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="from_logits=True"):
        ns.pseudo_label(_teacher(softmax=False), _unlabeled())


def test_batched_dataset_gives_the_same_result():
    flat = ns.pseudo_label(_teacher(), _unlabeled())
    batched = ns.pseudo_label(_teacher(), _unlabeled().batch(4))
    np.testing.assert_array_equal(flat.images, batched.images)
    np.testing.assert_array_equal(flat.labels, batched.labels)


def test_balance_truncates_to_top_k_and_duplicates_short_classes():
    # Kept per class: 0 -> [0 (0.90), 6 (0.50), 3 (0.35)], 1 -> [2 (0.60)], 2 -> [5 (0.85), 7 (0.40)], 3 -> [].
    result = ns.pseudo_label(_teacher(), _unlabeled(), balance=2)
    order = [0, 6, 2, 2, 5, 7]
    np.testing.assert_array_equal(result.images, _images()[order])
    np.testing.assert_allclose(result.labels, PROBS[order], rtol=1e-5, atol=1e-6)
    assert result.summary["per_class"] == [3, 1, 2, 0]
    assert result.summary["selected_per_class"] == [2, 2, 2, 0]
    assert result.summary["selected"] == 6

    result = ns.pseudo_label(_teacher(), _unlabeled(), balance=5, soft=False)
    order = [0, 6, 3, 0, 6] + [2] * 5 + [5, 7, 5, 7, 5]
    np.testing.assert_array_equal(result.images, _images()[order])
    np.testing.assert_array_equal(result.labels.argmax(axis=1), [0] * 5 + [1] * 5 + [2] * 5)


def test_balance_auto_keeps_about_the_kept_total():
    # 6 kept over 4 classes: K = round(1.5) = 2.
    auto = ns.pseudo_label(_teacher(), _unlabeled(), balance="auto")
    two = ns.pseudo_label(_teacher(), _unlabeled(), balance=2)
    np.testing.assert_array_equal(auto.images, two.images)


def test_teacher_under_mirrored_strategy():
    with _mirrored().scope():
        teacher = _teacher()
    result = ns.pseudo_label(teacher, _unlabeled(), batch_size=4)
    np.testing.assert_allclose(result.labels, PROBS[KEPT], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"threshold": 1.5}, "threshold"),
        ({"threshold": -0.1}, "threshold"),
        ({"balance": 0}, "balance"),
        ({"balance": "most"}, "balance"),
        ({"soft": "yes"}, "soft"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_pseudo_label_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ns.pseudo_label(_teacher(), _unlabeled(), **kwargs)


def test_unlabeled_dataset_with_labels_is_rejected():
    pairs = tf.data.Dataset.from_tensor_slices((_images(), np.zeros(9, np.int64)))
    with pytest.raises(ValueError, match="images only"):
        ns.pseudo_label(_teacher(), pairs)
    with pytest.raises(ValueError, match="teacher"):
        ns.pseudo_label(lambda x: x, _unlabeled())


# -- StochasticDepth ------------------------------------------------------------------------------------


def test_stochastic_depth_is_identity_at_inference():
    layer = StochasticDepth(0.5, seed=0)
    x = np.random.default_rng(0).normal(size=(5, 3, 4, 2)).astype(np.float32)
    shortcut = np.ones_like(x)
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer(x, training=False), x)
    np.testing.assert_allclose(layer([shortcut, x], training=False), shortcut + x)
    model = keras.Sequential([keras.Input((3, 4, 2)), StochasticDepth(0.5, seed=0)])
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)


def test_stochastic_depth_drops_whole_samples_at_the_right_rate():
    p, n = 0.7, 4000
    layer = StochasticDepth(p, seed=0)
    x = np.ones((n, 3, 2), np.float32)
    out = layer(x, training=True).numpy()
    per_sample = out.reshape(n, -1)
    # Whole samples: every element of a sample is dropped or kept together.
    np.testing.assert_array_equal(per_sample.min(axis=1), per_sample.max(axis=1))
    values = per_sample[:, 0]
    kept = values > 0
    np.testing.assert_allclose(values[kept], 1.0 / p, rtol=1e-6)
    assert np.all(values[~kept] == 0)
    # Binomial(4000, 0.7): standard deviation of the kept fraction 0.0072; 4 sigma.
    assert abs(kept.mean() - p) < 0.03
    assert abs(values.mean() - 1.0) < 0.05
    # The next call draws a fresh mask; the same seed replays the same sequence.
    again = layer(x, training=True).numpy().reshape(n, -1)[:, 0]
    assert np.mean((again > 0) != kept) > 0.2
    np.testing.assert_array_equal(StochasticDepth(p, seed=0)(x, training=True).numpy(), out)


def test_stochastic_depth_pair_input_adds_the_dropped_branch():
    layer = StochasticDepth(0.5, seed=3)
    shortcut = np.full((64, 2), 10.0, np.float32)
    residual = np.ones((64, 2), np.float32)
    out = layer([shortcut, residual], training=True).numpy()
    assert set(np.unique(out)) == {10.0, 12.0}
    with pytest.raises(ValueError, match="inputs"):
        layer([shortcut, residual, residual], training=True)


def test_stochastic_depth_survival_one_is_identity_in_training():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(StochasticDepth(1.0, seed=0)(x, training=True), x)


def test_stochastic_depth_config_round_trip(tmp_path):
    layer = StochasticDepth(0.6, seed=7, name="drop_path")
    config = layer.get_config()
    assert config["survival_probability"] == 0.6 and config["seed"] == 7
    clone = StochasticDepth.from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(restored, StochasticDepth) and restored.get_config() == config
    inputs = keras.Input((4,))
    model = keras.Model(inputs, StochasticDepth(0.6, seed=7)([inputs, keras.layers.Dense(4)(inputs)]))
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = np.random.default_rng(1).normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


@pytest.mark.parametrize("value", [0, 0.0, -0.5, 1.5, True, "0.8", None])
def test_stochastic_depth_bad_survival_probability(value):
    with pytest.raises(ValueError, match="survival_probability"):
        StochasticDepth(value)


# -- run_noisy_student ----------------------------------------------------------------------------------


def _make_model(built):
    def make_model(round_index):
        width = 16 * (round_index + 1)  # students grow with the round
        inputs = keras.Input((8, 8, 1))
        x = keras.layers.Flatten()(keras.layers.Rescaling(1.0 / 255)(inputs))
        init = [keras.initializers.GlorotUniform(seed=10 * round_index + i) for i in range(3)]
        x = keras.layers.Dense(width, activation="relu", kernel_initializer=init[0])(x)
        branch = keras.layers.Dense(width, activation="relu", kernel_initializer=init[1])(x)
        x = StochasticDepth(0.8, seed=round_index)([x, branch])
        x = keras.layers.Dropout(0.2, seed=round_index)(x)
        outputs = keras.layers.Dense(10, activation="softmax", kernel_initializer=init[2])(x)
        model = keras.Model(inputs, outputs, name=f"model_{round_index}")
        built.append((round_index, model))
        return model

    return make_model


def _digits():
    labeled = recipes.load("digits", split="labeled", labeled_fraction=0.2).take(100)
    unlabeled = recipes.load("digits", split="unlabeled", labeled_fraction=0.2).take(200)
    return labeled, unlabeled


def test_run_noisy_student_two_rounds(monkeypatch):
    built, teachers, traced = [], [], []
    real_pseudo_label = ns.pseudo_label

    def spy(teacher, unlabeled_ds, **kwargs):
        teachers.append(teacher)
        return real_pseudo_label(teacher, unlabeled_ds, **kwargs)

    monkeypatch.setattr(ns, "pseudo_label", spy)
    # One cheap RandAugment op (the full two-op program takes tens of seconds to XLA-compile on CPU).
    randaugment = tfaug.RandAugment(num_ops=1, ops=("identity", "brightness"), seed=0)

    calls = tf.Variable(0, dtype=tf.int64)

    def noise(images):
        traced.append(images.shape.as_list())
        calls.assign_add(1)
        return randaugment.augment(images)

    labeled, unlabeled = _digits()
    test = recipes.load("digits", split="test").take(64)
    records = ns.run_noisy_student(
        _make_model(built),
        labeled,
        unlabeled,
        rounds=2,
        epochs=2,
        batch_size=16,
        threshold=0.2,
        balance="auto",
        noise=noise,
        validation_data=test,
        optimizer=keras.optimizers.Adam(0.02),
    )
    assert [r.round for r in records] == [0, 1, 2]
    assert [index for index, _ in built] == [0, 1, 2]
    assert [r.model for r in records] == [model for _, model in built]
    # The student of round r labels the data of round r + 1.
    assert teachers == [records[0].model, records[1].model]
    assert records[0].pseudo_labels is None
    for record in records[1:]:
        summary = record.pseudo_labels
        assert summary["total"] == 200 and 0 < summary["kept"] <= 200
        assert max(summary["selected_per_class"]) == max(1, round(summary["kept"] / 10))
    for record in records:
        assert len(record.history["loss"]) == 2 and np.all(np.isfinite(record.history["loss"]))
        assert len(record.history["val_accuracy"]) == 2
    params = [r.model.count_params() for r in records]
    assert params[0] < params[1] < params[2]
    # The input noise was traced once for all three pipelines, and ran on every training batch of each:
    # 100 labeled images in 7 batches of 16 for the teacher; 100 + selected for each student; 2 epochs.
    assert traced == [[None, 8, 8, 1]]
    batches = [-(-(100 + (r.pseudo_labels or {}).get("selected", 0)) // 16) for r in records]
    assert int(calls.numpy()) == 2 * sum(batches)


def test_loss_weights_make_labeled_plus_ratio_times_unlabeled():
    labeled, unlabeled = _digits()
    images = np.zeros((50, 8, 8, 1), np.uint8)
    labels = np.full((50, 10), 0.1, np.float32)
    pseudo = ns.PseudoLabels(images, labels, np.full(50, 0.1, np.float32), {})
    data = ns._training_set(labeled, pseudo, 10, 2.0, 32, None, seed=0)
    weights, hard = [], []
    for _, y, w in data.as_numpy_iterator():
        weights.append(w)
        hard.append(y.max(axis=1) == 1.0)  # one-hot labeled rows vs the uniform pseudo rows
    weights, hard = np.concatenate(weights), np.concatenate(hard)
    assert hard.sum() == 100 and (~hard).sum() == 50
    np.testing.assert_allclose(weights[hard], 150 / 100)
    np.testing.assert_allclose(weights[~hard], 2.0 * 150 / 50)
    # Mean of weighted per-example losses over the epoch = mean_labeled + 2 * mean_unlabeled.
    losses = np.random.default_rng(0).uniform(size=150)
    np.testing.assert_allclose((weights * losses).mean(), losses[hard].mean() + 2.0 * losses[~hard].mean())


def test_default_noise_is_randaugment_in_the_images_value_range():
    gray = ns._noise("rand-n2-m9", tf.TensorSpec([8, 8, 1], tf.uint8), seed=0).__self__
    assert isinstance(gray, tfaug.RandAugment)
    assert gray.num_ops == 2 and gray.magnitude == 9 and gray.value_range == (0.0, 255.0)
    assert "color" not in gray.ops and "rotate" in gray.ops
    rgb = ns._noise("rand-n1-m5", tf.TensorSpec([8, 8, 3], tf.float32), seed=0).__self__
    assert rgb.value_range == (0.0, 1.0) and "color" in rgb.ops and rgb.num_ops == 1
    assert ns._noise(None, tf.TensorSpec([8, 8, 3], tf.float32), seed=0) is None


def test_run_noisy_student_under_mirrored_strategy():
    labeled, unlabeled = _digits()
    strategy = _mirrored()
    assert strategy.num_replicas_in_sync == 2
    records = ns.run_noisy_student(
        _make_model([]), labeled, unlabeled, rounds=1, epochs=1, batch_size=32, noise=None, strategy=strategy
    )
    assert len(records) == 2 and records[1].pseudo_labels["total"] == 200
    assert np.isfinite(records[1].history["loss"][0])


def test_teacher_epochs_trains_the_teacher_longer():
    labeled, unlabeled = _digits()
    records = ns.run_noisy_student(
        _make_model([]), labeled, unlabeled, rounds=1, epochs=1, teacher_epochs=3, batch_size=50, noise=None
    )
    assert [len(r.history["loss"]) for r in records] == [3, 1]


def test_trained_teacher_skips_round_zero(monkeypatch):
    built, teachers = [], []
    real_pseudo_label = ns.pseudo_label

    def spy(teacher, unlabeled_ds, **kwargs):
        teachers.append(teacher)
        return real_pseudo_label(teacher, unlabeled_ds, **kwargs)

    monkeypatch.setattr(ns, "pseudo_label", spy)
    labeled, unlabeled = _digits()
    teacher = _make_model([])(0)
    teacher.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    teacher.fit(labeled.batch(50), epochs=1, shuffle=False, verbose=0)
    weights = [w.copy() for w in teacher.get_weights()]
    records = ns.run_noisy_student(
        _make_model(built), labeled, unlabeled, rounds=1, epochs=1, batch_size=50, noise=None, teacher=teacher
    )
    assert [index for index, _ in built] == [1]  # make_model(0) is not called
    assert records[0].model is teacher and records[0].history == {} and records[0].pseudo_labels is None
    assert teachers == [teacher]
    assert records[1].model is built[0][1] and len(records[1].history["loss"]) == 1
    for after, before in zip(teacher.get_weights(), weights):  # the teacher is not trained further
        np.testing.assert_array_equal(after, before)
    only_teacher = ns.run_noisy_student(_make_model(built), labeled, unlabeled, rounds=0, teacher=teacher)
    assert len(only_teacher) == 1 and only_teacher[0].model is teacher and len(built) == 1
    with pytest.raises(ValueError, match="teacher_epochs"):
        ns.run_noisy_student(_make_model(built), labeled, unlabeled, teacher=teacher, teacher_epochs=2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"teacher": "teacher.keras"}, "teacher"),
        ({"teacher_epochs": 0}, "teacher_epochs"),
        ({"teacher_epochs": 2.0}, "teacher_epochs"),
        ({"rounds": -1}, "rounds"),
        ({"rounds": 1.5}, "rounds"),
        ({"unlabeled_ratio": -1.0}, "unlabeled_ratio"),
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"noise": 3}, "noise"),
        ({"threshold": 2.0}, "threshold"),
        ({"balance": -2}, "balance"),
        ({"make_model": "mlp"}, "make_model"),
        ({"make_model": lambda r: "not a model"}, "make_model"),
        ({"labeled_ds": tf.data.Dataset.from_tensor_slices(np.zeros((4, 8, 8, 1), np.uint8))}, "labeled_ds"),
        ({"unlabeled_ds": tf.data.Dataset.from_tensor_slices(np.zeros((4, 8, 8, 1), np.float32))}, "dtype"),
    ],
)
def test_run_noisy_student_bad_arguments(kwargs, match):
    labeled, unlabeled = _digits()
    arguments = {"make_model": _make_model([]), "labeled_ds": labeled, "unlabeled_ds": unlabeled}
    arguments.update(rounds=1, epochs=1, noise=None)
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=match):
        ns.run_noisy_student(**arguments)


def test_default_noise_refuses_float_images_outside_zero_one():
    # Float images are taken to be in [0, 1]: 0..255 floats fail in the pipeline instead of saturating.
    scaled = recipes.load("digits", split="labeled", labeled_fraction=0.2, dtype="float32").take(32)
    scaled = scaled.map(lambda image, label: (image * 255.0, label))
    unlabeled = scaled.map(lambda image, label: image)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"outside `value_range`=\(0.0, 1.0\)"):
        ns.run_noisy_student(_make_model([]), scaled, unlabeled, rounds=0, epochs=1, batch_size=16)
