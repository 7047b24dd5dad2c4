"""`tfaug.corruptions`: the registry and `corrupt`'s contract for every corruption (each module's own tests
compare it with the reference package)."""

import numpy as np
import pytest
import tensorflow as tf

from tfaug import corruptions as tc

NAMES = list(tc.CORRUPTIONS)


@pytest.fixture(scope="module")
def batch(small_photos):
    """Two photos `[2, 32, 40, 3]` uint8 (the 24 x 40 ones padded to 32 rows by reflection)."""
    return np.pad(small_photos[:2], [(0, 0), (4, 4), (0, 0), (0, 0)], mode="reflect")


def test_the_benchmark_and_its_groups():
    assert len(tc.COMMON) == 15 and len(tc.HELD_OUT) == 4 and set(tc.COMMON) | set(tc.HELD_OUT) == set(NAMES)
    assert tc.HELD_OUT == ("speckle_noise", "gaussian_blur", "spatter", "saturate")
    grouped = [name for group in tc.GROUPS.values() for name in group]
    assert sorted(grouped) == sorted(tc.COMMON) and len(grouped) == 15


@pytest.mark.parametrize(
    "height, width, table",
    [
        (8, 8, "cifar"),
        (48, 200, "cifar"),
        (49, 64, "tiny_imagenet"),
        (128, 129, "tiny_imagenet"),
        (129, 500, "imagenet"),
    ],
)
def test_size_classes(height, width, table):
    assert tc.table_for(height, width) == table


@pytest.mark.parametrize("name", NAMES)
def test_every_corruption_keeps_shape_dtype_and_range(batch, name):
    severity = [1, 5]
    out = tc.corrupt(batch, name, severity, seed=0).numpy()
    assert out.shape == batch.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - batch).mean() > 0.5  # severity 5 changes the second photo
    unit = tc.corrupt(batch.astype(np.float32) / 255, name, severity, seed=0, value_range=(0, 1)).numpy()
    assert unit.dtype == np.float32 and unit.min() >= 0.0 and unit.max() <= 1.0
    # Same result whatever the dtype and range (the uint8 output is the rounded float one).
    assert np.abs(unit * 255 - out).max() <= 1.0 + 1e-3
    gray = tc.corrupt(batch[..., :1], name, 3, seed=0)
    assert gray.shape == (2, 32, 40, 1)
    single = tc.corrupt(batch[0], name, 3, seed=0)
    assert single.shape == batch.shape[1:]


def test_float64_and_signed_images_keep_their_dtype(batch):
    out = tc.corrupt(batch.astype(np.float64) - 128, "gaussian_noise", 2, seed=0, value_range=(-128, 127))
    assert out.dtype == tf.float64 and out.numpy().min() >= -128 and out.numpy().max() <= 127
    out = tc.corrupt(batch.astype(np.int16), "contrast", 2, seed=0)
    assert out.dtype == tf.int16


def test_same_seed_same_output_other_seed_other_output(batch):
    first = tc.corrupt(batch, "shot_noise", 3, seed=1)
    assert np.array_equal(first, tc.corrupt(batch, "shot_noise", 3, seed=1))
    assert not np.array_equal(first, tc.corrupt(batch, "shot_noise", 3, seed=2))
    seed = tf.constant([1, 0], tf.int64)
    assert np.array_equal(first, tc.corrupt(batch, "shot_noise", 3, seed=seed))


@pytest.mark.slow
def test_every_corruption_runs_in_tf_data(batch):
    """All nineteen as branches of one graph in a `tf.data` map, equal to the eager results."""
    severity = tf.constant([2, 4])
    seed = tf.constant([3, 4], tf.int64)

    def corrupt(k):
        branches = [
            lambda name=name: tc.apply(tf.constant(batch), name, severity, seed, "auto", (0.0, 255.0)) for name in NAMES
        ]
        return tf.switch_case(k, branches)

    graph = list(tf.data.Dataset.range(len(NAMES)).map(lambda k: corrupt(tf.cast(k, tf.int32))).as_numpy_iterator())
    for name, out in zip(NAMES, graph):
        eager = tc.apply(tf.constant(batch), name, severity, seed, "auto", (0.0, 255.0)).numpy()
        assert np.abs(out.astype(int) - eager).max() <= 1, name


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_every_corruption_compiles_under_xla_to_the_eager_result(batch, name):
    severity = tf.constant([1, 5])
    seed = tf.constant([5, 6], tf.int64)
    images = tf.constant(batch.astype(np.float32))
    compiled = tf.function(lambda x, s: tc.apply(x, name, severity, s, "auto", (0.0, 255.0)), jit_compile=True)
    eager = tc.apply(images, name, severity, seed, "auto", (0.0, 255.0))
    # Glass blur truncates to uint8 levels between its two blurs (as the reference does): a float difference
    # in the last bit can move a pixel one level there.
    tolerance = 1.0 if name == "glass_blur" else 0.05
    assert np.abs(compiled(images, seed).numpy() - eager.numpy()).max() <= tolerance


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(corruption="smog"), ValueError, r"`corruption` must be one of \['gaussian_noise'"),
        (dict(severity=0), ValueError, r"`severity` must be an int in 1..5"),
        (dict(severity=6), ValueError, r"`severity` must be an int in 1..5"),
        (dict(severity=2.5), ValueError, r"`severity` must be an int in 1..5"),
        (dict(severity=[1, 6]), ValueError, r"`severity` must be an int in 1..5"),
        (dict(severity=tf.constant([1.0, 2.0])), ValueError, r"`severity` must be an integer tensor"),
        (dict(table="huge"), ValueError, r"`table` must be one of"),
        (dict(value_range=(1, 0)), ValueError, r"`value_range` must satisfy min < max"),
        (dict(seed="x"), TypeError, r"`seed` must be an int"),
        (dict(images=np.zeros((2, 7, 40, 3), np.uint8)), ValueError, r"at least 8 x 8 pixels, got 7 x 40"),
        (dict(images=np.zeros((2, 32, 40, 2), np.uint8)), ValueError, r"1 \(gray\) or 3 \(RGB\) channels"),
        (dict(images=np.zeros((32, 40), np.uint8)), ValueError, r"shape \[batch, height, width, channels\]"),
    ],
)
def test_bad_arguments_are_named(batch, kwargs, error, message):
    arguments = dict(images=batch, corruption="fog", severity=3, seed=0)
    arguments.update(kwargs)
    with pytest.raises(error, match=message):
        tc.corrupt(**arguments)


def test_images_of_unknown_size_and_run_time_severities_are_refused():
    dynamic = tf.function(
        lambda x: tc.corrupt(x, "fog", 3, seed=0), input_signature=[tf.TensorSpec([2, None, None, 3], tf.uint8)]
    )
    with pytest.raises(ValueError, match="static height and width"):
        dynamic.get_concrete_function()
    traced = tf.function(lambda s: tc.corrupt(np.zeros((2, 8, 8, 1), np.uint8), "contrast", s, seed=0))
    with pytest.raises(tf.errors.InvalidArgumentError, match="`severity` must lie in 1..5"):
        traced(tf.constant([1, 7]))
