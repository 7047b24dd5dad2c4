"""The corruptions' shared filters against the functions they reproduce, on small random arrays.

Tolerances (float32 against float64 references, values in [0, 1] unless stated):
- `gaussian_filter` against `scipy.ndimage.gaussian_filter`: max abs difference <= 1e-6;
- `filter2d` against `cv2.filter2D`: <= 1e-5 (OpenCV correlates large kernels through a DFT);
- `motion_blur` against imagecorruptions' `_motion_blur` on uint8 values (0..255): <= 1e-3;
- `clipped_zoom` against imagecorruptions' `clipped_zoom`: <= 1e-6;
- `blur.disk` against imagecorruptions' `disk` (which blurs with OpenCV): <= 1e-6.
"""

import cv2
import numpy as np
import pytest
import tensorflow as tf
from imagecorruptions import corruptions as reference
from scipy import ndimage

from tfaug.corruptions import _filters
from tfaug.corruptions import blur


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((3, 37, 41, 3)).astype(np.float32)


@pytest.mark.parametrize("mode", ["nearest", "reflect"])
def test_gaussian_filter_is_scipys_per_image(images, mode):
    sigma = np.array([0.4, 1.5, 6.0], np.float32)
    out = _filters.gaussian_filter(images, sigma, 6.0, mode=mode).numpy()
    for image, s, got in zip(images, sigma, out):
        want = ndimage.gaussian_filter(image.astype(np.float64), (float(s), float(s), 0), mode=mode)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_gaussian_filter_takes_one_map_a_python_sigma_and_truncate(images):
    out = _filters.gaussian_filter(images[..., :1], 2.0, 3.0, mode="reflect", truncate=3.0).numpy()
    want = ndimage.gaussian_filter(images[1, ..., 0].astype(np.float64), 2.0, mode="reflect", truncate=3.0)
    np.testing.assert_allclose(out[1, ..., 0], want, rtol=0, atol=1e-6)


def test_gaussian_filter_of_sigma_zero_is_the_identity(images):
    out = _filters.gaussian_filter(images, tf.constant([0.0, 1.0, 0.0]), 1.0).numpy()
    np.testing.assert_array_equal(out[0], images[0])


@pytest.mark.parametrize("mode, border", [("reflect101", cv2.BORDER_REFLECT_101), ("nearest", cv2.BORDER_REPLICATE)])
def test_filter2d_is_cv2s_per_image(images, mode, border):
    kernels = np.random.default_rng(1).random((3, 5, 13)).astype(np.float32)
    out = _filters.filter2d(images, kernels, mode=mode).numpy()
    for image, kernel, got in zip(images, kernels, out):
        want = cv2.filter2D(image.astype(np.float64), -1, kernel, borderType=border)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


@pytest.mark.parametrize("mode", _filters.BORDERS)
def test_border_index_matches_numpy_pad(mode):
    numpy_mode = {"nearest": "edge", "reflect": "symmetric", "reflect101": "reflect"}[mode]
    values = np.arange(5)
    want = np.pad(values, 12, mode=numpy_mode)
    np.testing.assert_array_equal(_filters.border_index(np.arange(-12, 17), 5, mode), want)


def test_motion_blur_is_the_references_per_image(images):
    """Three images, three kernels and angles at once; an angle of 90 degrees on 37 rows runs the 41-tap
    kernel past the image, where the reference stops."""
    levels = np.round(images * 255).astype(np.uint8)
    radius, sigma, angle = np.array([10, 15, 20]), np.array([3.0, 8.0, 15.0]), np.array([13.7, -44.2, 90.0])
    out = _filters.motion_blur(levels.astype(np.float32), 2 * radius + 1, sigma, angle, 41).numpy()
    for i in range(3):
        want = reference._motion_blur(levels[i], radius=radius[i], sigma=sigma[i], angle=angle[i])
        np.testing.assert_allclose(out[i], want, rtol=0, atol=1e-3)


def test_clipped_zoom_is_the_references_per_image():
    zooms = np.array([1.0, 1.13, 1.3, 2.5, 4.5, 1.11, np.arange(1, 1.31, 0.03)[7]])
    maps = np.random.default_rng(2).random((len(zooms), 37, 41, 1)).astype(np.float32)
    out = _filters.clipped_zoom(maps, zooms).numpy()
    for image, zoom, got in zip(maps, zooms, out):
        np.testing.assert_allclose(got, reference.clipped_zoom(image, zoom)[:37, :41], rtol=0, atol=1e-6)


@pytest.mark.parametrize("table", sorted(blur.DEFOCUS))
def test_disk_is_the_references(table):
    for radius, alias_blur in blur.DEFOCUS[table]:
        np.testing.assert_allclose(blur.disk(radius, alias_blur), reference.disk(radius, alias_blur), atol=1e-6)


def test_filters_compile_with_an_unknown_batch(images):
    """Compiled with `jit_compile=True` from a trace with an unknown batch size, equal to eager."""

    def run(x, sigma, angle, zoom, kernels):
        return (
            _filters.gaussian_filter(x, sigma, 3.0, mode="reflect"),
            _filters.motion_blur(x, 2.0 * tf.round(sigma * 3.0) + 1.0, sigma, angle, 19),
            _filters.clipped_zoom(x, zoom),
            _filters.filter2d(x, kernels),
        )

    args = (
        images[:2],
        tf.constant([1.0, 3.0]),
        tf.constant([10.0, -80.0]),
        tf.constant([1.2, 3.0], tf.float64),
        np.random.default_rng(3).random((2, 5, 5)).astype(np.float32),
    )
    specs = [tf.TensorSpec([None, 37, 41, 3]), tf.TensorSpec([None]), tf.TensorSpec([None])]
    specs += [tf.TensorSpec([None], tf.float64), tf.TensorSpec([None, 5, 5])]
    compiled = tf.function(run, jit_compile=True, input_signature=specs)(*args)
    for got, want in zip(compiled, run(*args)):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
