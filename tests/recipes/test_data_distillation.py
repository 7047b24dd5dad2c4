"""Tests of `recipes.data_distillation`: the ensemble of views, its selection, and a run on tiny digits.

The references are recomputed outside the code under test: the views from `recipes.tta.views`, the model
applied to each view separately, softmax and mean in NumPy; the selection is `recipes.pseudo_labels.select`
(what `pseudo_label` runs) on those NumPy probabilities.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import recipes
from recipes import data_distillation as dd
from recipes.pseudo_labels import select
from recipes.tta import view_names
from recipes.tta import views

K = 5
SHAPE = (12, 12, 1)
VIEWS = dict(views=("identity", "flip", "five_crop"), crop_fraction=0.75, scales=(0.9, 1.1))


def _logits_model(seed=0):
    """Flatten -> Dense logits: sees every pixel position, so each view gives different logits."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [keras.Input(SHAPE), keras.layers.Rescaling(1 / 64), keras.layers.Flatten(), keras.layers.Dense(K)]
    )


@pytest.fixture(scope="module")
def model():
    return _logits_model()


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, size=(24, *SHAPE), dtype=np.uint8)


@pytest.fixture(scope="module")
def ensemble(model, images):
    return _numpy_ensemble(model, images, **VIEWS)


def _numpy_ensemble(model, images, **kwargs):
    """Mean over `views(...)` of the NumPy softmax of the model's logits on each view, one view at a time."""
    stacked = views(images, **kwargs).numpy()
    probs = []
    for view in stacked:
        logits = np.asarray(model(tf.constant(view), training=False), np.float64)
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs.append(exp / exp.sum(axis=1, keepdims=True))
    return np.mean(probs, axis=0)


def test_labels_are_the_mean_softmax_over_the_views(model, images, ensemble):
    unlabeled = tf.data.Dataset.from_tensor_slices(images)
    result = dd.distill_labels(model, unlabeled, threshold=0.0, soft=True, from_logits=True, batch_size=10, **VIEWS)
    expected = ensemble
    # Threshold 0 keeps every image in order, and soft labels are the averaged probabilities themselves.
    np.testing.assert_array_equal(result.images, images)
    np.testing.assert_allclose(result.labels, expected, atol=1e-6)
    np.testing.assert_allclose(result.confidence, expected.max(axis=1), atol=1e-6)
    assert result.summary["views"] == view_names(VIEWS["views"], VIEWS["scales"]) and len(result.summary["views"]) == 11
    # The ensemble is not the single identity view: the views do change the probabilities.
    single = _numpy_ensemble(model, images, views="identity")
    assert np.abs(expected - single).max() > 0.05


@pytest.mark.parametrize("threshold, soft, balance", [(0.45, False, None), (0.47, True, "auto"), (0.43, False, 3)])
def test_selection_is_pseudo_labels_on_the_ensembled_probabilities(model, images, ensemble, threshold, soft, balance):
    expected_probs = ensemble
    # No image sits at the threshold, so float rounding cannot flip a decision.
    assert np.abs(expected_probs.max(axis=1) - threshold).min() > 1e-4
    expected = select(images, expected_probs, threshold=threshold, soft=soft, balance=balance)
    assert 0 < expected.summary["kept"] < len(images)  # the threshold does drop images
    batched = tf.data.Dataset.from_tensor_slices(images).batch(7)
    result = dd.distill_labels(
        model, batched, threshold=threshold, soft=soft, balance=balance, from_logits=True, **VIEWS
    )
    np.testing.assert_array_equal(result.images, expected.images)
    np.testing.assert_allclose(result.labels, expected.labels, atol=1e-6)
    np.testing.assert_allclose(result.confidence, expected.confidence, atol=1e-6)
    assert {k: v for k, v in result.summary.items() if k != "views"} == expected.summary
    if not soft:
        assert set(np.unique(result.labels)) == {0.0, 1.0} and np.all(result.labels.sum(axis=1) == 1)


def test_one_identity_view_is_pseudo_label(model, images):
    unlabeled = tf.data.Dataset.from_tensor_slices(images)
    probabilities = keras.Sequential([model, keras.layers.Softmax()])
    expected = recipes.pseudo_label(probabilities, unlabeled, threshold=0.35, soft=False)
    result = dd.distill_labels(probabilities, unlabeled, views="identity", threshold=0.35)
    np.testing.assert_array_equal(result.images, expected.images)
    np.testing.assert_array_equal(result.labels, expected.labels)
    assert result.summary == {**expected.summary, "views": ["identity"]}


def _make_model(built):
    def make_model(round_index):
        keras.utils.set_random_seed(round_index)
        inputs = keras.Input((8, 8, 1))
        x = keras.layers.Flatten()(keras.layers.Rescaling(1.0 / 16)(inputs))
        x = keras.layers.Dense(32, activation="relu")(x)
        model = keras.Model(inputs, keras.layers.Dense(10)(x), name=f"model_{round_index}")
        built.append(round_index)
        return model

    return make_model


@pytest.mark.parametrize(
    "train_teacher, threshold",
    # A given (here untrained) teacher skips round 0: one fit; training the teacher too is the slow variant.
    [(False, 0.0), pytest.param(True, 0.5, marks=pytest.mark.slow)],
)
def test_run_data_distillation_trains_a_student_on_distilled_labels(monkeypatch, train_teacher, threshold):
    built, calls = [], []
    real = dd.distill_labels

    def spy(teacher, unlabeled_ds, **kwargs):
        calls.append((teacher, kwargs))
        calls.append(real(teacher, unlabeled_ds, **kwargs))
        return calls[-1]

    monkeypatch.setattr(dd, "distill_labels", spy)
    labeled = recipes.load("digits", split="labeled", labeled_fraction=0.2).take(96)
    unlabeled = recipes.load("digits", split="unlabeled", labeled_fraction=0.2).take(160)
    given = None if train_teacher else _make_model([])(0)
    records = recipes.run_data_distillation(
        _make_model(built),
        labeled,
        unlabeled,
        views=("identity",),
        scales=(0.9, 1.1),
        threshold=threshold,
        epochs=1,
        batch_size=32,
        from_logits=True,
        optimizer=keras.optimizers.Adam(0.01),
        teacher=given,
    )
    assert [r.round for r in records] == [0, 1] and built == ([0, 1] if train_teacher else [1])
    (teacher, kwargs), distilled = calls
    assert teacher is records[0].model and records[1].model is not teacher
    assert given is None or (teacher is given and records[0].history == {})
    assert kwargs["views"] == ("identity",) and kwargs["scales"] == (0.9, 1.1) and kwargs["soft"] is False
    summary = records[1].pseudo_labels
    assert summary == distilled.summary and summary["views"] == ["identity", "scale_0.9", "scale_1.1"]
    assert summary["total"] == 160 and 0 < summary["kept"] <= 160
    assert np.all(distilled.confidence >= threshold) and np.all(distilled.labels.sum(axis=1) == 1)
    for record in records[0 if train_teacher else 1 :]:
        assert len(record.history["loss"]) == 1 and np.all(np.isfinite(record.history["loss"]))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"teacher": "teacher.keras"}, "teacher"),
        ({"views": "mirror"}, "views"),
        ({"views": ()}, "views"),
        ({"views": ("flip", "flip")}, "views"),
        ({"crop_fraction": 0.0}, "crop_fraction"),
        ({"scales": (1.0, -0.5)}, "scales"),
        ({"threshold": 1.5}, "threshold"),
        ({"soft": "yes"}, "soft"),
        ({"balance": 0}, "balance"),
        ({"from_logits": "no"}, "from_logits"),
        ({"batch_size": 0}, "batch_size"),
        ({"unlabeled_ds": tf.data.Dataset.from_tensor_slices((np.zeros((2, *SHAPE)), np.zeros(2)))}, "images only"),
        ({"from_logits": False}, "from_logits=True"),  # a logits model read as probabilities
    ],
)
def test_distill_labels_bad_arguments(model, images, kwargs, match):
    arguments = {"teacher": model, "unlabeled_ds": tf.data.Dataset.from_tensor_slices(images), "from_logits": True}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=match):
        dd.distill_labels(**arguments)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"views": "mirror"}, "views"),
        ({"scales": 0}, "scales"),
        ({"threshold": -0.1}, "threshold"),
        ({"balance": "most"}, "balance"),
        ({"batch_size": 0}, "batch_size"),
        ({"rounds": -1}, "rounds"),
        ({"noise": 3}, "noise"),
        ({"make_model": "cnn"}, "make_model"),
    ],
)
def test_run_data_distillation_bad_arguments_fail_before_training(kwargs, match):
    built = []
    arguments = {"make_model": _make_model(built), "epochs": 1}
    arguments.update(kwargs)
    labeled = tf.data.Dataset.from_tensor_slices((np.zeros((4, 8, 8, 1), np.uint8), np.zeros(4, np.int64)))
    unlabeled = tf.data.Dataset.from_tensor_slices(np.zeros((4, 8, 8, 1), np.uint8))
    with pytest.raises(ValueError, match=match):
        recipes.run_data_distillation(labeled_ds=labeled, unlabeled_ds=unlabeled, **arguments)
    assert built == []


def test_self_train_needs_a_callable_label():
    labeled = tf.data.Dataset.from_tensor_slices((np.zeros((4, 8, 8, 1), np.uint8), np.zeros(4, np.int64)))
    unlabeled = tf.data.Dataset.from_tensor_slices(np.zeros((4, 8, 8, 1), np.uint8))
    with pytest.raises(ValueError, match="label"):
        recipes.noisy_student.self_train(_make_model([]), labeled, unlabeled, "pseudo_label")


@pytest.mark.parametrize(
    "probabilities, match",
    [
        (np.full((3, 2), 0.5), "one row per image"),
        (np.full((4,), 0.5), r"\[n, classes\]"),
        (np.array([[1.5, -0.5]] * 4), "non-negative"),
        (np.full((4, 2), 0.4), "sum to 1"),
        (np.array([[np.nan, 1.0]] * 4), "finite"),
    ],
)
def test_select_rejects_what_are_not_probabilities(probabilities, match):
    with pytest.raises(ValueError, match=match):
        select(np.zeros((4, 2, 2, 1)), probabilities)
