"""Spectral-residual saliency (Hou and Zhang, CVPR 2007), batched and XLA-compilable.

Every spatial filter and resize is a matrix product: a bilinear resize is `R_h @ x @ R_w^T` with one
`[out, in]` weight matrix per axis, and the 3x3 box and the Gaussian are separable, so each is one
`[S, S]` matrix per axis with the image border folded in. That keeps the kernel to matmuls and FFTs, which
XLA compiles for any image size (the image sizes may be known only at run time).
"""

import numbers

import numpy as np
import tensorflow as tf

from tfaug.ops._xla import fused

#: ITU-R 601 luma weights (OpenCV's RGB -> gray, PIL's "L").
LUMA = (0.299, 0.587, 0.114)


def _mirror(index, n):
    """Index `index` reflected into `[0, n)` without repeating the edge (`d c b | a b c d | c b a`)."""
    if n == 1:
        return np.zeros_like(index)
    period = 2 * (n - 1)
    index = np.mod(index, period)
    return np.where(index >= n, period - index, index)


def filter_matrix(taps, n):
    """`[n, n]` float32 matrix applying the centred 1-D filter `taps` along an axis of length `n`, borders
    mirrored (OpenCV's `BORDER_REFLECT_101`, SciPy's `mode="mirror"`): `out = M @ x`."""
    taps = np.asarray(taps, np.float64)
    radius = len(taps) // 2
    matrix = np.zeros((n, n), np.float64)
    rows = np.arange(n)
    for k, tap in enumerate(taps):
        np.add.at(matrix, (rows, _mirror(rows + k - radius, n)), tap)
    return matrix.astype(np.float32)


def gaussian_taps(sigma):
    """Normalised Gaussian taps, truncated at `3 * sigma` (radius `int(3 * sigma + 0.5)`, as SciPy's
    `gaussian_filter(..., truncate=3.0)`)."""
    radius = int(3.0 * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    taps = np.exp(-0.5 * (x / sigma) ** 2)
    return taps / taps.sum()


def resize_matrix(out_size, in_size):
    """float32 `[out_size, in_size]` bilinear resize weights, half-pixel centres, edges clamped, no
    antialiasing: the weights of `tf.image.resize(..., "bilinear")`, OpenCV's `INTER_LINEAR` and PyTorch's
    `align_corners=False`. The sizes may be tensors."""
    out_size = tf.cast(out_size, tf.int32)
    in_size = tf.cast(in_size, tf.int32)
    last = tf.cast(in_size - 1, tf.float32)
    scale = tf.cast(in_size, tf.float32) / tf.cast(out_size, tf.float32)
    source = tf.clip_by_value((tf.range(tf.cast(out_size, tf.float32)) + 0.5) * scale - 0.5, 0.0, last)
    low = tf.floor(source)
    weight = (source - low)[:, None]
    high = tf.minimum(low + 1.0, last)
    one_hot = lambda index: tf.one_hot(tf.cast(index, tf.int32), in_size, dtype=tf.float32)  # noqa: E731
    return one_hot(low) * (1.0 - weight) + one_hot(high) * weight


def _gray(images, luma):
    """float32 `[B, H, W]`: luma of 3-channel images (`luma`), the mean of the channels otherwise."""
    x = tf.cast(images, tf.float32)
    if luma:
        return tf.tensordot(x, tf.constant(LUMA, tf.float32), axes=[[3], [0]])
    return tf.reduce_mean(x, axis=-1)


def _separable(x, rows, columns):
    """`rows @ x @ columns^T` for every image of `x` `[B, h, w]`."""
    return tf.einsum("ih,bhw,jw->bij", rows, x, columns)


@fused
def _spectral_residual(images, size, sigma, luma):
    shape = tf.shape(images)
    height, width = shape[1], shape[2]
    small = _separable(_gray(images, luma), resize_matrix(size, height), resize_matrix(size, width))
    spectrum = tf.signal.fft2d(tf.complex(small, tf.zeros_like(small)))
    amplitude = tf.abs(spectrum)
    # Amplitudes below float32's rounding of the FFT (exact zeros of a symmetric image, say) are noise, and
    # their logs would dominate the residual: they are floored at 1e-7 of the largest amplitude.
    floor = tf.maximum(1e-7 * tf.reduce_max(amplitude, axis=[1, 2], keepdims=True), 1e-30)
    log_amplitude = tf.math.log(tf.maximum(amplitude, floor))
    box = tf.constant(filter_matrix(np.full(3, 1.0 / 3.0), size))
    residual = log_amplitude - _separable(log_amplitude, box, box)
    # exp(residual) is scaled by exp(-max) so it cannot overflow (a flat image's DC term is huge); the
    # map is divided by its maximum below, which cancels any constant factor.
    magnitude = tf.exp(residual - tf.reduce_max(residual, axis=[1, 2], keepdims=True))
    safe = tf.where(amplitude > 0, amplitude, 1.0)
    phase = tf.where(amplitude > 0, spectrum / tf.complex(safe, tf.zeros_like(safe)), tf.zeros_like(spectrum))
    back = tf.signal.ifft2d(tf.complex(magnitude, tf.zeros_like(magnitude)) * phase)
    saliency = tf.math.real(back) ** 2 + tf.math.imag(back) ** 2
    gauss = tf.constant(filter_matrix(gaussian_taps(sigma), size))
    saliency = _separable(saliency, gauss, gauss)
    peak = tf.reduce_max(saliency, axis=[1, 2], keepdims=True)
    saliency = tf.where(peak > 0, saliency / tf.where(peak > 0, peak, 1.0), 0.0)
    return _separable(saliency, resize_matrix(height, size), resize_matrix(width, size))


def spectral_residual(images, size=64, sigma=2.5):
    """Spectral-residual saliency maps of a batch of images, in `[0, 1]`, at the images' size.

    Per image: gray (ITU-R 601 luma for 3 channels, the channel mean otherwise); bilinear resize to
    `size x size` (OpenCV's `StaticSaliencySpectralResidual` works at 64 x 64; the authors' MATLAB code at
    a width of 64); FFT; log amplitude minus its 3x3 box mean (the spectral residual); back with the
    phase (inverse FFT); squared magnitude; Gaussian smoothing with `sigma` (in working-size pixels, the
    authors' code uses 2.5; truncated at 3 sigma); divided by its maximum; bilinear resize to `H x W`.
    Filters mirror the border (OpenCV's default). Deterministic, no randomness; compiled with XLA.

    The log amplitude is `log|F|` as in the paper (OpenCV uses `log(|F| + 1)`), with amplitudes floored at
    1e-7 of the largest one (float32 rounding noise, or exact zeros of symmetric images), so the map does not
    depend on the intensity scale; an offset of all intensities does change it a little (the DC term),
    so pass non-negative intensities such as `[0, 255]` or `[0, 1]`. A flat image gives a flat map (all
    zeros for an all-zero image).

    Args:
        images: `[B, H, W, C]` (or one `[H, W, C]`), any real dtype.
        size: working side, an int >= 3. Default 64.
        sigma: Gaussian standard deviation in working-size pixels, > 0. Default 2.5.

    Returns:
        float32 `[B, H, W]` (`[H, W]` for one image), the maximum of each map 1 (0 for a map of zeros).

    Raises:
        ValueError: for images of another rank or an unknown or zero number of channels, `size` not an int >= 3, or
            `sigma` not a finite number > 0.

    Example:
        >>> maps = spectral_residual(tf.random.uniform([2, 24, 40, 3], maxval=255))
        >>> maps.shape
        TensorShape([2, 24, 40])

    Reference: Hou and Zhang, "Saliency Detection: A Spectral Residual Approach", CVPR 2007.
    """
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 3:
        raise ValueError(f"`size` must be an int >= 3, got {size!r}.")
    if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real) or not np.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"`sigma` must be a finite number > 0, got {sigma!r}.")
    images = tf.convert_to_tensor(images)
    if images.dtype == tf.bool or not (images.dtype.is_floating or images.dtype.is_integer):
        raise ValueError(f"`images` must have a real dtype, got {images.dtype.name}.")
    if images.shape.rank not in (3, 4) or images.shape[-1] in (0, None):
        raise ValueError(f"`images` must be [B, H, W, C] or [H, W, C] with a known C >= 1, got shape {images.shape}.")
    luma = images.shape[-1] == 3
    if images.shape.rank == 3:
        return _spectral_residual(images[None], int(size), float(sigma), luma)[0]
    return _spectral_residual(images, int(size), float(sigma), luma)
