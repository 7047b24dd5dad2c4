"""RandConv: per-image random convolutions against a numpy reference, and the draws' distributions."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from tfaug.layers import RandConv

P_MIN = 1e-3
SEED = tf.constant([3, 7], tf.int64)


def reference(images, transformation, value_range):
    """Explicit per-image cross-correlation of `x - c` ('same' zero padding), mixed, clipped: float64."""
    low, high = value_range
    centre = (low + high) / 2.0
    x = images.astype(np.float64)
    kernels = transformation["kernels"].numpy().astype(np.float64)
    alpha = transformation["alpha"].numpy().astype(np.float64)
    apply = transformation["apply"].numpy()
    batch, height, width, channels = x.shape
    out = x.copy()
    for b in range(batch):
        k = int(transformation["kernel_size"][b])
        half = k // 2
        size = kernels.shape[1]
        kernel = kernels[b, size // 2 - half : size // 2 + half + 1, size // 2 - half : size // 2 + half + 1]
        padded = np.pad(x[b] - centre, ((half, half), (half, half), (0, 0)))
        filtered = np.zeros((height, width, channels))
        for dy in range(k):
            for dx in range(k):
                filtered += padded[dy : dy + height, dx : dx + width] @ kernel[dy, dx]
        mixed = alpha[b] * (centre + filtered) + (1 - alpha[b]) * x[b]
        if apply[b]:
            out[b] = np.clip(mixed, low, high)
    return out


@pytest.mark.parametrize("dtype, value_range", [(np.float32, (0.0, 1.0)), (np.uint8, (0, 255))])
def test_output_is_the_per_image_convolution(small_photos, dtype, value_range):
    images = small_photos.astype(dtype) / (255 if dtype == np.float32 else 1)
    images = images.astype(dtype)
    layer = RandConv(kernel_sizes=(1, 3, 5, 7), value_range=value_range, seed=0)
    transformation = layer.get_random_transformation({"images": tf.constant(images)}, SEED)
    out = layer.transform_images(tf.constant(images), transformation).numpy()
    assert out.dtype == dtype
    # The layer's own path draws and applies exactly this.
    np.testing.assert_array_equal(layer.augment(images, seed=SEED).numpy(), out)
    expected = reference(images, transformation, value_range)
    assert len(set(transformation["kernel_size"].numpy())) > 1  # the batch mixes kernel sizes
    if dtype == np.float32:
        np.testing.assert_allclose(out, expected, atol=2e-6)
    else:
        assert np.abs(out.astype(np.float64) - expected).max() <= 0.5 + 1e-3


def test_draws_follow_the_paper():
    layer = RandConv(kernel_sizes=(1, 3, 5, 7), probability=0.5, seed=0)
    channels, n = 3, 4000
    t = layer.get_random_transformation({"images": tf.zeros([n, 1, 1, channels])}, SEED)
    sizes, kernels = t["kernel_size"].numpy(), t["kernels"].numpy()
    # Kernel sides uniform over the choices.
    counts = [np.sum(sizes == k) for k in (1, 3, 5, 7)]
    assert sum(counts) == n and stats.chisquare(counts).pvalue > P_MIN
    # Kaiming normal per side: N(0, 1 / (k^2 C)) inside the centred k x k window, zero outside.
    offsets = np.abs(np.arange(7) - 3)
    for k in (1, 3, 5, 7):
        inside = (offsets[:, None] <= k // 2) & (offsets[None, :] <= k // 2)
        chosen = kernels[sizes == k]
        assert np.all(chosen[:, ~inside] == 0)
        weights = chosen[:, inside].ravel() * k * np.sqrt(channels)
        assert stats.kstest(weights, "norm").pvalue > P_MIN, k
    # Mixing weights U(0, 1); the coin is fair.
    assert stats.kstest(t["alpha"].numpy(), "uniform").pvalue > P_MIN
    assert stats.binomtest(int(t["apply"].numpy().sum()), n, 0.5).pvalue > P_MIN


def test_mixing_is_exact_for_a_hand_written_kernel():
    images = np.random.default_rng(0).uniform(0.2, 0.8, size=(2, 5, 6, 3)).astype(np.float32)
    kernels = np.zeros((2, 3, 3, 3, 3), np.float32)
    kernels[0, 1, 1] = np.eye(3)  # identity: the image itself, whatever alpha
    kernels[1, 1, 1] = 2.0 * np.eye(3)  # doubles the contrast around 0.5
    transformation = {
        "kernel_size": tf.constant([3, 3]),
        "kernels": tf.constant(kernels),
        "alpha": tf.constant([0.3, 0.25]),
        "apply": tf.constant([True, True]),
    }
    out = RandConv(value_range=(0, 1)).transform_images(tf.constant(images), transformation).numpy()
    np.testing.assert_allclose(out[0], images[0], atol=1e-7)
    expected = np.clip(0.25 * (0.5 + 2 * (images[1] - 0.5)) + 0.75 * images[1], 0, 1)
    np.testing.assert_allclose(out[1], expected, atol=1e-6)


def test_mix_false_and_probability_zero():
    images = np.random.default_rng(1).uniform(0, 255, size=(4, 6, 6, 3)).astype(np.float32)
    t = RandConv(mix=False, seed=0).get_random_transformation({"images": tf.constant(images)}, SEED)
    np.testing.assert_array_equal(t["alpha"].numpy(), 1.0)
    np.testing.assert_array_equal(RandConv(probability=0.0, seed=0)(images).numpy(), images)


def test_batchwise_draws_one_kernel():
    t = RandConv(batchwise=True, seed=0).get_random_transformation({"images": tf.zeros([5, 4, 4, 3])}, SEED)
    for value in t.values():
        value = value.numpy()
        assert np.all(value == value[:1])


@pytest.mark.parametrize("dtype", [np.uint8, np.float16, np.float64, np.int32])
def test_dtypes_stay_in_value_range(small_photos, dtype):
    out = RandConv(seed=0)(small_photos.astype(dtype)).numpy()
    assert out.dtype == dtype and out.min() >= 0 and out.max() <= 255


def test_same_output_eagerly_in_tf_function_and_under_xla(small_photos):
    images = small_photos.astype(np.float32)
    layer = RandConv(seed=2)
    eager = layer.augment(images, seed=SEED).numpy()
    for jit in (False, True):
        compiled = tf.function(lambda x: layer.augment(x, seed=SEED), jit_compile=jit)(images)
        np.testing.assert_allclose(compiled.numpy(), eager, atol=1e-3)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"kernel_sizes": ()}, "kernel_sizes"),
        ({"kernel_sizes": (2, 3)}, "kernel_sizes"),
        ({"kernel_sizes": (3, 3)}, "kernel_sizes"),
        ({"kernel_sizes": (33,)}, "kernel_sizes"),
        ({"kernel_sizes": 3}, "kernel_sizes"),
        ({"mix": 1}, "mix"),
        ({"probability": 1.5}, "probability"),
    ],
)
def test_bad_arguments_are_refused_by_name(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        RandConv(**kwargs)
