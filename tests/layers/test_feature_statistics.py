"""MixStyle and DSU as layers inside a model: identity outside training, dtypes, every execution mode,
serialisation, an XLA-compiled train step, and argument checks."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfaug.layers import DSU
from tfaug.layers import MixStyle

LAYERS = pytest.mark.parametrize("cls", [MixStyle, DSU], ids=["MixStyle", "DSU"])
SEED = tf.constant([1, 3], tf.int64)


@pytest.fixture(scope="module")
def x():
    rng = np.random.default_rng(0)
    return (rng.normal(size=(4, 6, 7, 5)) * rng.uniform(0.5, 2, size=(4, 1, 1, 5))).astype(np.float32)


@LAYERS
def test_identity_outside_training_and_with_probability_zero(cls, x):
    layer = cls(probability=1.0, seed=0)
    for out in (layer(x), layer(x, training=False), cls(probability=0.0, seed=0)(x, training=True)):
        np.testing.assert_array_equal(out.numpy(), x)
    assert not np.allclose(layer(x, training=True).numpy(), x)


@LAYERS
def test_model_predict_is_the_identity(cls, x):
    inputs = keras.Input(x.shape[1:])
    model = keras.Model(inputs, cls(probability=1.0, seed=0)(inputs))
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)


@LAYERS
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
def test_dtypes(cls, x, dtype):
    layer = cls(probability=1.0, seed=0, dtype=dtype)
    out = layer.augment(tf.cast(x, dtype), seed=SEED)
    assert out.dtype == dtype
    reference = cls(probability=1.0).augment(tf.cast(tf.cast(x, dtype), tf.float32), seed=SEED)
    np.testing.assert_allclose(tf.cast(out, tf.float32).numpy(), reference.numpy(), rtol=2e-2, atol=5e-2)


@LAYERS
def test_same_output_eagerly_in_tf_function_and_under_xla(cls, x):
    layer = cls(probability=0.5, seed=0)
    eager = layer.augment(x, seed=SEED).numpy()
    assert not np.array_equal(eager, x)
    for jit in (False, True):
        out = tf.function(lambda value: layer.augment(value, seed=SEED), jit_compile=jit)(x)
        np.testing.assert_allclose(out.numpy(), eager, rtol=1e-5, atol=1e-5)


@LAYERS
def test_seeded_calls_repeat(cls, x):
    a, b = cls(seed=7), cls(seed=7)
    first = [a(x, training=True).numpy() for _ in range(3)]
    second = [b(x, training=True).numpy() for _ in range(3)]
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first[0], first[1])


@LAYERS
def test_config_round_trip_and_keras_file(cls, x, tmp_path):
    layer = cls(probability=0.7, epsilon=1e-5, batchwise=True, seed=3, name="styled")
    config = layer.get_config()
    assert {"probability", "epsilon", "batchwise", "seed"} <= set(config)
    assert cls.from_config(config).get_config() == config
    inputs = keras.Input(x.shape[1:])
    outputs = keras.layers.Conv2D(2, 1)(layer(keras.layers.Conv2D(3, 1)(inputs)))
    model = keras.Model(inputs, outputs)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    restored = loaded.get_layer("styled")
    assert type(restored) is cls and restored.get_config() == config
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    np.testing.assert_array_equal(restored.augment(x, seed=SEED).numpy(), layer.augment(x, seed=SEED).numpy())


def test_xla_compiled_train_step_with_both_layers(x):
    inputs = keras.Input(x.shape[1:])
    hidden = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    hidden = MixStyle(probability=1.0, seed=0)(hidden)
    hidden = DSU(probability=1.0, seed=1)(keras.layers.Conv2D(4, 3, padding="same")(hidden))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(hidden)))
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    history = model.fit(x, np.zeros((4, 2), np.float32), batch_size=4, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))


@LAYERS
@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"probability": -0.1}, "probability"),
        ({"probability": 1.5}, "probability"),
        ({"probability": float("nan")}, "probability"),
        ({"epsilon": 0.0}, "epsilon"),
        ({"batchwise": 1}, "batchwise"),
    ],
)
def test_bad_arguments_are_refused_by_name(cls, kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        cls(**kwargs)


@LAYERS
def test_inputs_must_be_4d_float_feature_maps(cls, x):
    with pytest.raises(ValueError, match="`inputs`.*\\[batch, height, width, channels\\]"):
        cls()(x[0], training=True)
    with pytest.raises(TypeError, match="float feature maps `inputs`"):
        cls()(tf.zeros([2, 3, 3, 1], tf.int32), training=True)
