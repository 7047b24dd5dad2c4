"""Digital corruptions (being written)."""


def contrast(images, severity, seed, table):
    raise NotImplementedError("contrast")


def elastic_transform(images, severity, seed, table):
    raise NotImplementedError("elastic_transform")


def pixelate(images, severity, seed, table):
    raise NotImplementedError("pixelate")


def jpeg_compression(images, severity, seed, table):
    raise NotImplementedError("jpeg_compression")


def saturate(images, severity, seed, table):
    raise NotImplementedError("saturate")
