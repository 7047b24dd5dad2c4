"""Compression corruptions (being written)."""


def pixelate(images, severity, seed, table):
    raise NotImplementedError("pixelate")


def jpeg_compression(images, severity, seed, table):
    raise NotImplementedError("jpeg_compression")
