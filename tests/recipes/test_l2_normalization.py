"""Tests of L2Normalization: float64 references, zero vectors, half precision, compiled agreement, saving."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from recipes.layers import L2Normalization


def reference(x, axis=-1, epsilon=1e-12):
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.sqrt(np.sum(x**2, axis=axis, keepdims=True)), epsilon)


@pytest.fixture
def vectors(rng):
    x = rng.normal(size=(5, 6)) * rng.uniform(0.01, 100.0, size=(5, 1))
    x[3] = 0.0
    return x


def test_matches_a_float64_reference_with_unit_norms(vectors, rng):
    np.testing.assert_allclose(L2Normalization(dtype="float64")(vectors), reference(vectors), rtol=1e-14)
    single = L2Normalization()(vectors.astype("float32")).numpy()
    np.testing.assert_allclose(single, reference(vectors), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.linalg.norm(single, axis=-1), [1, 1, 1, 0, 1], rtol=1e-6)
    maps = rng.normal(size=(2, 3, 4, 5))
    np.testing.assert_allclose(
        L2Normalization(axis=[1, 2], dtype="float64")(maps), reference(maps, axis=(1, 2)), rtol=1e-14
    )


def test_zero_and_tiny_vectors_stay_finite_with_finite_gradients():
    x = tf.constant([[0.0, 0.0, 0.0], [1e-3, 0.0, 0.0], [3.0, 4.0, 0.0]])
    layer = L2Normalization(epsilon=1e-2)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        value = tf.reduce_sum(y * [1.0, 2.0, 3.0])
    grad = tape.gradient(value, x).numpy()
    # Below epsilon the vector is divided by epsilon (zeros stay zeros): the layer is x / epsilon there.
    np.testing.assert_allclose(y, [[0, 0, 0], [0.1, 0, 0], [0.6, 0.8, 0]], rtol=1e-6)
    np.testing.assert_allclose(grad[:2], [[100, 200, 300]] * 2, rtol=1e-5)
    # Above it: the Jacobian of x / ||x|| is (I - u u^T) / ||x|| with u the unit vector.
    u = np.array([0.6, 0.8, 0.0])
    np.testing.assert_allclose(grad[2], (np.eye(3) - np.outer(u, u)) @ [1.0, 2.0, 3.0] / 5.0, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("policy, rtol", [("mixed_float16", 2**-11), ("mixed_bfloat16", 2**-8)])
def test_half_precision_inputs_are_computed_in_float32(policy, rtol):
    # In float16 the sum of squares of (300, 400) overflows and 0 ** 2 has no inverse square root.
    x = np.array([[300.0, 400.0, 0.0], [0.0, 0.0, 0.0], [1e-3, 2e-3, 2e-3]], np.float32)
    layer = L2Normalization(dtype=policy)
    y = layer(x)
    assert y.dtype == layer.compute_dtype
    np.testing.assert_allclose(tf.cast(y, tf.float32), reference(x), rtol=rtol, atol=1e-6)


def test_eager_tf_function_and_xla_agree(vectors):
    layer = L2Normalization()
    x = tf.constant(vectors, tf.float32)
    eager = layer(x)
    for jit_compile in (False, True):
        np.testing.assert_allclose(tf.function(layer, jit_compile=jit_compile)(x), eager, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(axis=1.5), "`axis`"),
        (dict(axis=[]), "`axis`"),
        (dict(epsilon=0.0), "`epsilon`"),
        (dict(epsilon=-1), "`epsilon`"),
    ],
)
def test_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        L2Normalization(**kwargs)


def test_rejects_an_axis_outside_the_inputs():
    with pytest.raises(ValueError, match="`axis`"):
        L2Normalization(axis=2)(np.ones((2, 3), "float32"))


def test_config_round_trip_and_keras_save_and_load(tmp_path, vectors):
    layer = L2Normalization(axis=[1, 2], epsilon=1e-6)
    config = layer.get_config()
    assert L2Normalization.from_config(config).get_config() == config
    inputs = keras.Input((6,))
    model = keras.Model(inputs, L2Normalization(epsilon=1e-6)(keras.layers.Dense(3)(inputs)))
    path = str(tmp_path / "l2.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.layers[-1].get_config()["epsilon"] == 1e-6
    np.testing.assert_array_equal(loaded.predict(vectors, verbose=0), model.predict(vectors, verbose=0))
