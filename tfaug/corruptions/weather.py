"""Weather corruptions (snow, frost, fog, brightness) and the held-out spatter.

Each function takes float32 images `[B, H, W, C]` in [0, 1], an int32 `[B]` severity per image, a `[2]`
seed and a table name (`tfaug.corruptions.TABLES`), and returns float32 images for the caller to clip.
ImageNet parameters are `imagecorruptions`'; Tiny-ImageNet's and CIFAR's come from the scripts that made
Tiny-ImageNet-C and CIFAR-10-C. Gray images (C = 1) get the gray of what their RGB copy would get.
"""

import tensorflow as tf

from tfaug import random as tfr
from tfaug.corruptions import textures
from tfaug.corruptions._filters import clipped_zoom
from tfaug.corruptions._filters import gaussian_filter
from tfaug.corruptions._filters import motion_blur
from tfaug.corruptions._params import by_severity
from tfaug.corruptions._params import per_image
from tfaug.ops.selection import apply_to_selected

# The reference's gray conversions: `rgb2gray` (frost, spatter) and OpenCV's RGB2GRAY (snow).
_LUMA = (0.2989, 0.5870, 0.1140)
_CV_LUMA = (0.299, 0.587, 0.114)

BRIGHTNESS = {
    "imagenet": (0.1, 0.2, 0.3, 0.4, 0.5),
    "tiny_imagenet": (0.1, 0.2, 0.3, 0.4, 0.5),
    "cifar": (0.05, 0.1, 0.15, 0.2, 0.3),
}
# (strength, wibble decay) of the plasma fractal.
FOG = {
    "imagenet": ((1.5, 2.0), (2.0, 2.0), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4)),
    "tiny_imagenet": ((0.4, 3.0), (0.7, 3.0), (1.0, 2.5), (1.5, 2.0), (2.0, 1.75)),
    "cifar": ((0.2, 3.0), (0.5, 3.0), (0.75, 2.5), (1.0, 2.0), (1.5, 1.75)),
}
# (weight of the image, weight of the frost).
FROST = {
    "imagenet": ((1.0, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75)),
    "tiny_imagenet": ((1.0, 0.3), (0.9, 0.4), (0.8, 0.45), (0.75, 0.5), (0.7, 0.55)),
    "cifar": ((1.0, 0.2), (1.0, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45)),
}
# Frost photograph pixels per image pixel: the reference crops ImageNet images from the photographs
# enlarged 1.1 times, Tiny-ImageNet's from them shrunk to 0.3 and CIFAR's to 0.2.
FROST_SCALE = {"imagenet": 1 / 1.1, "tiny_imagenet": 1 / 0.3, "cifar": 1 / 0.2}
# (mean, std of the snow layer, zoom, threshold, blur radius, blur sigma, weight of the image).
SNOW = {
    "imagenet": (
        (0.1, 0.3, 3.0, 0.5, 10, 4, 0.8),
        (0.2, 0.3, 2.0, 0.5, 12, 4, 0.7),
        (0.55, 0.3, 4.0, 0.9, 12, 8, 0.7),
        (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65),
        (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55),
    ),
    "tiny_imagenet": (
        (0.1, 0.2, 1.0, 0.6, 8, 3, 0.8),
        (0.1, 0.2, 1.0, 0.5, 10, 4, 0.8),
        (0.15, 0.3, 1.75, 0.55, 10, 4, 0.7),
        (0.25, 0.3, 2.25, 0.6, 12, 6, 0.65),
        (0.3, 0.3, 1.25, 0.65, 14, 12, 0.6),
    ),
    "cifar": (
        (0.1, 0.2, 1.0, 0.6, 8, 3, 0.95),
        (0.1, 0.2, 1.0, 0.5, 10, 4, 0.9),
        (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9),
        (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
        (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8),
    ),
}
# (mean, std of the liquid layer, its blur sigma, threshold, strength (water) or mud blur sigma, mud?).
SPATTER = {
    "imagenet": (
        (0.65, 0.3, 4.0, 0.69, 0.6, 0),
        (0.65, 0.3, 3.0, 0.68, 0.6, 0),
        (0.65, 0.3, 2.0, 0.68, 0.5, 0),
        (0.65, 0.3, 1.0, 0.65, 1.5, 1),
        (0.67, 0.4, 1.0, 0.65, 1.5, 1),
    ),
    "tiny_imagenet": (
        (0.62, 0.1, 0.7, 0.7, 0.6, 0),
        (0.65, 0.1, 0.8, 0.7, 0.6, 0),
        (0.65, 0.3, 1.0, 0.69, 0.6, 0),
        (0.65, 0.1, 0.7, 0.68, 0.6, 1),
        (0.65, 0.1, 0.5, 0.67, 0.6, 1),
    ),
    "cifar": (
        (0.62, 0.1, 0.7, 0.7, 0.5, 0),
        (0.65, 0.1, 0.8, 0.7, 0.5, 0),
        (0.65, 0.3, 1.0, 0.69, 0.5, 0),
        (0.65, 0.1, 0.7, 0.69, 0.6, 1),
        (0.65, 0.1, 0.5, 0.68, 0.6, 1),
    ),
}
_WATER = (175 / 255, 238 / 255, 238 / 255)
_MUD = (63 / 255, 42 / 255, 20 / 255)
# The mud layer keeps only where its blurred mask reaches this.
_MUD_COVER = 0.8


def _column(rows, severity, index):
    """Parameter `index` of each image's row, `[B, 1, 1, 1]` for broadcasting over images."""
    return by_severity(rows, severity)[:, index, None, None, None]


def _gray(images, weights):
    """`[B, H, W, 1]`: the weighted sum of RGB channels; gray images are their own gray."""
    if images.shape[-1] == 1:
        return images
    return tf.reduce_sum(images * tf.constant(weights, tf.float32), axis=-1, keepdims=True)


def _colour(rgb, channels):
    """A constant colour `[3]` as the images' channels: itself for RGB, its gray (`rgb2gray`) for gray."""
    if channels == 1:
        return tf.constant([sum(c * w for c, w in zip(rgb, _LUMA))], tf.float32)
    return tf.constant(rgb, tf.float32)


def brightness(images, severity, seed, table):
    """Brightens in HSV: V += c, clipped to 1, hue and saturation kept.

    That scales each RGB pixel by `min(V + c, 1) / V` (V its largest channel), and makes black pixels the
    gray `c`; gray images get `x + c`. This is scikit-image's `rgb2hsv` / `hsv2rgb` round trip of the
    reference without its float round-off. Parameters: `BRIGHTNESS`. No randomness (`seed` is unused).
    """
    del seed
    c = per_image(BRIGHTNESS[table], severity)
    if images.shape[-1] == 1:
        return images + c
    value = tf.reduce_max(images, axis=-1, keepdims=True)
    brighter = tf.minimum(value + c, 1.0)
    scaled = images * (brighter / tf.where(value > 0.0, value, 1.0))
    return tf.where(value > 0.0, scaled, brighter)


def fog(images, severity, seed, table):
    """Adds a plasma fractal (diamond-square), then scales each image back by `max / (max + c)`.

    One fractal per image on a square of the next power of two of the larger side, cropped to the
    image's top left corner (`textures.plasma_fractal`): `x + c * fractal`, times `max(x) / (max(x) + c)`
    with the image's own maximum. Parameters (`FOG`): the strength `c` and the fractal's decay per level.
    The small-image scripts use a fixed 32 or 64 pixel fractal; here the size follows the image, which is
    the same for 32 x 32 and 64 x 64 images.
    """
    batch = tf.shape(images)[0]
    height, width = images.shape[1], images.shape[2]
    params = by_severity(FOG[table], severity)
    strength = params[:, 0, None, None, None]
    size = textures.next_power_of_two(max(height, width))
    fractal = textures.plasma_fractal(seed, batch, size, params[:, 1])[:, :height, :width, None]
    peak = tf.reduce_max(images, axis=[1, 2, 3], keepdims=True)
    return (images + strength * fractal) * peak / (peak + strength)


def frost(images, severity, seed, table):
    """Blends each image with frost: `a * x + b * frost`.

    The reference blends with a random crop of one of six frost photographs that it ships. tfaug ships no
    photographs: it draws a synthetic frost texture per image instead (`textures.frost_texture`), thin
    ridged needles with side branches in a few domains of random direction over a grey-blue ground. Its
    statistics follow the photographs': mean colour about (0.48, 0.58, 0.62), the images' mean colours
    spread by about 0.2 from draw to draw, a standard deviation within an image of about 0.085 per
    channel. It lacks what a photograph has beyond that (large single crystals, blurred patches, one
    photograph's cyan cast), and it is new for every image where the reference repeats six pictures.
    Its scale follows the table: one photograph pixel per 1.1 image pixels for ImageNet, per 0.3 for
    Tiny-ImageNet, per 0.2 for CIFAR, as the reference and the small-image scripts resize their
    photographs (the small-image scripts also leave the darkest photograph out, which makes their frost
    a little brighter; the texture is the same for every table). Parameters (`FROST`): the weights `a`
    and `b`. Gray images get the gray of the texture.
    """
    batch = tf.shape(images)[0]
    height, width = images.shape[1], images.shape[2]
    texture = textures.frost_texture(seed, batch, height, width, FROST_SCALE[table])
    if images.shape[-1] == 1:
        texture = _gray(texture, _LUMA)
    return _column(FROST[table], severity, 0) * images + _column(FROST[table], severity, 1) * texture


def snow(images, severity, seed, table):
    """Falling snow: a thresholded, zoomed Gaussian layer streaked by a motion blur, over a paler image.

    As the reference: a normal layer per image (mean, std), zoomed into its centre (`clipped_zoom`), set
    to 0 below a threshold, clipped to [0, 1], motion-blurred (`2 * radius + 1` taps, sigma) at an angle
    uniform in [-135, -45) degrees and rounded to 1/255; the image becomes `w * x + (1 - w) * max(x,
    1.5 * gray + 0.5)` and gets the layer plus the layer turned by 180 degrees. Parameters: `SNOW`; the
    small-image scripts blur with ImageMagick's motion blur, whose radius and sigma are the ones
    imagecorruptions' blur takes. The reference blurs the whole zoomed layer, a few pixels larger than the
    image when the zoomed size rounds up, before cropping it; here it is cropped first, which changes
    only the blur's last pixels at the bottom and right edges.
    """
    batch = tf.shape(images)[0]
    height, width = images.shape[1], images.shape[2]
    rows = SNOW[table]
    params = by_severity(rows, severity)
    layer_seed, angle_seed = tf.unstack(tfr.split_seed(seed, 2))
    mean, std = params[:, 0, None, None, None], params[:, 1, None, None, None]
    layer = mean + std * tfr.normal(layer_seed, tf.stack([batch, height, width, 1]))
    # The zoom factors are exact decimals: take them from the table in float64, as the reference does.
    zoom = tf.gather(tf.constant([row[2] for row in rows], tf.float64), severity - 1)
    layer = clipped_zoom(layer, zoom)
    layer = tf.clip_by_value(tf.where(layer < params[:, 3, None, None, None], 0.0, layer), 0.0, 1.0)
    angle = tfr.uniform(angle_seed, tf.stack([batch]), -135.0, -45.0)
    max_width = 2 * max(row[4] for row in rows) + 1
    layer = motion_blur(layer, 2.0 * params[:, 4] + 1.0, params[:, 5], angle, max_width)
    layer = tf.round(layer * 255.0) / 255.0
    weight = params[:, 6, None, None, None]
    paler = weight * images + (1.0 - weight) * tf.maximum(images, _gray(images, _CV_LUMA) * 1.5 + 0.5)
    return paler + layer + tf.reverse(layer, axis=[1, 2])


def spatter(images, severity, seed, table):
    """Water drops (severities 1-3) or mud (4-5) on the lens, from one thresholded, blurred noise layer.

    The liquid layer is a normal layer per image (mean, std), Gaussian-blurred (sigma) and set to 0 below a
    threshold, as in the reference. Mud: the layer's support, Gaussian-blurred (second sigma), kept where
    it reaches 0.8, covers the image in mud brown, `x (1 - m) + m * brown`. Water: the layer times an
    embossed shading from the distance to its edges, normalised to the strength, adds pale turquoise,
    `x + m * turquoise`; the shading follows the reference's OpenCV steps (Canny edges, L2 distance
    transform with the 5 x 5 mask truncated at 20, 3 x 3 box blurs, histogram equalisation, the emboss
    kernel) as tensor ops (`textures.water_shading`), equal to them given the same layer up to float32
    round-off. Parameters: `SPATTER`. Gray images get the gray of the colours (`rgb2gray`). Where no liquid
    is left after the threshold, the reference divides by a zero maximum; here the image is unchanged.

    Each image's layer is computed for it alone: the water rows and the mud rows run in chunks of their own.
    """
    batch = tf.shape(images)[0]
    height, width = images.shape[1], images.shape[2]
    rows = SPATTER[table]
    params = by_severity(rows, severity)
    mean, std = params[:, 0, None, None, None], params[:, 1, None, None, None]
    liquid = mean + std * tfr.normal(seed, tf.stack([batch, height, width, 1]))
    liquid = gaussian_filter(liquid, params[:, 2], max(row[2] for row in rows))
    threshold = params[:, 3, None, None, None]
    liquid = tf.where(liquid < threshold, 0.0, liquid)
    is_mud = params[:, 5] > 0.5
    strength = params[:, 4]
    mud_sigma = max(row[4] for row in rows if row[5])
    # Each image's layer only: the rows of each kind in fixed-size chunks (static shapes under XLA).
    chunk, empty = _chunk_size(images.shape[0]), tf.zeros_like(liquid)
    water = apply_to_selected(water_layer, ~is_mud, (liquid, strength), empty, chunk)
    mud = apply_to_selected(
        lambda layer, t, s: mud_layer(layer, t, s, mud_sigma), is_mud, (liquid, threshold, strength), empty, chunk
    )
    channels = images.shape[-1]
    return images * (1.0 - mud) + mud * _colour(_MUD, channels) + water * _colour(_WATER, channels)


def _chunk_size(batch_size):
    """Images per chunk of the water and mud loops: half a static batch, at most 8."""
    return 4 if batch_size is None else max(1, min(8, batch_size // 2))


def water_layer(liquid, strength):
    """The water drops' layer `[B, H, W, 1]`: the liquid in 1/255 steps times its shading, its maximum the
    strength (`[B]`)."""
    levels = tf.floor(tf.minimum(liquid, 1.0) * 255.0)
    layer = levels * textures.water_shading(levels)
    peak = tf.reduce_max(layer, axis=[1, 2, 3], keepdims=True)
    return tf.math.divide_no_nan(layer, peak) * strength[:, None, None, None]


def mud_layer(liquid, threshold, sigma, max_sigma):
    """The mud's cover `[B, H, W, 1]`: the liquid's support blurred, 0 where below `_MUD_COVER`."""
    cover = gaussian_filter(tf.cast(liquid > threshold, tf.float32), sigma, max_sigma)
    return tf.where(cover < _MUD_COVER, 0.0, cover)
