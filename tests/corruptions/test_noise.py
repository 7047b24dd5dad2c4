"""Noise corruptions against `imagecorruptions` by statistics at fixed seeds, and their batch behaviour.

The noise is random, so the comparison is statistical:
- on mid-gray images (away from clipping) the unclipped residual has the reference's law: variance `c^2`
  (Gaussian), `x / c` (shot), `c^2 x^2` (speckle), within five standard errors; the impulse fraction is
  `amount`, half salt and half pepper (binomial tests at p > 0.001);
- on photos, the mean absolute change of the uint8 result per severity is within 3% of the reference's
  (6% for impulse noise, whose few replaced values make the mean noisier);
- the noise is uncorrelated between neighbouring pixels, channels and images (|r| < 5 / sqrt(n)).
Batch behaviour: every severity runs on gray and RGB images, severities are per image, a seed gives the same
noise and another seed other noise, and `jit_compile` gives the eager result (within 1e-5).
Every test uses fixed seeds (NumPy's global seed for the reference), so the suite is deterministic.
"""

import imagecorruptions
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from tfaug.corruptions import corrupt
from tfaug.corruptions import noise

NAMES = ("gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise")
SEVERITIES = np.arange(1, 6)
SHAPE = (5, 64, 96, 3)
P_MIN = 1e-3


def seed(a, b=0):
    return tf.constant([a, b], tf.int64)


@pytest.fixture(scope="module")
def photos(five_photos):
    return five_photos


def gray_residuals(name):
    """The unclipped noise of `name` on mid-gray (0.5) images, one image per severity 1..5, `[5, n]`."""
    images = tf.fill(SHAPE, 0.5)
    out = getattr(noise, name)(images, tf.constant(SEVERITIES, tf.int32), seed(1), "imagenet")
    return out.numpy().reshape(5, -1).astype(np.float64) - 0.5


@pytest.mark.parametrize("name", ["gaussian_noise", "shot_noise", "speckle_noise"])
def test_residual_variance_on_mid_gray_is_the_references(name):
    residual = gray_residuals(name)
    n = residual.shape[1]
    if name == "gaussian_noise":
        variance = np.square(noise.GAUSSIAN_STDDEVS["imagenet"])
    elif name == "shot_noise":
        variance = 0.5 / np.asarray(noise.SHOT_PHOTONS["imagenet"], np.float64)
    else:
        variance = np.square(noise.SPECKLE_STDDEVS["imagenet"]) * 0.25
    assert np.all(np.abs(residual.mean(axis=1)) <= 5 * np.sqrt(variance / n))
    # Shot noise is lattice-valued (multiples of 1 / c) and skewed; its variance's standard error includes
    # the fourth moment, estimated from the draws.
    standard_error = np.std(np.square(residual - residual.mean(axis=1, keepdims=True)), axis=1) / np.sqrt(n)
    np.testing.assert_array_less(np.abs(residual.var(axis=1) - variance), 5 * standard_error)


def test_shot_noise_is_poisson_counts_and_black_stays_black():
    photons = np.asarray(noise.SHOT_PHOTONS["imagenet"], np.float64)[:, None]
    counts = (gray_residuals("shot_noise") + 0.5) * photons
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-3)
    black = noise.shot_noise(tf.zeros(SHAPE[:3] + (1,)), tf.constant(SEVERITIES, tf.int32), seed(2), "imagenet")
    assert np.all(black.numpy() == 0.0)


def test_impulse_fraction_salt_and_pepper():
    out = gray_residuals("impulse_noise") + 0.5
    n = out.shape[1]
    for amount, values in zip(noise.IMPULSE_AMOUNTS["imagenet"], out):
        salt, pepper = int(np.sum(values == 1.0)), int(np.sum(values == 0.0))
        assert salt + pepper + int(np.sum(values == 0.5)) == n
        assert stats.binomtest(salt + pepper, n, amount).pvalue > P_MIN
        assert stats.binomtest(salt, salt + pepper, 0.5).pvalue > P_MIN


@pytest.mark.parametrize("name", NAMES)
def test_mean_change_on_photos_matches_the_reference(photos, name):
    ours = corrupt(photos, name, SEVERITIES, seed=3, table="imagenet").numpy()
    ours = np.abs(ours.astype(np.float64) - photos).reshape(5, -1).mean(axis=1)
    np.random.seed(0)
    draws = 8 if name == "impulse_noise" else 2
    reference = [
        np.mean(
            [
                np.abs(
                    imagecorruptions.corrupt(image, corruption_name=name, severity=int(s)).astype(np.float64) - image
                ).mean()
                for _ in range(draws)
            ]
        )
        for image, s in zip(photos, SEVERITIES)
    ]
    tolerance = 0.06 if name == "impulse_noise" else 0.03
    np.testing.assert_allclose(ours, reference, rtol=tolerance)


@pytest.mark.parametrize("name", NAMES)
def test_noise_is_independent_per_image_channel_and_pixel(name):
    residual = getattr(noise, name)(tf.fill(SHAPE, 0.5), tf.fill([5], 5), seed(4), "imagenet").numpy() - 0.5
    pairs = {
        "images": (residual[:-1], residual[1:]),
        "channels": (residual[..., :-1], residual[..., 1:]),
        "rows": (residual[:, :-1], residual[:, 1:]),
        "columns": (residual[:, :, :-1], residual[:, :, 1:]),
    }
    for what, (a, b) in pairs.items():
        r = np.corrcoef(a.ravel(), b.ravel())[0, 1]
        assert abs(r) < 5 / np.sqrt(a.size), (what, r)


@pytest.mark.parametrize("name", NAMES)
def test_every_severity_for_gray_and_rgb_and_severity_per_image(photos, name, severity_per_image):
    for images in (photos, photos[..., :1]):
        out = corrupt(images, name, SEVERITIES, seed=5, table="imagenet").numpy()
        assert out.shape == images.shape and out.dtype == np.uint8
        assert np.all(np.mean(out != images, axis=(1, 2, 3)) > 0.01)
    severity_per_image(name, photos)


def test_seeds_and_xla(photos):
    images = tf.constant(photos, tf.float32) / 255.0

    def run(s):
        return [corrupt(images, name, [1, 2, 3, 4, 5], seed=s, value_range=(0, 1), table="cifar") for name in NAMES]

    first = [out.numpy() for out in run(seed(7))]
    compiled = [out.numpy() for out in tf.function(run, jit_compile=True)(seed(7))]
    for name, a, b, c, d in zip(NAMES, first, run(seed(7)), run(seed(8)), compiled):
        np.testing.assert_array_equal(b.numpy(), a, err_msg=name)
        assert not np.array_equal(c.numpy(), a), name
        np.testing.assert_allclose(d, a, atol=1e-5, err_msg=name)
