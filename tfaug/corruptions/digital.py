"""Digital corruptions (being written)."""


def contrast(images, severity, seed, table):
    raise NotImplementedError("contrast")


def elastic_transform(images, severity, seed, table):
    raise NotImplementedError("elastic_transform")


def saturate(images, severity, seed, table):
    raise NotImplementedError("saturate")
