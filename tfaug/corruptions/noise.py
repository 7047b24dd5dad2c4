"""Noise corruptions: Gaussian, shot (Poisson), impulse (salt and pepper) and speckle noise.

Each draws one independent value per element (per pixel and channel) from `seed`, with the amount of noise
per image from its severity. Gray images get noise drawn for their one channel (the reference draws it for
each channel of the gray image converted to RGB).
"""

import tensorflow as tf

from tfaug import random as tfr
from tfaug.corruptions._params import per_image

#: Gaussian noise: the standard deviation, per severity.
GAUSSIAN_STDDEVS = {
    "imagenet": (0.08, 0.12, 0.18, 0.26, 0.38),
    "tiny_imagenet": (0.04, 0.08, 0.12, 0.15, 0.18),
    "cifar": (0.04, 0.06, 0.08, 0.09, 0.10),
}
#: Shot noise: the photon count of a full-intensity pixel, per severity (fewer photons, more noise).
SHOT_PHOTONS = {
    "imagenet": (60, 25, 12, 5, 3),
    "tiny_imagenet": (250, 100, 50, 30, 15),
    "cifar": (500, 250, 100, 75, 50),
}
#: Impulse noise: the fraction of values replaced, per severity.
IMPULSE_AMOUNTS = {
    "imagenet": (0.03, 0.06, 0.09, 0.17, 0.27),
    "tiny_imagenet": (0.01, 0.02, 0.05, 0.08, 0.14),
    "cifar": (0.01, 0.02, 0.03, 0.05, 0.07),
}
#: Speckle noise: the standard deviation of the multiplicative noise, per severity.
SPECKLE_STDDEVS = {
    "imagenet": (0.15, 0.2, 0.35, 0.45, 0.6),
    "tiny_imagenet": (0.15, 0.2, 0.25, 0.3, 0.35),
    "cifar": (0.06, 0.1, 0.12, 0.16, 0.2),
}


def gaussian_noise(images, severity, seed, table):
    """Adds zero-mean Gaussian noise to every value: `x + N(0, c^2)`, `c` per severity.

    The standard deviations are `GAUSSIAN_STDDEVS`: ImageNet-C's from `imagecorruptions`, the small-image
    ones from the CIFAR-10-C and Tiny-ImageNet-C scripts. As the reference, up to its random stream.
    """
    stddev = per_image(GAUSSIAN_STDDEVS[table], severity)
    return images + stddev * tfr.normal(seed, tf.shape(images))


def shot_noise(images, severity, seed, table):
    """Photon (shot) noise: each value becomes `Poisson(x * c) / c`, `c` photons at full intensity.

    The noise's variance is `x / c`: brighter values and fewer photons are noisier. The photon counts are
    `SHOT_PHOTONS` (ImageNet-C's from `imagecorruptions`, the small-image ones from the CIFAR-10-C and
    Tiny-ImageNet-C scripts). As the reference, up to its random stream: the counts are exact Poisson
    draws (`tfaug.random.poisson`).
    """
    photons = per_image(SHOT_PHOTONS[table], severity)
    return tfr.poisson(seed, tf.shape(images), images * photons) / photons


def impulse_noise(images, severity, seed, table):
    """Salt-and-pepper noise: each value is replaced, with probability `amount`, by 1 or 0 at equal odds.

    As scikit-image's `random_noise(mode="s&p", amount=amount)`, which the reference calls: values, not
    pixels, are replaced, so a replaced pixel usually turns a saturated colour. The amounts are
    `IMPULSE_AMOUNTS` (ImageNet-C's from `imagecorruptions`, the small-image ones from the CIFAR-10-C and
    Tiny-ImageNet-C scripts). One uniform per value decides both: below `amount / 2` it is salt, from there
    to `amount` pepper, the same joint distribution as scikit-image's two Bernoulli draws.
    """
    amount = per_image(IMPULSE_AMOUNTS[table], severity)
    u = tfr.uniform(seed, tf.shape(images))
    return tf.where(u < amount / 2.0, 1.0, tf.where(u < amount, 0.0, images))


def speckle_noise(images, severity, seed, table):
    """Multiplicative noise: `x + x * N(0, c^2)`, so darker values are less disturbed.

    The standard deviations are `SPECKLE_STDDEVS` (ImageNet-C's from `imagecorruptions`, the small-image
    ones from the CIFAR-10-C and Tiny-ImageNet-C scripts). As the reference, up to its random stream.
    """
    stddev = per_image(SPECKLE_STDDEVS[table], severity)
    return images + images * stddev * tfr.normal(seed, tf.shape(images))
