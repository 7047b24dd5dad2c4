"""Sequential PIL reference for the policy engine's pixel ops (used to check programs bit for bit)."""

import numpy as np
from PIL import Image
from PIL import ImageEnhance
from PIL import ImageOps


def apply_op(image, name, argument):
    """Applies tfaug op `name` with its tfaug argument to a uint8 RGB numpy image, the PIL way."""
    pil = Image.fromarray(image)
    if name == "identity":
        out = pil
    elif name == "auto_contrast":
        out = ImageOps.autocontrast(pil)
    elif name == "equalize":
        out = ImageOps.equalize(pil)
    elif name == "invert":
        out = ImageOps.invert(pil)
    elif name in ("posterize", "posterize_increasing"):
        bits = int(argument)
        if bits == 0:
            return np.zeros_like(image)
        out = ImageOps.posterize(pil, bits)
    elif name == "solarize":
        out = ImageOps.solarize(pil, int(argument))
    elif name == "solarize_add":
        add = int(argument)
        lut = [min(255, i + add) if i < 128 else i for i in range(256)]
        out = pil.point(lut * 3)
    elif name in ("color", "contrast", "brightness", "sharpness"):
        enhancer = {
            "color": ImageEnhance.Color,
            "contrast": ImageEnhance.Contrast,
            "brightness": ImageEnhance.Brightness,
            "sharpness": ImageEnhance.Sharpness,
        }[name]
        out = enhancer(pil).enhance(float(argument))
    else:
        raise KeyError(name)
    return np.asarray(out)


def run_program(images, ops, op_ids, arguments):
    """Applies each image's op sequence in order; `op_ids` -1 skips a slot."""
    out = []
    for image, ids, args in zip(images, op_ids, arguments):
        for k, a in zip(ids, args):
            if k >= 0:
                image = apply_op(image, ops[k], a)
        out.append(image)
    return np.stack(out)
