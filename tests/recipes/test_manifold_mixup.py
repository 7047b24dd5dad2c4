"""Tests of `recipes.ManifoldMixup`: the mixed hidden state against numpy, the draw, the training step.

The model is tiny (6x6x2 images, a residual block, BatchNorm) and carries identity `Recorder` layers right
after each mixing point, so a test can read the hidden state the next layer saw in an eager forward pass.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from recipes.manifold_mixup import ManifoldMixup
from recipes.manifold_mixup import Mixing
from tfaug import random as tfr

SHAPE = (6, 6, 2)
K = 3  # classes
B = 6
POINTS = ("<input>", "c1", "add", "gap")


class Recorder(keras.layers.Layer):
    """Identity that keeps the last input it saw (eagerly)."""

    def call(self, x):
        self.seen = x
        return x


def _model(seed=0, dropout=0.0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(SHAPE)
    x = Recorder(name="r0")(inputs)
    a = Recorder(name="r1")(keras.layers.Conv2D(4, 3, padding="same", name="c1")(x))
    b = keras.layers.Conv2D(4, 3, padding="same", name="c2")(a)
    s = Recorder(name="r2")(keras.layers.Add(name="add")([a, b]))
    s = keras.layers.BatchNormalization(name="bn")(s)
    f = Recorder(name="r3")(keras.layers.GlobalAveragePooling2D(name="gap")(s))
    f = keras.layers.Dropout(dropout, seed=seed)(f) if dropout else f
    return keras.Model(inputs, keras.layers.Dense(K, name="dense")(f))


def _data(seed=0, n=B):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n,) + SHAPE).astype("float32"), rng.integers(0, K, n).astype("int32")


def _hand_mixing(point):
    lam = np.array([0.9, 0.2, 0.5, 0.35, 0.7, 0.05], "float32")
    partner = np.array([3, 0, 5, 1, 2, 4], "int32")
    return Mixing(point=tf.constant(point, tf.int32), lam=tf.constant(lam), partner=tf.constant(partner))


def _recorded(model):
    return [model.get_layer(f"r{i}").seen.numpy() for i in range(len(POINTS))]


@pytest.mark.parametrize("point", range(len(POINTS)), ids=POINTS)
def test_the_next_layer_sees_the_mixed_hidden_state_and_nothing_else_is_mixed(point):
    model = _model()
    trainer = ManifoldMixup(model, layers=["gap", "c1", "add"], seed=0)
    assert trainer.mix_points == POINTS  # graph order, whatever the order of `layers`
    x, _ = _data()
    model(x, training=True)
    plain = _recorded(model)
    mixing = _hand_mixing(point)
    trainer.mixed_call(x, mixing, training=True)
    mixed = _recorded(model)
    lam = mixing.lam.numpy().reshape((B,) + (1,) * (plain[point].ndim - 1))
    expected = lam * plain[point] + (1 - lam) * plain[point][mixing.partner.numpy()]
    np.testing.assert_allclose(mixed[point], expected, rtol=1e-5, atol=1e-6)
    for before in range(point):
        np.testing.assert_array_equal(mixed[before], plain[before])
    if point + 1 < len(POINTS):  # later states are computed from the mixture, not mixed again
        assert not np.allclose(mixed[point + 1], plain[point + 1])


@pytest.mark.parametrize("form", ["sparse", "sparse_column", "sparse_float", "dense"])
def test_labels_are_mixed_by_the_same_weights_and_partners(form):
    trainer = ManifoldMixup(_model(), layers=["c1"], seed=0)
    _, ids = _data()
    one_hot = np.eye(K, dtype="float32")[ids]
    forms = {"sparse": ids, "sparse_column": ids[:, None], "sparse_float": ids.astype("float32"), "dense": one_hot}
    labels = forms[form]
    mixing = _hand_mixing(1)
    lam = mixing.lam.numpy()[:, None]
    expected = lam * one_hot + (1 - lam) * one_hot[mixing.partner.numpy()]
    np.testing.assert_allclose(trainer.mix_labels(labels, mixing).numpy(), expected, rtol=1e-6)


def test_the_mixing_point_is_uniform_over_the_points():
    trainer = ManifoldMixup(_model(), layers=["c1", "add", "gap"], seed=0)
    # Only the draw runs, for 800 seeds in one graph.
    draw_points = tf.function(
        autograph=False,
        func=lambda: tf.map_fn(
            lambda i: trainer.draw(tf.stack([tf.constant(5, tf.int64), i]), B).point,
            tf.range(800, dtype=tf.int64),
            fn_output_signature=tf.int32,
        ),
    )
    points = draw_points().numpy()
    counts = np.bincount(points, minlength=len(POINTS))
    assert len(counts) == len(POINTS)
    assert stats.chisquare(counts).pvalue > 1e-3


def test_lam_is_per_sample_by_default_and_one_per_batch_when_batchwise():
    seed = tf.constant([1, 2], tf.int64)
    per_sample = ManifoldMixup(_model(), layers=["c1"], seed=0).draw(seed, 16)
    batchwise = ManifoldMixup(_model(), layers=["c1"], batchwise=True, seed=0).draw(seed, 16)
    assert len(np.unique(per_sample.lam.numpy())) == 16
    assert len(np.unique(batchwise.lam.numpy())) == 1
    # A derangement: every sample has a partner other than itself.
    assert np.all(per_sample.partner.numpy() != np.arange(16))
    assert sorted(per_sample.partner.numpy()) == list(range(16))
    flipped = ManifoldMixup(_model(), layers=["c1"], pairing="flip", seed=0).draw(seed, 5)
    np.testing.assert_array_equal(flipped.partner, [4, 3, 2, 1, 0])
    assert flipped.lam.numpy()[2] == 1.0  # the middle sample, paired with itself, stays as it is


def _first_step(jit_compile, run_eagerly, seed):
    """Loss and weights after one SGD step from fixed weights, in one execution mode."""
    model = _model()
    trainer = ManifoldMixup(model, layers=["c1", "add", "gap"], seed=seed)
    trainer.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=jit_compile, run_eagerly=run_eagerly)
    x, y = _data()
    loss = trainer.train_on_batch(x, y, return_dict=True)["loss"]
    return loss, model.get_weights()


def test_a_step_trains_on_the_drawn_mixing_alike_eagerly_in_tf_function_and_under_xla():
    seed = 3
    model = _model()
    trainer = ManifoldMixup(model, layers=["c1", "add", "gap"], seed=seed)
    x, y = _data()
    # The first step's seed is the generator's first; this seed mixes a hidden layer, not the input.
    mixing = trainer.draw(tfr.SeedGenerator(seed).next(), B)
    assert int(mixing.point) == 2
    logits = trainer.mixed_call(x, mixing, training=True)
    expected = keras.losses.CategoricalCrossentropy(from_logits=True)(trainer.mix_labels(y, mixing), logits)
    runs = [_first_step(*mode, seed=seed) for mode in [(False, True), (False, False), (True, False)]]
    for loss, weights in runs:
        np.testing.assert_allclose(loss, float(expected), rtol=1e-5)
        for got, want in zip(weights, runs[0][1]):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_training_updates_the_models_own_weights_with_batchnorm_and_dropout_in_training_mode():
    model = _model(dropout=0.5)
    trainer = ManifoldMixup(model, layers=["c1", "add"], seed=0)
    assert {id(w) for w in trainer.weights} == {id(w) for w in model.weights}
    assert len(trainer.trainable_weights) == len(model.trainable_weights)
    x, y = _data()
    mixing = _hand_mixing(2)
    # Dropout runs: two training passes with the same mixing differ; inference passes do not.
    assert not np.allclose(trainer.mixed_call(x, mixing), trainer.mixed_call(x, mixing))
    before = model.get_weights()
    trainer.compile(optimizer=keras.optimizers.SGD(0.1))
    trainer.train_on_batch(x, y)
    after = model.get_weights()
    for variable, old, new in zip(model.weights, before, after):
        assert not np.allclose(old, new), variable.path  # kernels, biases and BatchNorm moving statistics


def test_inference_is_the_plain_model(tmp_path):
    model = _model()
    trainer = ManifoldMixup(model, layers=["c1"], seed=0)
    trainer.compile(optimizer="sgd")
    x, y = _data()
    trainer.train_on_batch(x, y)
    plain = model(x, training=False).numpy()
    np.testing.assert_allclose(trainer(x, training=False), plain, rtol=1e-6)
    np.testing.assert_allclose(trainer.predict(x, verbose=0), plain, rtol=1e-5, atol=1e-6)
    loss = trainer.evaluate(x, y, verbose=0)  # sparse labels are made one-hot for the dense loss
    expected = keras.losses.CategoricalCrossentropy(from_logits=True)(np.eye(K)[y], plain)
    np.testing.assert_allclose(loss, float(expected), rtol=1e-5)
    # The trained classifier saves and reloads alone, and so does the wrapper (its config round-trips).
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras", custom_objects={"Recorder": Recorder})
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), plain, rtol=1e-5, atol=1e-6)
    with keras.saving.custom_object_scope({"Recorder": Recorder}):
        clone = ManifoldMixup.from_config(trainer.get_config())
    assert clone.mix_points == trainer.mix_points and clone.seed == trainer.seed and clone.alpha == trainer.alpha


def test_a_sequential_model_without_the_input_as_a_point():
    model = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(4, name="d1"), keras.layers.Dense(4, name="d2"), keras.layers.Dense(K)]
    )
    trainer = ManifoldMixup(model, layers=["d2"], include_input=False, seed=0)
    assert trainer.mix_points == ("d2",)
    x = np.random.default_rng(0).normal(size=(B, 5)).astype("float32")
    mixing = _hand_mixing(0)
    hidden = model.layers[1](model.layers[0](x)).numpy()
    lam = mixing.lam.numpy()[:, None]
    mixed = lam * hidden + (1 - lam) * hidden[mixing.partner.numpy()]
    np.testing.assert_allclose(trainer.mixed_call(x, mixing), model.layers[2](mixed), rtol=1e-5, atol=1e-6)


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(K)

    def call(self, x):
        return self.dense(x)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"layers": ["nope"]}, r"lacks; its layers are \['r0', 'c1', 'r1', 'c2'"),
        ({"layers": ["c2"]}, "'c2', which is not a cut point"),
        ({"layers": ["dense"]}, "'dense', the model's output layer"),
        ({"layers": ["c1", "c1"]}, "more than once"),
        ({"layers": "c1"}, "list of layer names"),
        ({"layers": [], "include_input": False}, "at least one layer"),
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": -1.0}, "alpha"),
        ({"alpha": float("nan")}, "alpha"),
        ({"pairing": "shuffle"}, "pairing"),
        ({"batchwise": 1}, "batchwise"),
        ({"include_input": "yes"}, "include_input"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ManifoldMixup(_model(), **kwargs)


def test_bad_models_labels_and_losses():
    subclassed = Subclassed()
    subclassed(np.zeros((1, 4), "float32"))
    with pytest.raises(ValueError, match="functional or built Sequential"):
        ManifoldMixup(subclassed)
    with pytest.raises(ValueError, match="functional or Sequential keras.Model"):
        ManifoldMixup(keras.layers.Dense(3))
    inputs = keras.Input((4,))
    with pytest.raises(ValueError, match="one input and one output"):
        ManifoldMixup(keras.Model(inputs, [keras.layers.Dense(2)(inputs), keras.layers.Dense(3)(inputs)]))
    with pytest.raises(ValueError, match=r"num_classes >= 2, got shape \(None, 1\)"):
        ManifoldMixup(keras.Model(inputs, keras.layers.Dense(1)(inputs)))
    trainer = ManifoldMixup(_model(), layers=["c1"])
    with pytest.raises(ValueError, match="dense labels"):
        trainer.compile(loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="dense labels"):
        trainer.compile(loss=keras.losses.SparseCategoricalCrossentropy())
    with pytest.raises(ValueError, match=r"Labels must be .* got shape \(6, 5\)"):
        trainer.dense_labels(np.zeros((B, 5), "float32"))


@pytest.mark.slow
def test_fit_reduces_the_loss():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(K,) + SHAPE).astype("float32") * 2
    labels = rng.integers(0, K, 96).astype("int32")
    images = centres[labels] + rng.normal(size=(96,) + SHAPE).astype("float32") * 0.5
    model = _model()
    trainer = ManifoldMixup(model, layers=["c1", "add", "gap"], seed=0)
    trainer.compile(optimizer=keras.optimizers.Adam(0.01))
    before = trainer.evaluate(images, labels, verbose=0)
    trainer.fit(images, labels, batch_size=16, epochs=10, verbose=0)
    assert trainer.evaluate(images, labels, verbose=0) < 0.5 * before


@pytest.mark.slow
def test_training_under_mirrored_strategy():
    # Two logical CPU devices (tests/conftest.py). Each replica draws its own mixing for its sub-batch.
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        model = _model()
        trainer = ManifoldMixup(model, layers=["c1", "add", "gap"], seed=0)
        trainer.compile(optimizer=keras.optimizers.SGD(0.1), metrics=["accuracy"])
    x, y = _data(n=8)
    before = model.get_weights()
    history = trainer.fit(x, y, batch_size=8, epochs=2, verbose=0).history
    assert np.all(np.isfinite(history["loss"]))
    for old, new in zip(before, model.get_weights()):
        assert not np.allclose(old, new)
