"""Spectral-residual saliency against a NumPy/SciPy reference written from the paper's definition."""

import numpy as np
import pytest
import scipy.ndimage as ndi
import tensorflow as tf
from skimage.transform import resize

from tfaug.ops.saliency import filter_matrix
from tfaug.ops.saliency import resize_matrix
from tfaug.ops.saliency import spectral_residual


def reference(image, size=64, sigma=2.5):
    """Hou and Zhang's steps with numpy.fft and scipy.ndimage (amplitudes floored at 1e-7 of the largest, as
    the kernel's); skimage's order-1 resize has half-pixel centres and clamped edges, as the kernel's."""
    x = image.astype(np.float64)
    gray = x @ np.array([0.299, 0.587, 0.114]) if x.shape[-1] == 3 else x.mean(-1)
    small = resize(gray, (size, size), order=1, mode="edge", anti_aliasing=False)
    spectrum = np.fft.fft2(small)
    amplitude = np.abs(spectrum)
    log_amplitude = np.log(np.maximum(amplitude, 1e-7 * amplitude.max()))
    residual = log_amplitude - ndi.uniform_filter(log_amplitude, 3, mode="mirror")
    saliency = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    saliency = ndi.gaussian_filter(saliency, sigma, mode="mirror", truncate=3.0)
    return resize(saliency / saliency.max(), gray.shape, order=1, mode="edge", anti_aliasing=False)


def test_matches_the_reference_on_photos(photos):
    # The full-size photos (cropped to one size, one batch), downsampled to the working size.
    images = np.stack([image[:300, :448] for image in photos.values()])
    np.testing.assert_allclose(spectral_residual(images).numpy(), [reference(x) for x in images], atol=1e-5)


def test_small_photos_one_channel_and_other_settings(small_photos):
    # Upsampled to the working size; a one-channel batch (the mean of channels) with another size and sigma.
    out = spectral_residual(small_photos).numpy()
    assert out.shape == (4, 24, 40) and out.dtype == np.float32
    np.testing.assert_allclose(out, [reference(image) for image in small_photos], atol=1e-5)
    assert np.all(out >= 0) and np.all(out.max(axis=(1, 2)) <= 1.0)
    gray = small_photos[..., :1]
    expected = [reference(g, 32, 1.0) for g in gray]
    np.testing.assert_allclose(spectral_residual(gray, 32, 1.0).numpy(), expected, atol=1e-5)


def test_peak_on_a_blob_on_a_flat_background():
    # A bright disc on a flat gray field, at several places of a non-square image (on the middle row too,
    # where the image is symmetric and its spectrum has exact zeros): the peak lies on the disc.
    rows, cols = np.mgrid[:48, :80]
    for cy, cx in [(12, 20), (30, 60), (24, 12), (24, 40)]:
        image = np.full((48, 80, 3), 100.0, np.float32)
        image[(rows - cy) ** 2 + (cols - cx) ** 2 <= 16] = 230.0
        peak = np.unravel_index(np.argmax(spectral_residual(image).numpy()), (48, 80))
        assert (peak[0] - cy) ** 2 + (peak[1] - cx) ** 2 <= 16, (cy, cx, peak)


def test_flat_and_zero_images_give_finite_maps():
    images = np.zeros([2, 8, 12, 3], np.float32)
    images[1] = 200.0
    zero, flat = spectral_residual(images).numpy()
    np.testing.assert_array_equal(zero, 0.0)
    assert np.all(np.isfinite(flat)) and np.ptp(flat) < 1e-5


def test_same_in_every_mode(small_photos):
    images = tf.constant(small_photos)
    eager = spectral_residual(images).numpy()
    np.testing.assert_array_equal(tf.function(spectral_residual)(images).numpy(), eager)
    np.testing.assert_array_equal(tf.function(spectral_residual, jit_compile=True)(images).numpy(), eager)


def test_matrices_match_tensorflow_and_scipy():
    x = np.random.default_rng(0).normal(size=(7, 5)).astype(np.float32)
    for out_size in (3, 7, 16):
        expected = tf.image.resize(x[None, :, :, None], (out_size, 5), "bilinear")[0, :, :, 0]
        np.testing.assert_allclose(resize_matrix(out_size, 7).numpy() @ x, expected, atol=1e-6)
    taps = np.array([0.2, 0.5, 0.3])
    np.testing.assert_allclose(filter_matrix(taps, 7) @ x, ndi.correlate1d(x, taps, axis=0, mode="mirror"), atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, name",
    [({"size": 2}, "size"), ({"size": 64.0}, "size"), ({"sigma": 0.0}, "sigma"), ({"sigma": float("nan")}, "sigma")],
)
def test_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        spectral_residual(np.zeros([1, 8, 8, 3]), **kwargs)
    with pytest.raises(ValueError, match="`images`"):
        spectral_residual(np.zeros([8, 8]))
