"""Blur corruptions (being written)."""


def defocus_blur(images, severity, seed, table):
    raise NotImplementedError("defocus_blur")


def glass_blur(images, severity, seed, table):
    raise NotImplementedError("glass_blur")


def motion_blur(images, severity, seed, table):
    raise NotImplementedError("motion_blur")


def zoom_blur(images, severity, seed, table):
    raise NotImplementedError("zoom_blur")


def gaussian_blur(images, severity, seed, table):
    raise NotImplementedError("gaussian_blur")
