"""Per-element decoding for the input pipeline: a random resized crop fused with JPEG decoding, and the
evaluation centre crop. Each function maps ONE encoded image (a scalar string: JPEG, PNG, GIF or BMP bytes)
to a uint8 `[height, width, 3]` image, before batching.

    >>> ds = tf.data.Dataset.from_tensor_slices((paths, labels)).map(lambda p, y: (tf.io.read_file(p), y))
    >>> ds = ds.repeat().enumerate().map(tfaug.data.decode_random_resized_crop(224, seed=0),
    ...                                  num_parallel_calls=tf.data.AUTOTUNE)  # (image, label)
"""

import math
import numbers

import tensorflow as tf

from tfaug import validation as v
from tfaug.layers.random_resized_crop import check_output_size
from tfaug.layers.random_resized_crop import check_ratio
from tfaug.layers.random_resized_crop import check_scale
from tfaug.ops import crops
from tfaug.ops.dtypes import from_float
from tfaug.ops.resize import INTERPOLATIONS
from tfaug.random import SeedGenerator


def decode_random_resized_crop(
    size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0), interpolation="bilinear", seed=None, *, antialias=False
):
    """Map function: decode an image and take a random resized crop of it, without decoding all of a JPEG.

    The window is `RandomResizedCrop`'s (`tfaug.ops.crops.random_resized_crop_windows`, torchvision's
    sampling). For JPEG bytes it is drawn from the size `tf.io.extract_jpeg_shape` reads from the header, and
    `tf.io.decode_and_crop_jpeg` decodes only the window's blocks (as the TensorFlow reference ResNet and
    EfficientNet pipelines do, whose window sampler, `tf.image.sample_distorted_bounding_box`, differs from
    torchvision's). Other formats (PNG, GIF's first frame, BMP) are decoded whole, then cropped alike. The
    crop is resized with `tf.image.resize` (half-pixel centres), rounded and clipped to uint8.

    With the same `[2]` seed the window equals the one `RandomResizedCrop` draws for the decoded image
    alone (a batch of one), so the output equals that layer's up to JPEG's block-edge decoding and float
    rounding (bicubic: TensorFlow's tabulated weights against exact ones, below a level in 255).

    Seeds: as the `tfaug.data` map functions. `fn(image_bytes)` takes the next seed of a counter;
    `fn(index, image_bytes)` (after `enumerate()`) takes the element index's, reproducible under a parallel
    `map`. Elements with more parts pass them through: `fn(image_bytes, label)` and
    `fn(index, (image_bytes, label))` return `(image, label)`.

    Args:
        size: output `(height, width)` or an int for a square.
        scale: `(min, max)` area fraction, `0 < min <= max <= 1`. Default (0.08, 1.0).
        ratio: `(min, max)` aspect ratio width / height, `0 < min <= max`. Default (3/4, 4/3).
        interpolation: `"bilinear"` (default), `"bicubic"` or `"nearest"`.
        seed: int seed, or None for OS entropy.
        antialias: antialiased resizing (`tf.image.resize(antialias=True)`, as PIL); default False.

    Returns:
        `fn`, returning uint8 `[size[0], size[1], 3]` (grayscale images are expanded to RGB).

    Raises:
        ValueError: for a bad `size`, `scale`, `ratio`, `interpolation` or `antialias`, when built.
        tf.errors.InvalidArgumentError: when the element runs, for bytes that are no image ("Unknown image
            file format") or a corrupt JPEG ("Invalid JPEG data"). Skip such elements with
            `dataset.ignore_errors()`.

    Example:
        >>> fn = decode_random_resized_crop(224, seed=0)
        >>> fn(tf.io.read_file("cat.jpg")).shape
        TensorShape([224, 224, 3])
    """
    output_size = check_output_size(size)
    scale, ratio = check_scale(scale), check_ratio(ratio)
    interpolation = v.check_choice("interpolation", interpolation, INTERPOLATIONS)
    antialias = v.check_bool("antialias", antialias)
    generator = SeedGenerator(seed)

    def decode(image_bytes, index):
        seed = generator.next() if index is None else generator.for_index(index)

        def window_of(height, width):
            return crops.random_resized_crop_windows(seed, height[None], width[None], scale, ratio)[0]

        def jpeg():
            shape = tf.io.extract_jpeg_shape(image_bytes)
            return tf.io.decode_and_crop_jpeg(image_bytes, window_of(shape[0], shape[1]), channels=3)

        def other():
            image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
            shape = tf.shape(image)
            top, left, height, width = tf.unstack(window_of(shape[0], shape[1]))
            return tf.slice(image, tf.stack([top, left, 0]), tf.stack([height, width, 3]))

        crop = tf.cond(tf.io.is_jpeg(image_bytes), jpeg, other)
        return _resized(crop, output_size, interpolation, antialias)

    fn = _element_function(decode)
    fn.seed_generator = generator
    return fn


def decode_center_crop(size, crop_pct=0.875, interpolation="bilinear", *, antialias=False):
    """Map function: the evaluation transform of timm and torchvision on encoded images.

    The image is decoded whole, resized so that its shorter side is `floor(size / crop_pct)` (the longer
    side `int(side * long / short)`, torchvision's `Resize(int)`), and its centre `size` window is cut out
    (torchvision's `CenterCrop`: offsets `round((H - h) / 2)`). For a non-square `(height, width)` both sides
    are resized to `floor(side / crop_pct)` first, as timm does for a size pair. `crop_pct <= 1` makes the
    resized image at least as large as the crop, so any image, however small, is resized up and cropped.

    `fn(image_bytes)`; `fn(index, image_bytes)` ignores the index (nothing is random); extra parts pass
    through as in `decode_random_resized_crop`.

    Args:
        size: output `(height, width)` or an int for a square (224 for ImageNet).
        crop_pct: the crop's share of the resized shorter side, in (0, 1]. Default 0.875 (256 -> 224).
        interpolation: `"bilinear"` (default), `"bicubic"` or `"nearest"`.
        antialias: antialiased resizing (as PIL, which timm's evaluation uses); default False.

    Returns:
        `fn`, returning uint8 `[size[0], size[1], 3]`.

    Raises:
        ValueError: for a bad `size`, `crop_pct`, `interpolation` or `antialias`, when built.
        tf.errors.InvalidArgumentError: for bytes that are no image, when the element runs.

    Example:
        >>> decode_center_crop(224)(tf.io.read_file("cat.jpg")).shape
        TensorShape([224, 224, 3])
    """
    output_size = check_output_size(size)
    if isinstance(crop_pct, bool) or not isinstance(crop_pct, numbers.Real) or not 0.0 < crop_pct <= 1.0:
        raise ValueError(f"`crop_pct` must be a number in (0, 1], got {crop_pct!r}.")
    interpolation = v.check_choice("interpolation", interpolation, INTERPOLATIONS)
    antialias = v.check_bool("antialias", antialias)
    scaled = tuple(math.floor(side / float(crop_pct)) for side in output_size)

    def decode(image_bytes, index):
        del index
        image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
        shape = tf.shape(image)
        if scaled[0] == scaled[1]:
            new_h, new_w = crops.shorter_side_size(shape[0], shape[1], scaled[0])
        else:
            new_h, new_w = tf.constant(scaled[0]), tf.constant(scaled[1])
        resized = _resize(image, tf.stack([new_h, new_w]), interpolation, antialias)
        top, left = crops.center_crop_offsets(new_h, new_w, output_size)
        crop = tf.slice(resized, tf.stack([top, left, 0]), [output_size[0], output_size[1], 3])
        return tf.ensure_shape(from_float(crop, tf.uint8), [*output_size, 3])

    return _element_function(decode)


def _resize(image, size, interpolation, antialias):
    """float32 `tf.image.resize`, clipped to [0, 255] (bicubic overshoots)."""
    resized = tf.image.resize(image, size, method=interpolation, antialias=antialias)
    return tf.clip_by_value(tf.cast(resized, tf.float32), 0.0, 255.0)


def _resized(crop, size, interpolation, antialias):
    out = from_float(_resize(crop, size, interpolation, antialias), tf.uint8)
    return tf.ensure_shape(out, [*size, 3])


def _is_index(value):
    return isinstance(value, tf.Tensor) and value.shape.rank == 0 and value.dtype.is_integer


def _element_function(decode):
    """`fn(*args)` for `Dataset.map`: an optional leading element index, then the image bytes, alone or first
    of a tuple whose other parts pass through."""

    @tf.autograph.experimental.do_not_convert
    def fn(*args):
        args = tf.nest.map_structure(tf.convert_to_tensor, args)
        index = None
        if len(args) == 2 and _is_index(args[0]):
            index, args = args[0], tuple(args[1]) if isinstance(args[1], (tuple, list)) else (args[1],)
        image_bytes = args[0]
        if not isinstance(image_bytes, tf.Tensor) or image_bytes.dtype != tf.string or image_bytes.shape.rank != 0:
            raise ValueError(
                "The map function takes one encoded image (a scalar string tensor), optionally after an element "
                f"index and before other parts (labels); got {image_bytes!r}."
            )
        image = decode(image_bytes, index)
        return image if len(args) == 1 else (image, *args[1:])

    return fn
