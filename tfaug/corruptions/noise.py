"""Noise corruptions (being written)."""


def gaussian_noise(images, severity, seed, table):
    raise NotImplementedError("gaussian_noise")


def shot_noise(images, severity, seed, table):
    raise NotImplementedError("shot_noise")


def impulse_noise(images, severity, seed, table):
    raise NotImplementedError("impulse_noise")


def speckle_noise(images, severity, seed, table):
    raise NotImplementedError("speckle_noise")
