"""ColorJitter: random brightness, contrast, saturation and hue, in a random order per image (torchvision)."""

import keras
import tensorflow as tf

from tfaug import random as tfr
from tfaug import validation as v
from tfaug.layers.base import BaseAugmentation
from tfaug.ops import jitter

#: Factor arguments: brightness, contrast, saturation (1 = unchanged); hue is a shift (0 = unchanged).
FACTORS = ("brightness", "contrast", "saturation")


def factor_range(name, value):
    """torchvision's factor ranges: `b >= 0` -> `(max(0, 1 - b), 1 + b)`; `(min, max)` with 0 <= min <= max."""
    if isinstance(value, (tuple, list)):
        v.check_range(name, value, low=0.0)
        return tuple(float(x) for x in value)
    number = v.check_positive(name, value, allow_zero=True)
    return number


def hue_range(value):
    """torchvision's hue: `h` in [0, 0.5] -> `(-h, h)`; or `(min, max)` within [-0.5, 0.5]."""
    if isinstance(value, (tuple, list)):
        v.check_range("hue", value, low=-0.5, high=0.5)
        return tuple(float(x) for x in value)
    return v.check_number("hue", value, 0.0, 0.5)


@keras.saving.register_keras_serializable(package="tfaug")
class ColorJitter(BaseAugmentation):
    """Randomly changes brightness, contrast, saturation and hue, in a random order per image.

    torchvision's `ColorJitter`: per image (one draw per batch with `batchwise=True`), a brightness factor
    uniform in `[max(0, 1 - brightness), 1 + brightness]` (or in a given `(min, max)`), likewise contrast and
    saturation factors, a hue shift uniform in `[-hue, hue]` turns (or a given `(min, max)`); the ops given
    a non-trivial range run in a uniformly random order, drawn per image. An argument left at 0 leaves its
    op out, as in torchvision.

    - brightness: blend with black (`low` of `value_range`), `x * f` for images in [0, high];
    - contrast: blend with the image's mean gray level (one mean per image);
    - saturation: blend with the pixel's gray (ITU-R 601 luma, 0.299 R + 0.587 G + 0.114 B);
    - hue: the HSV hue turned by the shift (`tfaug.ops.adjust_hue`), saturation and value kept.

    A blend is `degenerate + f * (x - degenerate)`, clamped to the value range. On uint8 images brightness,
    contrast and saturation are `PIL.ImageEnhance`'s arithmetic bit for bit (what torchvision runs on PIL
    images), with each op's result stored as uint8 before the next; on floats they are torchvision's tensor
    definitions, which differ from PIL only in torchvision's luma weight 0.2989 for red. Gray
    `[..., 1]` images get brightness and contrast; saturation and hue leave them unchanged.

    Args:
        brightness: `b >= 0` (factor range `[max(0, 1 - b), 1 + b]`) or `(min, max)` with `0 <= min <= max`.
            Default 0 (off).
        contrast: as `brightness`. Default 0.
        saturation: as `brightness`. Default 0.
        hue: `h` in [0, 0.5] (shift range `[-h, h]` turns) or `(min, max)` within [-0.5, 0.5]. Default 0.
        value_range, batchwise, seed: see `BaseAugmentation`.

    Inputs: RGB `[B, H, W, 3]` or gray `[B, H, W, 1]` images (or one `[H, W, C]` image) of any dtype, with
    values in `value_range`, alone, with labels, or in a dict; labels, masks and boxes pass through.
    Output: the same structure, shapes and dtypes.

    Raises:
        ValueError: for an argument out of its range (named), images with neither 3 nor 1 channels, or
            (eagerly) pixels outside `value_range`.

    Example:
        >>> jitter = ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1, seed=0)
        >>> jittered = jitter(images)

    Reference: torchvision `transforms.ColorJitter`; the SimCLR / BYOL / timm colour augmentation.
    """

    uses_value_range = True

    def __init__(self, brightness=0.0, contrast=0.0, saturation=0.0, hue=0.0, **kwargs):
        super().__init__(**kwargs)
        self.brightness = factor_range("brightness", brightness)
        self.contrast = factor_range("contrast", contrast)
        self.saturation = factor_range("saturation", saturation)
        self.hue = hue_range(hue)

    @property
    def ranges(self):
        """The drawn ranges: `{op: (min, max)}` of the ops this layer runs (in `tfaug.ops.jitter.JITTER_OPS`)."""
        ranges = {}
        for name in FACTORS:
            value = getattr(self, name)
            low, high = value if isinstance(value, tuple) else (max(0.0, 1.0 - value), 1.0 + value)
            if (low, high) != (1.0, 1.0):
                ranges[name] = (low, high)
        low, high = self.hue if isinstance(self.hue, tuple) else (-self.hue, self.hue)
        if (low, high) != (0.0, 0.0):
            ranges["hue"] = (low, high)
        return ranges

    def get_random_transformation(self, data, seed):
        """`order` int32 `[B, S]` (op ids of `JITTER_OPS`, S enabled ops), `factors` `[B, 3]`, `hue` `[B]`."""
        batch_size = tf.shape(data["images"])[0]
        shape = self.draw_shape(batch_size)
        seeds = tf.unstack(tfr.split_seed(seed, 5))
        ranges = self.ranges
        factors = [
            tfr.uniform(seeds[i], shape, *ranges[name]) if name in ranges else tf.ones(shape)
            for i, name in enumerate(FACTORS)
        ]
        shift = tfr.uniform(seeds[3], shape, *ranges["hue"]) if "hue" in ranges else tf.zeros(shape)
        enabled = tf.constant([jitter.JITTER_OPS.index(name) for name in ranges], tf.int32)
        # A uniformly random order per image: the argsort of i.i.d. uniform keys (torch.randperm per image).
        keys = tfr.uniform(seeds[4], tf.concat([shape, [len(ranges)]], axis=0))
        order = tf.gather(enabled, tf.argsort(keys, axis=-1, stable=True))
        return {
            "order": self.per_image(order, batch_size),
            "factors": self.per_image(tf.stack(factors, axis=-1), batch_size),
            "hue": self.per_image(shift, batch_size),
        }

    def transform_images(self, images, transformation):
        ops = [jitter.JITTER_OPS.index(name) for name in self.ranges]
        return jitter.color_jitter(
            images,
            transformation["order"],
            transformation["factors"],
            transformation["hue"],
            self.value_range,
            ops=ops,
        )

    def get_config(self):
        config = super().get_config()
        config.update(brightness=self.brightness, contrast=self.contrast, saturation=self.saturation, hue=self.hue)
        return config
