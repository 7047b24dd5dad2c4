"""Blur corruptions: defocus, glass, motion, zoom and Gaussian blur.

Each follows imagecorruptions' definition and its ImageNet parameters (for 224-pixel images); the
"tiny_imagenet" and "cifar" tables take the amplitudes of the paper's Tiny-ImageNet-C and CIFAR-10-C
scripts. Every blur treats each channel alike (glass blur moves whole pixels), so a gray image gets exactly
what each channel of its RGB replica gets.
"""

import numpy as np
import tensorflow as tf

from tfaug.corruptions import _filters
from tfaug.corruptions._params import by_severity
from tfaug.random import randint
from tfaug.random import uniform

# Disk radius and anti-aliasing sigma.
DEFOCUS = {
    "imagenet": ((3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5)),
    "tiny_imagenet": ((0.5, 0.6), (1, 0.1), (1.5, 0.1), (2.5, 0.01), (3, 0.1)),
    "cifar": ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)),
}
# Gaussian sigma, largest shuffle offset, shuffle iterations.
GLASS = {
    "imagenet": ((0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)),
    "tiny_imagenet": ((0.1, 1, 1), (0.5, 1, 1), (0.6, 1, 2), (0.7, 2, 1), (0.9, 2, 2)),
    "cifar": ((0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2)),
}
# Kernel radius (2 * radius + 1 taps) and the half Gaussian's sigma.
MOTION = {
    "imagenet": ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15)),
    "tiny_imagenet": ((10, 1), (10, 1.5), (10, 2), (10, 2.5), (12, 3)),
    "cifar": ((6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5)),
}
# Zoom factors averaged with the image, as the reference's `np.arange(1, stop, step)`: (stop, step).
ZOOM = {
    "imagenet": ((1.11, 0.01), (1.16, 0.01), (1.21, 0.02), (1.26, 0.02), (1.31, 0.03)),
    "tiny_imagenet": ((1.06, 0.01), (1.11, 0.01), (1.16, 0.01), (1.21, 0.01), (1.26, 0.01)),
    "cifar": ((1.06, 0.01), (1.11, 0.01), (1.16, 0.01), (1.21, 0.01), (1.26, 0.01)),
}
GAUSSIAN = {
    "imagenet": (1, 2, 3, 4, 6),
    "tiny_imagenet": (0.5, 0.75, 1, 1.25, 1.5),
    "cifar": (0.4, 0.6, 0.7, 0.8, 1),
}
# Taps of a defocus kernel below this weight (Gaussian tails of the anti-aliasing, < 1e-20) are dropped.
_NEGLIGIBLE = 1e-12


def _cv2_gaussian_kernel(size, sigma):
    """`cv2.getGaussianKernel(size, sigma)` for sigma > 0."""
    x = np.arange(size) - (size - 1) / 2.0
    kernel = np.exp(-(x**2) / (2.0 * sigma**2))
    return kernel / kernel.sum()


def disk(radius, alias_blur):
    """imagecorruptions' `disk` without OpenCV: the normalised disk `x^2 + y^2 <= radius^2` on a 17 x 17
    grid (on `2 radius + 1` for radius > 8), smoothed as `cv2.GaussianBlur` does (3 x 3 Gaussian, 5 x 5
    beyond radius 8, borders reflected about the edge pixel)."""
    half = 8 if radius <= 8 else int(radius)
    size = 3 if radius <= 8 else 5
    grid = np.arange(-half, half + 1)
    x, y = np.meshgrid(grid, grid)
    aliased = (x**2 + y**2 <= radius**2).astype(np.float64)
    aliased /= aliased.sum()
    weights = _cv2_gaussian_kernel(size, alias_blur)
    pad = size // 2
    padded = np.pad(aliased, pad, mode="reflect")
    rows = sum(w * padded[i : i + 2 * half + 1] for i, w in enumerate(weights))
    return sum(w * rows[:, j : j + 2 * half + 1] for j, w in enumerate(weights)).astype(np.float32)


def _disks(rows):
    """The five disks of a table, zero-padded to one size and cropped to the taps any of them uses."""
    kernels = [disk(radius, alias) for radius, alias in rows]
    half = max(k.shape[0] for k in kernels) // 2
    stack = np.stack([np.pad(k, half - k.shape[0] // 2) for k in kernels])
    used = np.nonzero(np.abs(stack).max(axis=(0, 2)) >= _NEGLIGIBLE)[0]
    reach = int(max(abs(used - half)))
    return stack[:, half - reach : half + reach + 1, half - reach : half + reach + 1]


def defocus_blur(images, severity, seed, table):
    """Defocus: each image correlated with a disk of the severity's radius (imagecorruptions' `disk`,
    anti-aliased by a small Gaussian), borders reflected about the edge pixel as `cv2.filter2D`.

    Parameters: imagecorruptions (ImageNet), Tiny-ImageNet-C and CIFAR-10-C. The disks are built in NumPy
    at trace time; taps whose weight is below 1e-12 (the anti-aliasing Gaussian's far tails) are left out.
    """
    del seed
    kernels = tf.gather(tf.constant(_disks(DEFOCUS[table])), severity - 1)
    return _filters.filter2d(images, kernels, mode="reflect101")


def local_shuffle(images, offsets, max_delta):
    """One pass of glass blur's local pixel shuffle, as imagecorruptions computes it on RGB images.

    The reference visits the pixels `(h, w)` with `max_delta < h <= H - max_delta` (likewise `w`) from the
    last to the first and "swaps" each with the pixel `(h + dy, w + dx)`. On a 3-channel array its tuple
    swap of two pixel views copies rather than exchanges: pixel `(h, w)` takes the current value of
    `(h + dy, w + dx)`, which is that pixel's own new value if it was visited before. Each pixel therefore
    ends with the original value at the end of its chain of offsets through already visited pixels. Chains
    only move to later pixels in scan order, so they are followed in parallel by pointer doubling
    (`ceil(log2(H * W))` steps cover the longest possible chain): the result equals the sequential loop's.

    Args:
        images: float32 `[B, H, W, C]`.
        offsets: int32 `[B, H, W, 2]`, each visited pixel's `(dy, dx)`, in `[-max_delta, max_delta)`.
        max_delta: int32 `[B]`; 0 leaves an image as it is.

    Returns:
        float32 `[B, H, W, C]`.
    """
    height, width, channels = images.shape[1], images.shape[2], images.shape[3]
    count = height * width
    delta = tf.cast(max_delta, tf.int32)[:, None, None]
    row = tf.range(height)[None, :, None]
    col = tf.range(width)[None, None, :]

    def visited(r, c):
        inside = (r > delta) & (r <= height - delta) & (c > delta) & (c <= width - delta)
        return inside & (delta > 0)

    target_row, target_col = row + offsets[..., 0], col + offsets[..., 1]
    here = visited(row, col)
    position = tf.reshape(row * width + col, [1, count])
    target = tf.reshape(tf.where(here, target_row * width + target_col, row * width + col), [-1, count])
    # A chain goes on through a target visited earlier, i.e. later in scan order.
    goes_on = tf.reshape(here & visited(target_row, target_col), [-1, count]) & (target > position)
    link = tf.where(goes_on, target, position)
    for _ in range(max(1, int(np.ceil(np.log2(count))))):
        link = tf.gather(link, link, batch_dims=1)
    source = tf.gather(target, link, batch_dims=1)
    flat = tf.reshape(images, [-1, count, channels])
    return tf.reshape(tf.gather(flat, source, batch_dims=1), tf.shape(images))


def glass_blur(images, severity, seed, table):
    """Glass: Gaussian blur, truncation to uint8 levels, a local shuffle of pixels, Gaussian blur again.

    Parameters (sigma, largest offset, iterations) from imagecorruptions (ImageNet), Tiny-ImageNet-C and
    CIFAR-10-C. The shuffle (`local_shuffle`) is the reference's loop as it runs on RGB images, vectorised;
    its offsets, uniform in `[-max_delta, max_delta)` per pixel and iteration as the reference's, come
    from tfaug's generator, so the result equals the reference's in distribution, not pixel for pixel.
    The blur is computed in float32 (the reference's in float64): a pixel within rounding of a level may
    truncate to the level below or above the reference's.
    """
    params = GLASS[table]
    sigma, max_delta, iterations = tf.unstack(by_severity(params, severity), axis=1)
    max_sigma = max(p[0] for p in params)
    # The reference keeps the blurred image as uint8: levels truncated.
    x = tf.floor(_filters.gaussian_filter(images, sigma, max_sigma) * 255.0) / 255.0
    max_delta = tf.cast(max_delta, tf.int32)
    passes = max(p[2] for p in params)
    # Every pass's offsets in one draw, image by image (an image's draws do not depend on the batch after
    # it); passes beyond an image's iterations get max_delta 0 (no shuffle).
    active = tf.where(tf.range(passes, dtype=tf.float32)[None, :] < iterations[:, None], max_delta[:, None], 0)
    shape = tf.concat([tf.shape(images)[:1], [passes], tf.shape(images)[1:3], [2]], axis=0)
    bound = active[:, :, None, None, None]
    offsets = randint(seed, shape, -bound, bound)
    for i in range(passes):
        x = local_shuffle(x, offsets[:, i], active[:, i])
    return _filters.gaussian_filter(x, sigma, max_sigma)


def motion_blur(images, severity, seed, table):
    """Motion: each image blurred along a line at a random angle, uniform in [-45, 45) degrees per image,
    as imagecorruptions' `_motion_blur` (half Gaussian weights over `2 * radius + 1` taps, edge pixels
    repeated).

    Parameters: imagecorruptions (ImageNet). CIFAR-10-C and Tiny-ImageNet-C blur with ImageMagick's
    `MotionBlurImage`, whose kernel width, weights and offsets `_motion_blur` reimplements: their
    (radius, sigma) pairs are used unchanged. The angle comes from tfaug's generator, not NumPy's; given
    the same angle the result is the reference's.
    """
    params = MOTION[table]
    radius, sigma = tf.unstack(by_severity(params, severity), axis=1)
    angle = uniform(seed, tf.shape(severity), -45.0, 45.0)
    max_width = 2 * int(max(p[0] for p in params)) + 1
    return _filters.motion_blur(images, 2.0 * radius + 1.0, sigma, angle, max_width)


def _zoom_factors(rows):
    """The factors of each severity as float64 `[5, N]`, padded with 1 where a list is short, and their
    weights (1, or 0 for padding)."""
    lists = [np.arange(1, stop, step) for stop, step in rows]
    longest = max(len(z) for z in lists)
    factors = np.stack([np.pad(z, (0, longest - len(z)), constant_values=1.0) for z in lists])
    weights = np.stack([np.arange(longest) < len(z) for z in lists]).astype(np.float32)
    return factors, weights


def zoom_blur(images, severity, seed, table):
    """Zoom: the mean of the image and its centre zoomed by each factor of the severity's list, as
    imagecorruptions' `zoom_blur` (`clipped_zoom`: a central crop enlarged bilinearly, the first H x W kept).

    Parameters: imagecorruptions (ImageNet), Tiny-ImageNet-C and CIFAR-10-C (whose scripts trim the zoomed
    crop about its centre rather than keep its first rows and columns; here every table uses the
    reference's crop). Lists differ in length per severity: shorter ones are padded with zero weight.
    """
    del seed
    factors, weights = _zoom_factors(ZOOM[table])
    zooms = tf.gather(tf.constant(factors, tf.float64), severity - 1)
    weight = tf.gather(tf.constant(weights), severity - 1)

    def zoomed(k):
        layer = _filters.clipped_zoom(images, tf.gather(zooms, k, axis=1))
        return tf.gather(weight, k, axis=1)[:, None, None, None] * layer

    total = images + _filters.sum_over(factors.shape[1], zoomed)
    return total / (1.0 + tf.reduce_sum(weight, axis=1))[:, None, None, None]


def gaussian_blur(images, severity, seed, table):
    """Gaussian blur of the severity's sigma, as `skimage.filters.gaussian` (borders: edge pixel repeated,
    kernel truncated at 4 sigma). Parameters: imagecorruptions (ImageNet), Tiny-ImageNet-C and CIFAR-10-C."""
    del seed
    sigmas = GAUSSIAN[table]
    return _filters.gaussian_filter(images, by_severity(sigmas, severity), max(sigmas))
