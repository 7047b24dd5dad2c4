"""Digital corruptions: contrast, saturate and elastic transform.

Contrast and saturate are deterministic (`seed` is accepted for the common signature and not used);
elastic transform draws one displacement field per image.
"""

import tensorflow as tf

from tfaug import random as tfr
from tfaug.corruptions._filters import _correlate1d
from tfaug.corruptions._filters import gaussian_weights
from tfaug.corruptions._params import by_severity
from tfaug.corruptions._params import per_image

#: Contrast: the factor each image's deviations from its channel means are scaled by, per severity.
CONTRAST_FACTORS = {
    "imagenet": (0.4, 0.3, 0.2, 0.1, 0.05),
    "tiny_imagenet": (0.4, 0.3, 0.2, 0.1, 0.05),
    "cifar": (0.75, 0.5, 0.4, 0.3, 0.15),
}
#: Saturate: `(scale, shift)` of the HSV saturation, `s -> clip(s * scale + shift, 0, 1)`, per severity.
SATURATE_PARAMETERS = {
    "imagenet": ((0.3, 0.0), (0.1, 0.0), (2.0, 0.0), (5.0, 0.1), (20.0, 0.2)),
    "tiny_imagenet": ((0.3, 0.0), (0.1, 0.0), (2.0, 0.0), (5.0, 0.1), (30.0, 0.2)),
    "cifar": ((0.3, 0.0), (0.1, 0.0), (1.5, 0.0), (2.0, 0.1), (2.5, 0.2)),
}
#: Elastic transform: the amplitude `alpha` of the smoothed displacement field, per severity.
ELASTIC_ALPHAS = {
    "imagenet": (12.5, 16.25, 21.25, 25.0, 30.0),
    "tiny_imagenet": (14.0, 15.2, 27.1, 29.0, 37.9),
    "cifar": (9.0, 11.7, 14.0, 16.1, 17.6),
}
#: ITU-R BT.601 luma weights (the reference's `rgb2gray` rounds them to 0.2989, 0.5870, 0.1140), for gray
#: images whose corruption adds colour; they sum to 1, so a result that stays gray keeps its value.
LUMINANCE_WEIGHTS = (0.299, 0.587, 0.114)
# Elastic transform, as the reference: field values uniform on +-0.005 H, smoothed with a Gaussian of
# sigma 0.01 times the side (truncated at 3 sigmas, mirrored borders).
_FIELD_RANGE = 0.005
_FIELD_SIGMA = 0.01
_FIELD_TRUNCATE = 3.0


def contrast(images, severity, seed, table):
    """Pulls every value towards its image's channel mean: `(x - mean) * c + mean`, `c` per severity.

    The means are per image and channel, over the pixels, as in the reference. The factors are
    `CONTRAST_FACTORS` (ImageNet-C's from `imagecorruptions`, the small-image ones from the CIFAR-10-C and
    Tiny-ImageNet-C scripts). No departures.
    """
    del seed
    factor = per_image(CONTRAST_FACTORS[table], severity)
    means = tf.reduce_mean(images, axis=[1, 2], keepdims=True)
    return (images - means) * factor + means


def _resaturated(rgb, scale, shift):
    """The HSV round trip of scikit-image's `rgb2hsv` / `hsv2rgb` with the saturation `s` replaced by
    `clip(s * scale + shift, 0, 1)`, in closed form.

    Hue and value are kept, so each channel keeps its place between the pixel's maximum `v` (which stays)
    and its minimum: `x = v * (1 - s * w)` with `w = (v - x) / (v - min)` fixed by the hue, and the new
    channel is `v * (1 - s' * w)`. Gray pixels (max = min) have hue 0 (red) in scikit-image, `w = (0, 1, 1)`.
    """
    value = tf.reduce_max(rgb, axis=-1, keepdims=True)
    spread = value - tf.reduce_min(rgb, axis=-1, keepdims=True)
    saturation = tf.math.divide_no_nan(spread, value)
    saturation = tf.clip_by_value(saturation * scale + shift, 0.0, 1.0)
    weight = tf.where(spread > 0.0, tf.math.divide_no_nan(value - rgb, spread), tf.constant([0.0, 1.0, 1.0]))
    return value * (1.0 - saturation * weight)


def saturate(images, severity, seed, table):
    """Scales each pixel's HSV saturation: `s -> clip(s * scale + shift, 0, 1)` with hue and value kept.

    Severities 1 and 2 wash the colours out, 3 to 5 make them garish. The parameters are
    `SATURATE_PARAMETERS` (ImageNet-C's from `imagecorruptions`, the small-image ones from the CIFAR-10-C
    and Tiny-ImageNet-C scripts). The reference converts to HSV and back with scikit-image; the round trip is
    computed here in closed form (`_resaturated`), equal up to float rounding.

    Gray images: the reference's RGB result for the gray image replicated, reduced to its luminance
    (`LUMINANCE_WEIGHTS`). Gray has hue 0, so a positive `shift` (severities 4 and 5) tints it red; the
    luminance is `v * (1 - 0.701 * shift)`.
    """
    del seed
    parameters = by_severity(SATURATE_PARAMETERS[table], severity)[:, None, None, :]
    channels = images.shape[-1]
    rgb = tf.tile(images, [1, 1, 1, 3]) if channels == 1 else images
    out = _resaturated(rgb, parameters[..., 0:1], parameters[..., 1:2])
    if channels == 1:
        out = tf.reduce_sum(out * tf.constant(LUMINANCE_WEIGHTS), axis=-1, keepdims=True)
    return out


def _mirrored(index, size):
    """Indices reflected into `[0, size)` with the edge repeated (`cba|abc|cba`), scipy's 'reflect'."""
    index = tf.math.floormod(index, 2 * size)
    return tf.where(index < size, index, 2 * size - 1 - index)


def displacement_field(seed, batch, height, width, alpha):
    """The reference's displacement field of each image: `[B, H, W, 2]` (rows, columns) in pixels.

    Both components are uniform on `+-0.005 H`, smoothed by a Gaussian of sigma `0.01 H` along the rows and
    `0.01 W` along the columns (scipy's 'reflect' border, truncated at 3 sigmas), times `alpha` (`[B]`).
    """
    limit = _FIELD_RANGE * height
    field = tfr.uniform(seed, tf.stack([batch, height, width, 2]), -limit, limit)
    for axis, size in ((1, height), (2, width)):
        sigma = _FIELD_SIGMA * size
        weights = gaussian_weights(tf.fill([batch], sigma), sigma, _FIELD_TRUNCATE)
        field = _correlate1d(field, weights, axis, "reflect")
    return field * alpha[:, None, None, None]


def warp(images, field):
    """Samples each image at its pixel positions plus `field` (`[B, H, W, 2]`, rows and columns), bilinearly,
    beyond the borders mirrored: `scipy.ndimage.map_coordinates(order=1, mode="reflect")`."""
    batch = tf.shape(images)[0]
    height, width, channels = images.shape[1], images.shape[2], images.shape[3]
    rows = tf.range(height, dtype=tf.float32)[None, :, None] + field[..., 0]
    cols = tf.range(width, dtype=tf.float32)[None, None, :] + field[..., 1]
    row0, col0 = tf.floor(rows), tf.floor(cols)
    fy, fx = (rows - row0)[..., None], (cols - col0)[..., None]
    row0, col0 = tf.cast(row0, tf.int32), tf.cast(col0, tf.int32)
    # Flat indices into the batch as one [B * H * W, C] table.
    first = tf.range(batch)[:, None, None] * height
    top, bottom = [(first + _mirrored(r, height)) * width for r in (row0, row0 + 1)]
    left, right = [_mirrored(c, width) for c in (col0, col0 + 1)]
    table = tf.reshape(images, [-1, channels])

    def pixel(row, col):
        return tf.gather(table, row + col)

    upper = pixel(top, left) * (1.0 - fx) + pixel(top, right) * fx
    lower = pixel(bottom, left) * (1.0 - fx) + pixel(bottom, right) * fx
    return upper * (1.0 - fy) + lower * fy


def elastic_transform(images, severity, seed, table):
    """Warps each image by a random, locally smooth displacement field: wavy, jittered outlines.

    As `imagecorruptions`: a field of independent uniforms on `+-0.005 H` per pixel and component, smoothed
    by a Gaussian of sigma `0.01` times the side and scaled by `alpha` (`ELASTIC_ALPHAS`), displaces where
    each pixel is sampled from, bilinearly with mirrored borders (`displacement_field`, `warp`). ImageNet-C's
    alphas give a mean displacement of 1.3 to 3.1 pixels, about independent of image size.

    Departures: the CIFAR-10-C and Tiny-ImageNet-C scripts use another algorithm, a random affine map (its
    corners moved by up to 8% of the side) followed by a gentler elastic field; one algorithm serves every
    table here, with alphas that give the same mean displacement lengths as those scripts: 1.1 to 2.1 pixels
    at 32 pixels, 1.5 to 4.2 at 64 (measured by simulating both). In those scripts the displacement shrinks
    as the severity grows (the affine part gives way to a more local field), while here the field is local
    at every severity, so the lengths are assigned in increasing order of severity. The field is drawn in
    float32 from `tfaug.random`.
    """
    height, width = images.shape[1], images.shape[2]
    alpha = by_severity(ELASTIC_ALPHAS[table], severity)
    field = displacement_field(seed, tf.shape(images)[0], height, width, alpha)
    return warp(images, field)
