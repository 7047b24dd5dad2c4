"""Compression corruptions: pixelate (a coarse resample) and JPEG at low quality.

Both are deterministic: `seed` is accepted for the common signature and not used.
"""

import functools

import numpy as np
import tensorflow as tf

from tfaug.corruptions import jpeg
from tfaug.corruptions._params import by_severity

#: Pixelate: the fraction of each side the image is shrunk to, per severity.
PIXELATE_SCALES = {
    "imagenet": (0.6, 0.5, 0.4, 0.3, 0.25),
    "tiny_imagenet": (0.9, 0.8, 0.7, 0.6, 0.5),
    "cifar": (0.95, 0.9, 0.85, 0.75, 0.65),
}
#: JPEG: the quality (1..100) per severity.
JPEG_QUALITIES = {
    "imagenet": (25, 18, 15, 10, 7),
    "tiny_imagenet": (65, 58, 50, 40, 25),
    "cifar": (80, 65, 58, 50, 40),
}

# PIL's resampling weights are fixed point with this many fractional bits.
_PIL_PRECISION_BITS = 22


def box_windows(size_in, size_out):
    """PIL's `Image.BOX` resampling of `size_in` samples to `size_out`: a `[size_out, size_in]` 0/1 matrix
    of the samples each output averages and the `[size_out]` weight each of them gets.

    As PIL's `precompute_coeffs`: output `i` is centred at `(i + 0.5) * scale` in input coordinates, with
    `scale = size_in / size_out`; the samples whose centres fall in `(centre - w / 2, centre + w / 2]`,
    `w = max(scale, 1)`, weigh equally, `1 / count` rounded to PIL's fixed point.
    """
    scale = size_in / size_out
    width = max(scale, 1.0)
    windows = np.zeros((size_out, size_in))
    for i in range(size_out):
        centre = (i + 0.5) * scale
        first = max(int(centre - width / 2 + 0.5), 0)
        stop = min(int(centre + width / 2 + 0.5), size_in)
        t = (np.arange(first, stop) + 0.5 - centre) / width
        windows[i, first:stop] = (t > -0.5) & (t <= 0.5)
    weights = np.floor(0.5 + 2**_PIL_PRECISION_BITS / windows.sum(axis=1)) / 2**_PIL_PRECISION_BITS
    return windows, weights


def nearest_index(size_in, size_out):
    """PIL's `Image.NEAREST` resize of `size_in` samples to `size_out`: output `i` takes input
    `floor((i + 0.5) * size_in / size_out)`, the position accumulated step by step in double precision as
    PIL's `ImagingScaleAffine` does (which settles exact ties the same way)."""
    step = size_in / size_out
    position = step / 2
    index = []
    for _ in range(size_out):
        index.append(int(position))
        position += step
    return np.array(index)


@functools.cache
def _pixelate_axis(size, table):
    """Per severity, the BOX shrink of one axis followed by the NEAREST enlargement back: the windows
    `[5, size, size]` (each output's BOX window, repeated as NEAREST repeats outputs) and weights
    `[5, size]`."""
    windows, weights = [], []
    for c in PIXELATE_SCALES[table]:
        # At least one pixel: the reference (PIL) refuses an empty image, which sides below 4 would give.
        small = max(int(size * c), 1)
        box, weight = box_windows(size, small)
        index = nearest_index(small, size)
        windows.append(box[index])
        weights.append(weight[index])
    return np.stack(windows).astype(np.float32), np.stack(weights).astype(np.float32)


def _round_half_up(x):
    """PIL's rounding of a resampled value to a level."""
    return tf.floor(x + 0.5)


def pixelate(images, severity, seed, table):
    """Shrinks each image with PIL's box filter and enlarges it back with nearest neighbours: blocky,
    averaged pixels.

    The image goes to `(int(W * c), int(H * c))` and back, `c` per severity from `PIXELATE_SCALES`:
    ImageNet-C's from `imagecorruptions`, the small-image ones from the CIFAR-10-C and Tiny-ImageNet-C
    scripts. As in PIL, the width is resampled first, then the height, each pass rounded to 8-bit levels
    (half up), with PIL's window bounds and fixed-point weights. A BOX shrink then a NEAREST enlargement of one
    axis is one linear map, an average over the source pixel's window, so each axis is one `[W, W]`
    (`[H, H]`) matrix of 0/1 windows per severity, times a weight per output. The sums of levels through
    0/1 matrices are exact at any matmul precision (TensorFloat-32 included), so uint8 images get the
    reference's result exactly.

    Departures: inputs are rounded to 8-bit levels first, the samples PIL resizes. The CIFAR-10-C and
    Tiny-ImageNet-C scripts enlarge with BOX rather than NEAREST. Enlarging, both take the input pixel under
    each output's centre; they differ only where that centre lies exactly on a pixel boundary, which never
    happens at the scripts' sizes (32 and 64 pixels), so one algorithm, `imagecorruptions'` NEAREST, serves
    every table, with the scripts' scales, and matches the scripts there too.
    """
    del seed
    height, width = images.shape[1], images.shape[2]
    row_windows, row_weights = _pixelate_axis(height, table)
    col_windows, col_weights = _pixelate_axis(width, table)
    levels = tf.round(images * 255.0)
    sums = tf.einsum("bvw,bhwc->bhvc", tf.gather(col_windows, severity - 1), levels)
    levels = _round_half_up(sums * tf.gather(col_weights, severity - 1)[:, None, :, None])
    sums = tf.einsum("buh,bhvc->buvc", tf.gather(row_windows, severity - 1), levels)
    levels = _round_half_up(sums * tf.gather(row_weights, severity - 1)[:, :, None, None])
    return levels / 255.0


@functools.cache
def _jpeg_tables(table):
    """`[5, 2, 8, 8]`: the luminance and chrominance quantisation tables per severity."""
    return np.stack([np.stack(jpeg.quantization_tables(q)) for q in JPEG_QUALITIES[table]]).astype(np.float32)


def jpeg_compression(images, severity, seed, table):
    """Compresses each image to JPEG at a low quality and decodes it: blocking, ringing, colour bleeding.

    The quality per severity is from `JPEG_QUALITIES` (ImageNet-C's from `imagecorruptions`, the
    small-image ones from the CIFAR-10-C and Tiny-ImageNet-C scripts). The reference saves with PIL
    (libjpeg-turbo: baseline, 4:2:0 chroma subsampling, integer DCT) and decodes with PIL;
    `tfaug.corruptions.jpeg` does the same round trip in the graph in libjpeg's own integer arithmetic, so
    uint8 images get the reference's result exactly.

    Departures: inputs are rounded to 8-bit levels first, the samples JPEG codes. Gray images are coded as
    luminance alone where the reference codes the gray image as RGB; that gives the same result (its
    chroma is exactly neutral in libjpeg's arithmetic and decodes to exactly neutral). The reference run
    with a JPEG library that rounds differently (another DCT or chroma upsampling) differs from it by a
    level here and there.
    """
    del seed
    tables = by_severity(_jpeg_tables(table), severity)
    return jpeg.round_trip(images, tables[:, 0], tables[:, 1])
