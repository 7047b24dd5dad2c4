"""Weather corruptions (being written)."""


def snow(images, severity, seed, table):
    raise NotImplementedError("snow")


def frost(images, severity, seed, table):
    raise NotImplementedError("frost")


def fog(images, severity, seed, table):
    raise NotImplementedError("fog")


def brightness(images, severity, seed, table):
    raise NotImplementedError("brightness")


def spatter(images, severity, seed, table):
    raise NotImplementedError("spatter")
