"""GaussianNoise: the sigma distribution (KS), normal noise (KS), clipping and rounding, value ranges, errors."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from tfaug.layers import GaussianNoise

SEED = tf.constant([3, 7], tf.int64)


def test_sigma_is_uniform_in_the_range_and_the_noise_is_standard_normal():
    images = np.full([300, 8, 8, 1], 0.5, np.float64)  # far from the borders: nothing is clipped
    layer = GaussianNoise(stddev=(0.02, 0.06), value_range=(0, 1))
    t = layer.get_random_transformation({"images": images}, SEED)
    sigma = t["stddev"].numpy()
    assert stats.kstest(sigma, stats.uniform(0.02, 0.04).cdf).pvalue > 1e-3
    out = layer.augment(images, seed=SEED).numpy()
    z = (out - images) / sigma[:, None, None, None]
    np.testing.assert_allclose(z, t["noise"].numpy(), atol=1e-4)  # the injected-parameter formula
    assert stats.kstest(z.ravel(), "norm").pvalue > 1e-3
    # The per-image spread follows its sigma.
    np.testing.assert_allclose((out - images).std(axis=(1, 2, 3)) / sigma, 1.0, atol=0.35)


def test_a_number_is_an_exact_sigma_in_units_of_the_value_range():
    images = np.zeros([4, 16, 16, 3], np.float32)
    for value_range, scale in (((0, 255), 255.0), ((-1, 1), 2.0)):
        layer = GaussianNoise(stddev=0.1, value_range=value_range)
        sigma = layer.get_random_transformation({"images": images}, SEED)["stddev"].numpy()
        np.testing.assert_allclose(sigma, 0.1 * scale, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.int32])
def test_clipped_to_the_range_and_integers_rounded(small_photos, dtype):
    images = small_photos.astype(dtype)
    images[:, :4] = 0
    images[:, -4:] = 255
    layer = GaussianNoise(stddev=0.2)
    t = layer.get_random_transformation({"images": images}, SEED)
    out = layer.augment(images, seed=SEED).numpy()
    assert out.dtype == dtype and out.min() >= 0 and out.max() <= 255
    # float32 arithmetic, as the layer's (every dtype but float64 is computed in float32).
    noise = t["stddev"].numpy()[:, None, None, None] * t["noise"].numpy()
    exact = np.clip(images.astype(np.float32) + noise, 0, 255)
    if np.issubdtype(dtype, np.integer):
        exact = np.round(exact)
    np.testing.assert_allclose(out, exact, atol=1e-3)
    # About half of the pixels at a border are pushed out and clipped back onto it.
    assert 0.4 < np.mean(out[:, :4] == 0) < 0.6 and 0.4 < np.mean(out[:, -4:] == 255) < 0.6


def test_bad_arguments_are_refused_by_name():
    for value in (-0.1, 1.5, (0.2, 0.1), (-0.1, 0.1), (0.0, 2.0), float("nan"), "0.1", None, (0.1,)):
        with pytest.raises(ValueError, match="`stddev`"):
            GaussianNoise(stddev=value)
