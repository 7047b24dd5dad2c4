"""Tests of GeM pooling: float64 references, its limits (average and max pooling), p's training and saving."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from recipes.layers import GeM

EPSILON = 1e-6


def reference(x, p, epsilon=EPSILON):
    """The definition, in float64: (mean over H, W of max(x, epsilon) ** p) ** (1 / p)."""
    x = np.maximum(np.asarray(x, np.float64), epsilon)
    return np.mean(x**p, axis=(1, 2)) ** (1.0 / p)


@pytest.fixture
def features(rng):
    """Odd batch, non-square 5x7 maps, some values negative or zero (clamped), like pre-ReLU features."""
    x = rng.uniform(-1.0, 4.0, size=(3, 5, 7, 4))
    x[0, :, :, 1] = -rng.uniform(0, 1, size=(5, 7))  # a channel with nothing above epsilon
    x[1, 0, 0, 2] = 0.0
    return x


def test_matches_a_float64_reference_and_clamps_negatives_and_zeros_to_epsilon(features):
    for p in (3.0, 2.5, 0.5):
        exact = GeM(p=p, dtype="float64")(features)
        np.testing.assert_allclose(exact, reference(features, p), rtol=1e-12)
        single = GeM(p=p)(features.astype("float32"))
        assert single.dtype == tf.float32 and single.shape == (3, 4)
        np.testing.assert_allclose(single, reference(features, p), rtol=2e-6)
    pooled = GeM(dtype="float64")(features).numpy()
    assert pooled[0, 1] == pytest.approx(EPSILON, rel=1e-12)  # every input <= 0: the mean of epsilon ** p
    # Negatives and zeros count as epsilon, not as themselves (mean of cubes of the raw values differs).
    assert not np.allclose(pooled, np.abs(np.mean(features**3, axis=(1, 2))) ** (1 / 3))
    keep = GeM(keepdims=True, dtype="float64")(features)
    np.testing.assert_allclose(keep[:, 0, 0, :], pooled, rtol=1e-15)


def test_p_one_is_global_average_pooling_and_large_p_approaches_the_max(rng):
    x = rng.uniform(0.1, 5.0, size=(3, 5, 7, 4)).astype("float32")
    np.testing.assert_allclose(GeM(p=1.0)(x), keras.layers.GlobalAveragePooling2D()(x), rtol=1e-6)
    maxima = x.max(axis=(1, 2))
    previous = GeM(p=1.0)(x).numpy()
    for p in (2.0, 3.0, 10.0, 100.0, 1000.0):  # 5 ** 100 overflows float32: the naive formula gives inf here
        pooled = GeM(p=p)(x).numpy()
        assert np.all(np.isfinite(pooled))
        assert np.all(pooled >= previous * (1 - 1e-6)), p  # power means grow with p
        # Between the max times (1 / (H W)) ** (1 / p) (only the max counted) and the max.
        assert np.all(pooled <= maxima * (1 + 1e-6)) and np.all(pooled >= maxima * (1 / 35) ** (1 / p) * (1 - 1e-6))
        previous = pooled
    np.testing.assert_allclose(previous, maxima, rtol=4e-3)


def gradients(layer, x, weights):
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = tf.reduce_sum(layer(x) * weights)
    return tape.gradient(value, [x, layer.p])


def test_gradients_match_autodiff_of_the_definition_in_float64(features):
    layer = GeM(p=2.5, dtype="float64")
    weights = np.linspace(-1.0, 2.0, 4)
    grad_x, grad_p = gradients(layer, features, weights)

    x = tf.constant(features)
    p = tf.Variable(2.5, dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        clamped = tf.maximum(x, EPSILON)
        value = tf.reduce_sum(tf.reduce_mean(clamped**p, axis=[1, 2]) ** (1 / p) * weights)
    expected_x, expected_p = tape.gradient(value, [x, p])

    np.testing.assert_allclose(grad_x, expected_x, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(grad_p, expected_p, rtol=1e-10)
    assert float(grad_p) != 0.0


def test_learnable_p_trains_and_a_fixed_p_stays(features):
    x = tf.constant(features, tf.float32)
    target = tf.constant(np.linspace(0.5, 3.0, 4), tf.float32)
    for learnable in (True, False):
        layer = GeM(p=3.0, learnable=learnable)
        layer.build(x.shape)
        assert (layer.trainable_weights == [layer.p]) == learnable
        assert (layer.non_trainable_weights == [layer.p]) != learnable
        optimizer = keras.optimizers.SGD(0.1)
        for _ in range(3):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean((layer(x) - target) ** 2)
            optimizer.apply(tape.gradient(loss, layer.trainable_weights), layer.trainable_weights)
        moved = abs(float(layer.p) - 3.0)
        assert moved > 1e-3 if learnable else moved == 0.0, learnable


@pytest.mark.parametrize("p, floor", [(3.0, 1.0), (0.5, 0.5)])
def test_p_is_kept_at_its_floor_by_the_constraint_and_in_the_call(p, floor, features):
    layer = GeM(p=p)
    x = tf.constant(features, tf.float32)
    with tf.GradientTape() as tape:
        value = tf.reduce_sum(layer(x))  # lowering p lowers the output: the step pushes p far down
    keras.optimizers.SGD(1e6).apply(tape.gradient(value, [layer.p]), [layer.p])
    assert float(layer.p) == floor

    layer.p.assign(-2.0)  # a value set by hand is clamped when used
    np.testing.assert_allclose(layer(x), GeM(p=floor)(x), rtol=1e-6)


def test_eager_tf_function_and_xla_agree(features):
    layer = GeM(p=2.5)
    x = tf.constant(features, tf.float32)
    weights = tf.constant(np.linspace(-1.0, 2.0, 4), tf.float32)
    eager = [layer(x), *gradients(layer, x, weights)]

    def run(x):
        return [layer(x), *gradients(layer, x, weights)]

    for jit_compile in (False, True):
        compiled = tf.function(run, jit_compile=jit_compile)(x)
        for got, want in zip(compiled, eager):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7, err_msg=f"jit_compile={jit_compile}")


@pytest.mark.parametrize("policy, rtol", [("mixed_float16", 2**-11), ("mixed_bfloat16", 2**-8)])
def test_half_precision_inputs_are_computed_in_float32(policy, rtol, rng):
    # Only the result is rounded to the half type (relative error at most 2**-11 or 2**-8); 90 ** 3 is above
    # float16's largest number (65504), where a float16 power of the raw inputs would overflow.
    x = rng.uniform(0.0, 90.0, size=(3, 5, 7, 4)).astype("float32")
    layer = GeM(dtype=policy)
    pooled = layer(x)
    assert pooled.dtype == layer.compute_dtype and layer.p.dtype == "float32"
    np.testing.assert_allclose(tf.cast(pooled, tf.float32), reference(x, 3.0), rtol=rtol)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(p=0), "`p`.*0"),
        (dict(p=-1.0), "`p`"),
        (dict(p=float("nan")), "`p`"),
        (dict(p=float("inf")), "`p`"),
        (dict(p="3"), "`p`"),
        (dict(p=True), "`p`"),
        (dict(epsilon=0.0), "`epsilon`"),
        (dict(epsilon=float("nan")), "`epsilon`"),
        (dict(learnable=1), "`learnable`"),
        (dict(keepdims="yes"), "`keepdims`"),
    ],
)
def test_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GeM(**kwargs)


def test_rejects_inputs_that_are_not_4d():
    with pytest.raises(ValueError, match="4-D"):
        GeM()(np.ones((2, 5, 4), "float32"))


def test_config_round_trip_and_keras_save_and_load(tmp_path, features):
    layer = GeM(p=2.0, learnable=False, epsilon=1e-4, keepdims=True, name="gem")
    config = layer.get_config()
    assert GeM.from_config(config).get_config() == config

    inputs = keras.Input((5, 7, 4))
    pooled = GeM(name="gem")(inputs)
    model = keras.Model(inputs, [pooled, GeM(p=2.0, learnable=False, name="fixed")(inputs)])
    model.get_layer("gem").p.assign(4.25)  # as if learned: the weight, not the config, carries it
    path = str(tmp_path / "gem.keras")
    model.save(path)

    loaded = keras.models.load_model(path)

    gem, fixed = loaded.get_layer("gem"), loaded.get_layer("fixed")
    assert isinstance(gem, GeM) and float(gem.p) == 4.25 and gem.get_config()["p"] == 3.0
    assert gem.trainable_weights == [gem.p] and fixed.trainable_weights == [] and float(fixed.p) == 2.0
    x = features.astype("float32")
    for got, want in zip(loaded.predict(x, verbose=0), model.predict(x, verbose=0)):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(loaded.predict(x, verbose=0)[0], reference(x, 4.25), rtol=2e-6)
