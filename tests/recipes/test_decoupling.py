"""Tests of the decoupled classifiers: cRT on frozen features, tau-normalisation against NumPy."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfaug
from recipes import decoupling
from recipes import transfer
from recipes.models import small_cnn

SHAPE = (8, 8, 3)


def cnn(num_classes=3, seed=0):
    keras.utils.set_random_seed(seed)
    return small_cnn(SHAPE, num_classes, width=4)


def images(n, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n, *SHAPE)).astype(np.float32)


def linear_model(kernel, bias, name="linear"):
    """Inputs are the features: one BatchNormalization (identity at its initial statistics), then the head."""
    inputs = keras.Input((kernel.shape[0],))
    x = keras.layers.BatchNormalization(name="bn")(inputs)
    outputs = keras.layers.Dense(kernel.shape[1], name="logits")(x)
    model = keras.Model(inputs, outputs, name=name)
    model.get_layer("logits").set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    return model


def tiny_backbone():
    inputs = keras.Input(SHAPE)
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    return keras.Model(inputs, keras.layers.ReLU()(x), name="tiny_backbone")


def test_functional_head_and_features_reproduce_the_logits():
    model, x = cnn(), images(4)
    head = decoupling.classifier_head(model)
    assert head is model.get_layer("logits")
    features = decoupling.feature_extractor(model)(x, training=False)
    assert features.shape == (4, 16)
    np.testing.assert_allclose(head(features), model(x, training=False), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("pooling", ["avg", "gem"])
def test_transfer_classifier_features_are_its_pooled_pre_dropout_features(pooling):
    model = transfer.build_classifier(tiny_backbone(), 3, dropout=0.5, pooling=pooling)
    x = images(4)
    assert decoupling.classifier_head(model) is model.head
    features = decoupling.feature_extractor(model)(x, training=False)
    maps = np.asarray(model.backbone(x, training=False), np.float64)
    if pooling == "avg":
        pooled = maps.mean(axis=(1, 2))
    else:  # GeM at its initial p = 3
        pooled = np.mean(np.maximum(maps, 1e-6) ** 3, axis=(1, 2)) ** (1 / 3)
    np.testing.assert_allclose(features, pooled, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.head(features), model(x, training=False), rtol=1e-5, atol=1e-6)


def test_retrain_changes_only_the_head_and_restores_the_flags():
    model = cnn()
    model.layers[2].trainable = False  # the first conv, frozen by the user: it must stay so
    model.compile(optimizer="adam", loss="mse")
    optimizer, loss = model.optimizer, model.loss
    layers = [model, *transfer.all_layers(model)]
    flags = [layer.trainable for layer in layers]
    variable_flags = [w.trainable for w in model.weights]
    before = {w.path: w.numpy().copy() for w in model.weights}
    labels = np.eye(3, dtype=np.float32)[np.repeat([0, 1, 2], [12, 3, 1])]
    pairs = tf.data.Dataset.from_tensor_slices((images(16), labels))

    history = decoupling.retrain_classifier(model, pairs, 3, epochs=1, batch_size=4, steps_per_epoch=2, seed=0)

    assert len(history.history["loss"]) == 1 and np.isfinite(history.history["loss"][0])
    after = {w.path: w.numpy() for w in model.weights}
    changed = sorted(path for path in before if not np.array_equal(before[path], after[path]))
    assert changed == ["logits/bias", "logits/kernel"]
    assert [layer.trainable for layer in layers] == flags
    assert [w.trainable for w in model.weights] == variable_flags
    assert model.optimizer is optimizer and model.loss is loss


def test_crt_raises_the_minority_recall_of_an_instance_balanced_head():
    # Two overlapping Gaussian classes, 200 to 10: a head trained on the plain (instance-balanced) stream leans
    # to the majority; the same head re-trained on the class-balanced stream must recall the minority better.
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0.0, 1.0, (200, 2)), rng.normal((2.0, 0.0), 1.0, (10, 2))]).astype(np.float32)
    y = np.repeat([0, 1], [200, 10])
    x_test = rng.normal((2.0, 0.0), 1.0, (400, 2)).astype(np.float32)  # minority-class test points
    pairs = tf.data.Dataset.from_tensor_slices((x, y))
    recall = {}
    for strategy in ("instance", "class_balanced"):
        model = linear_model(np.zeros((2, 2)), np.zeros(2))
        decoupling.retrain_classifier(
            model, pairs, 2, epochs=1, batch_size=16, steps_per_epoch=100, strategy=strategy, seed=0
        )
        recall[strategy] = np.mean(np.argmax(model(x_test, training=False), -1) == 1)
    assert recall["instance"] < 0.5 and recall["class_balanced"] > 0.8


@pytest.mark.slow
def test_retrain_with_a_mixing_augmentation_trains_on_soft_labels():
    model = cnn()
    pairs = tf.data.Dataset.from_tensor_slices((images(16), np.repeat([0, 1, 2], [12, 3, 1])))
    kernel = model.get_layer("logits").kernel.numpy().copy()
    history = decoupling.retrain_classifier(
        model,
        pairs,
        3,
        epochs=2,
        batch_size=4,
        steps_per_epoch=2,
        seed=0,
        augment=[tfaug.layers.MixUp(num_classes=3, seed=0)],
    )
    assert np.all(np.isfinite(history.history["loss"]))
    assert not np.array_equal(model.get_layer("logits").kernel.numpy(), kernel)


@pytest.mark.slow
def test_retrain_a_transfer_classifier_keeps_gem_p_and_the_backbone():
    model = transfer.build_classifier(tiny_backbone(), 3, pooling="gem", augment=[tfaug.RandomErasing(seed=0)])
    frozen = {w.path: w.numpy().copy() for w in model.weights if not w.path.startswith(f"{model.name}/classifier_head")}
    pairs = tf.data.Dataset.from_tensor_slices((images(16), np.repeat([0, 1, 2], [12, 3, 1])))
    decoupling.retrain_classifier(model, pairs, 3, epochs=1, batch_size=4, steps_per_epoch=3, seed=0)
    assert len(frozen) == len(model.weights) - 2 and any("/p" in path for path in frozen)
    for w in model.weights:
        if w.path in frozen:
            np.testing.assert_array_equal(w.numpy(), frozen[w.path], err_msg=w.path)
    assert model.pool.p.trainable and not model.backbone.trainable


KERNEL = np.array([[3.0, 0.2, 0.0, -1.0], [4.0, 0.1, 0.0, 2.0], [0.0, -0.3, 0.0, 2.0]])  # column norms 5, ~.37, 0, 3
BIAS = np.array([0.5, -0.25, 0.1, 1.0])


def reference_normalized(kernel, tau):
    """Column by column in float64, a zero column left alone."""
    out = np.array(kernel, np.float64)
    for j in range(out.shape[1]):
        norm = np.sqrt(np.sum(out[:, j] ** 2))
        if norm > 0:
            out[:, j] /= norm**tau
    return out


@pytest.mark.parametrize("tau", [0.0, 0.3, 1.0, 1.7])
def test_tau_normalize_against_numpy(tau):
    model = linear_model(KERNEL, BIAS)
    decoupling.tau_normalize(model, tau)
    head = model.get_layer("logits")
    np.testing.assert_allclose(head.kernel.numpy(), reference_normalized(KERNEL, tau), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(head.bias.numpy(), np.zeros(4))  # the reference code drops the bias


def test_tau_zero_keeps_the_kernel_and_tau_one_makes_unit_columns():
    model = linear_model(KERNEL, BIAS)
    decoupling.tau_normalize(model, 0, keep_bias=True)
    np.testing.assert_array_equal(model.get_layer("logits").kernel.numpy(), KERNEL.astype(np.float32))
    np.testing.assert_array_equal(model.get_layer("logits").bias.numpy(), BIAS.astype(np.float32))
    decoupling.tau_normalize(model, 1.0, keep_bias=True)
    norms = np.linalg.norm(model.get_layer("logits").kernel.numpy(), axis=0)
    np.testing.assert_allclose(norms, [1, 1, 0, 1], rtol=1e-6)
    np.testing.assert_array_equal(model.get_layer("logits").bias.numpy(), BIAS.astype(np.float32))


@pytest.mark.parametrize("keep_bias", [False, True])
def test_choose_tau_matches_tau_normalized_models_and_leaves_the_model_alone(keep_bias):
    rng = np.random.default_rng(1)
    x = rng.normal(0.0, 1.0, (300, 3)).astype(np.float32)
    y = rng.integers(0, 4, 300)
    model = linear_model(KERNEL, BIAS)
    before = [w.copy() for w in model.get_weights()]
    taus = (0.0, 0.25, 0.5, 1.0, 1.5)

    best, accuracies = decoupling.choose_tau(model, (x, y), taus, keep_bias=keep_bias, batch_size=64)

    for w, w_before in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, w_before)
    expected = {}
    for tau in taus:  # the other road: normalise a copy, then run it
        copy = linear_model(KERNEL, BIAS, name="copy")
        decoupling.tau_normalize(copy, tau, keep_bias=keep_bias)
        expected[tau] = float(np.mean(np.argmax(copy(x, training=False), -1) == y))
    assert accuracies == pytest.approx(expected, abs=1e-12)
    assert len(set(expected.values())) > 1  # the taus differ, so picking the best means something
    assert best == max(taus, key=expected.__getitem__)
    one_hot = tf.data.Dataset.from_tensor_slices((x, np.eye(4, dtype=np.float32)[y])).batch(50)
    assert decoupling.choose_tau(model, one_hot, taus, keep_bias=keep_bias) == (best, accuracies)


def test_bad_input():
    model = linear_model(KERNEL, BIAS)
    for tau in (-0.1, float("nan"), float("inf"), True):
        with pytest.raises(ValueError, match="tau"):
            decoupling.tau_normalize(model, tau)
    with pytest.raises(ValueError, match="taus"):
        decoupling.choose_tau(model, (np.zeros((2, 3)), [0, 1]), taus=[])
    with pytest.raises(ValueError, match="taus"):
        decoupling.choose_tau(model, (np.zeros((2, 3)), [0, 1]), taus=[0.5, -1])
    pairs = tf.data.Dataset.from_tensor_slices((np.zeros((4, 3), np.float32), np.arange(4)))
    with pytest.raises(ValueError, match="strategy"):
        decoupling.retrain_classifier(model, pairs, 4, epochs=1, strategy="balanced")
    with pytest.raises(ValueError, match="num_classes"):
        decoupling.retrain_classifier(model, pairs, 5, epochs=1)
    with pytest.raises(ValueError, match=r"class\(es\) \[3\]"):
        decoupling.retrain_classifier(model, pairs.take(3), 4, epochs=1)
    with pytest.raises(ValueError, match="augment"):
        decoupling.retrain_classifier(model, pairs, 4, epochs=1, augment=[keras.layers.Dense(2)])

    inputs = keras.Input(SHAPE)
    pooled = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs))
    softmax = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inputs)))
    for no_head in (pooled, softmax):
        with pytest.raises(ValueError, match="model"):
            decoupling.classifier_head(no_head)
    sequence = keras.Input((5, 3))
    per_step = keras.Model(sequence, keras.layers.Dense(2)(sequence))
    with pytest.raises(ValueError, match="2-D"):
        decoupling.feature_extractor(per_step)


class HeadOnly(keras.Model):
    def __init__(self):
        super().__init__()
        self.head = keras.layers.Dense(2)

    def call(self, inputs):
        return self.head(inputs)


def test_a_subclassed_model_needs_a_features_method():
    model = HeadOnly()
    model(np.zeros((1, 3), np.float32))
    assert decoupling.classifier_head(model) is model.head
    with pytest.raises(ValueError, match="features"):
        decoupling.feature_extractor(model)
