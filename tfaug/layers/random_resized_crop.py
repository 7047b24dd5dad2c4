"""RandomResizedCrop (Szegedy et al. 2015; torchvision, timm): crop a random area and aspect, resize to `size`."""

import numbers

import keras
import tensorflow as tf

from tfaug import validation as v
from tfaug.layers.base import BaseAugmentation
from tfaug.layers.base import checked_at_run_time
from tfaug.ops import bounding_boxes as box_ops
from tfaug.ops import crops
from tfaug.ops.resize import INTERPOLATIONS
from tfaug.ops.resize import resized_crop


def check_output_size(size):
    """`size`: a positive int or a `(height, width)` pair of them -> `(height, width)`; ValueError otherwise."""
    pair = (size, size) if isinstance(size, numbers.Integral) else size
    ok = isinstance(pair, (tuple, list)) and len(pair) == 2
    if not ok or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in pair):
        raise ValueError(f"`size` must be a positive int or a (height, width) pair of positive ints, got {size!r}.")
    if not all(1 <= s <= v.INT_LIMIT for s in pair):
        raise ValueError(f"`size` must hold sides in [1, 2**31 - 1] pixels, got {size!r}.")
    return (int(pair[0]), int(pair[1]))


def check_scale(scale):
    """`(min, max)` area fraction with `0 < min <= max <= 1`."""
    lo, hi = v.check_range("scale", scale, 0.0, 1.0)
    if lo <= 0.0:
        raise ValueError(f"`scale` must satisfy 0 < min <= max <= 1 (area fractions), got {scale!r}.")
    return (lo, hi)


def check_ratio(ratio):
    """`(min, max)` aspect ratio (width / height) with `0 < min <= max`."""
    lo, hi = v.check_range("ratio", ratio, 0.0)
    if lo <= 0.0:
        raise ValueError(f"`ratio` must satisfy 0 < min <= max (width / height), got {ratio!r}.")
    return (lo, hi)


@keras.saving.register_keras_serializable(package="tfaug")
class RandomResizedCrop(BaseAugmentation):
    """Crops a random window of random area and aspect ratio from each image and resizes it to `size`.

    Per image (one window per batch with `batchwise=True`), torchvision's sampling: up to 10 tries of an
    area fraction uniform in `scale` and an aspect ratio (width / height) log-uniform in `ratio`, sides
    `round(sqrt(area * aspect))` by `round(sqrt(area / aspect))`; the first try that fits is placed
    uniformly inside the image; if none fits, the central crop (the whole image, or its largest centred
    window of aspect `ratio[0]` / `ratio[1]` where the image's aspect lies outside `ratio`). The crop is then
    resized to `size` (`tfaug.ops.resize.resized_crop`: as `tf.image.resize` of the crop). Masks are
    cropped alike and resized with nearest neighbour; bounding boxes are moved and scaled with the crop,
    clipped to it, and a box left without area gets the label -1.

    The output size differs from the input's, so `training=False` (inference) cannot be the identity: it
    returns each image's largest centred window with the aspect of `size`, resized to `size` (as Keras's
    `RandomCrop` at inference and `keras.preprocessing.image.smart_resize`), so a model sees one shape in
    training and inference. For the timm evaluation transform on encoded images see
    `tfaug.data.decode_center_crop`.

    Args:
        size: output `(height, width)`, or an int for a square. Required.
        scale: `(min, max)` area fraction of the crop, `0 < min <= max <= 1`. Default (0.08, 1.0).
        ratio: `(min, max)` aspect ratio width / height, `0 < min <= max`. Default (3/4, 4/3).
        interpolation: `"bilinear"` (default), `"bicubic"` (Keys a = -0.5, as TensorFlow and PIL; clipped to
            `value_range`) or `"nearest"`.
        antialias: widen the kernel when a crop shrinks (as `tf.image.resize(antialias=True)`, PIL and
            torchvision's default); default False (TensorFlow's and the reference TF pipelines').
        value_range, batchwise, seed, bounding_box_format: see `BaseAugmentation` (`value_range` matters for
            bicubic only; boxes need `bounding_box_format`).

    Inputs: a tensor of images, `(images, labels)` or a dict; images `[B, H, W, C]` or `[H, W, C]` with
    `H, W >= 1`, any float or integer dtype. Returns images `[B, size[0], size[1], C]` in the same dtype
    (integers rounded half-to-even); labels unchanged; masks `[B, size[0], size[1](, 1)]`.

    Raises:
        ValueError: for a bad `size`, `scale` (min > max, outside (0, 1]), `ratio`, `interpolation` or
            `antialias`; bounding boxes without `bounding_box_format`; images without pixels.

    Example:
        >>> images = tf.random.uniform([8, 64, 96, 3], maxval=255)
        >>> RandomResizedCrop(32, seed=0)(images).shape
        TensorShape([8, 32, 32, 3])

    Reference: Szegedy et al., "Going Deeper with Convolutions", CVPR 2015 (the Inception crop);
    torchvision `transforms.RandomResizedCrop`.
    """

    keeps_bounding_boxes = False
    moves_bounding_boxes = True

    def __init__(
        self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0), interpolation="bilinear", antialias=False, **kwargs
    ):
        super().__init__(**kwargs)
        self.output_size = check_output_size(size)
        self.size = self.output_size if isinstance(size, (tuple, list)) else self.output_size[0]
        self.scale = check_scale(scale)
        self.ratio = check_ratio(ratio)
        self.interpolation = v.check_choice("interpolation", interpolation, INTERPOLATIONS)
        self.antialias = v.check_bool("antialias", antialias)
        # Only bicubic reads the range (to clip its overshoot): the other kernels stay inside the input's.
        self.uses_value_range = self.interpolation == "bicubic"
        self._central = False

    # -- parameters ----------------------------------------------------------------------------------------

    def get_random_transformation(self, data, seed):
        shape = _checked_shape(data["images"], self._name_for_errors)
        batch_size, height, width = shape[0], shape[1], shape[2]
        one = self.batchwise or self._central
        n = 1 if one else batch_size
        heights, widths = tf.fill([n], height), tf.fill([n], width)
        if self._central:
            windows = crops.aspect_crop_windows(heights, widths, self.output_size)
        else:
            windows = crops.random_resized_crop_windows(seed, heights, widths, self.scale, self.ratio)
        return {"windows": tf.broadcast_to(windows, tf.stack([batch_size, 4])) if one else windows}

    # -- applying ------------------------------------------------------------------------------------------

    def transform_images(self, images, transformation):
        value_range = self.value_range if self.interpolation == "bicubic" else None
        return resized_crop(
            images, transformation["windows"], self.output_size, self.interpolation, self.antialias, value_range
        )

    def transform_segmentation_masks(self, masks, transformation):
        return resized_crop(masks, transformation["windows"], self.output_size, "nearest")

    def transform_bounding_boxes(self, bounding_boxes, transformation, height, width):
        fmt, (out_h, out_w) = self.bounding_box_format, self.output_size
        boxes = box_ops.to_xyxy(bounding_boxes["boxes"], fmt, height, width)
        top, left, crop_h, crop_w = tf.unstack(tf.cast(transformation["windows"], tf.float32)[:, None, :], 4, -1)
        sx, sy = out_w / crop_w, out_h / crop_h
        x1, y1, x2, y2 = tf.unstack(boxes, 4, axis=-1)
        moved = tf.stack([(x1 - left) * sx, (y1 - top) * sy, (x2 - left) * sx, (y2 - top) * sy], axis=-1)
        moved, labels = box_ops.clip(moved, bounding_boxes["labels"], out_h, out_w)
        return {"boxes": box_ops.from_xyxy(moved, fmt, out_h, out_w, bounding_boxes["boxes"].dtype), "labels": labels}

    # -- inference and shapes ------------------------------------------------------------------------------

    def call(self, inputs, training=True):
        if training:
            return self.augment(inputs)
        return self.central_crop(inputs)

    def central_crop(self, inputs):
        """The inference transform: each image's largest centred window with the aspect of `size`, resized."""
        self._central = True
        try:
            return self.augment(inputs, seed=tf.zeros([2], tf.int64))
        finally:
            self._central = False

    def __call__(self, inputs, *args, **kwargs):
        if keras.backend.backend() != "tensorflow":  # tf.data under another backend: no Keras conversion
            training = kwargs.get("training", args[0] if args else True)
            return self.call(inputs, training=training is None or bool(training))
        return super().__call__(inputs, *args, **kwargs)

    def compute_output_shape(self, input_shape):
        """Images `[B, H, W, C]` -> `[B, size[0], size[1], C]` (`[H, W, C]` -> `[size[0], size[1], C]`)."""
        shape = tuple(input_shape)
        return (*shape[:-3], *self.output_size, shape[-1])

    def compute_output_spec(self, inputs, *args, **kwargs):
        def spec(x, key):
            shape = tuple(x.shape)
            if key == "images":
                shape = self.compute_output_shape(shape)
            elif key == "segmentation_masks":
                shape = (shape[0], *self.output_size, *shape[3:])
            return keras.KerasTensor(shape, dtype=x.dtype)

        if isinstance(inputs, dict):
            return {
                key: keras.tree.map_structure(lambda x, key=key: spec(x, key), value) for key, value in inputs.items()
            }
        if isinstance(inputs, (tuple, list)) and len(inputs) == 2:
            return (spec(inputs[0], "images"), spec(inputs[1], "labels"))
        return spec(inputs, "images")

    def get_config(self):
        config = super().get_config()
        config.update(
            size=self.size,
            scale=self.scale,
            ratio=self.ratio,
            interpolation=self.interpolation,
            antialias=self.antialias,
        )
        return config


def _checked_shape(images, owner):
    """`tf.shape(images)`, checked to have at least one pixel per image (a crop needs one): a ValueError at
    trace time where the sides are static, else a check when the graph runs."""
    height, width = images.shape[1], images.shape[2]
    message = f"{owner} needs images of at least 1 x 1 pixels"
    shape = tf.shape(images)
    if height is not None and width is not None:
        if (height == 0 or width == 0) and images.shape[0] != 0:
            raise ValueError(f"{message}, got {height} x {width}.")
        return shape
    return checked_at_run_time(shape, (shape[0] == 0) | ((shape[1] > 0) & (shape[2] > 0)), message + ".")
