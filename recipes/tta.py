"""Test-time augmentation: a classifier's class probabilities averaged over deterministic views of each image.

Views, in this order (`view_names` lists them for a given configuration):

- `"identity"`: the image, resized to the output size when it differs from it.
- `"flip"`: the same, mirrored left-right.
- `"five_crop"`: four corner crops and the centre crop (top-left, top-right, bottom-left, bottom-right,
  centre), each `crop_fraction` of the image's height and width (Krizhevsky et al. 2012).
- `"ten_crop"`: the five crops, then their mirror images, in the same order (He et al. 2016, ResNet).
- `scales`: one view per factor: the image resized by the factor, then centre-cropped or zero-padded to
  the output size (multi-scale testing); mirrored too when `"flip"` is among the views.

Output size: the model's input size when it is fixed, else the image's own size. Crops are resized to it,
so with a fixed 224 model and 256 inputs the default `crop_fraction=0.875` takes exact 224-pixel crops
from the larger image (no resampling, as in the ResNet protocol), while 224 inputs give 196-pixel crops
resized back to 224. Resizing is bilinear (`tf.image.resize`, antialiased), so views are float32 for
integer images (values keep their range) and keep a float input's dtype.

Nothing is random. All views of a batch go through the model in one stacked call of batch size
`num_views * batch`, so memory grows with the number of views: pass smaller batches to `predict` for
`"ten_crop"` with scales.

The same ensemble labels unlabeled data for a student (data distillation, Radosavovic et al. 2018):
`TTAClassifier(teacher, views="ten_crop").predict(unlabeled_images)` gives soft labels, or apply a
model yourself to `views(images, ...)`.

References:
    Krizhevsky, Sutskever, Hinton. ImageNet Classification with Deep Convolutional Neural Networks.
        NeurIPS 2012 (ten crops: four corners and centre, and their reflections).
    He, Zhang, Ren, Sun. Deep Residual Learning for Image Recognition. CVPR 2016 (10-crop testing,
        multi-scale fully-convolutional testing).
    Radosavovic, Dollar, Girshick, Gkioxari, He. Data Distillation: Towards Omni-Supervised Learning.
        CVPR 2018 (an ensemble of transformed views labels unlabeled data).
"""

import numbers

import keras
import tensorflow as tf

from tfaug.validation import check_size

VIEWS = ("identity", "flip", "five_crop", "ten_crop")
_CORNERS = ("top_left", "top_right", "bottom_left", "bottom_right", "center")


def _check_views(views):
    names = (views,) if isinstance(views, str) else views
    if not isinstance(names, (tuple, list)) or not names:
        raise ValueError(f"`views` must be a non-empty sequence of names from {list(VIEWS)}, got {views!r}.")
    unknown = [name for name in names if name not in VIEWS]
    if unknown:
        raise ValueError(f"`views` has unknown names {unknown!r}; choose from {list(VIEWS)}.")
    if len(set(names)) != len(names):
        raise ValueError(f"`views` must not repeat a name, got {views!r}.")
    return tuple(names)


def _check_crop_fraction(crop_fraction):
    ok = isinstance(crop_fraction, numbers.Real) and not isinstance(crop_fraction, bool)
    if not ok or not 0.0 < crop_fraction <= 1.0:
        raise ValueError(f"`crop_fraction` must be a number in (0, 1], got {crop_fraction!r}.")
    return float(crop_fraction)


def _check_scales(scales):
    scales = (scales,) if isinstance(scales, numbers.Real) else scales
    if not isinstance(scales, (tuple, list)):
        raise ValueError(f"`scales` must be a sequence of positive numbers, got {scales!r}.")
    for scale in scales:
        if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or scale <= 0:
            raise ValueError(f"`scales` must be a sequence of positive numbers, got {scales!r}.")
    return tuple(float(scale) for scale in scales)


def check_view_arguments(views=("identity", "flip"), crop_fraction=0.875, scales=()):
    """Checks `views`' view arguments as `views` and `TTAClassifier` do; returns them as tuples and floats.

    Raises:
        ValueError: unknown, repeated or no view names, `crop_fraction` outside (0, 1], non-positive scales.
    """
    return _check_views(views), _check_crop_fraction(crop_fraction), _check_scales(scales)


def _check_images(images):
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4:
        raise ValueError(f"`images` must be a 4D batch [batch, height, width, channels], got shape {images.shape}.")
    if not images.dtype.is_floating:
        images = tf.cast(images, tf.float32)
    return images


def view_names(views=("identity", "flip"), scales=()):
    """Names of the views `views(...)` stacks, in order (e.g. `"crop_top_left_flip"`, `"scale_1.15"`)."""
    views, scales = _check_views(views), _check_scales(scales)
    names = []
    for view in views:
        if view in ("identity", "flip"):
            names.append(view)
        else:
            crops = [f"crop_{corner}" for corner in _CORNERS]
            names += crops + ([f"{crop}_flip" for crop in crops] if view == "ten_crop" else [])
    for scale in scales:
        names += [f"scale_{scale:g}"] + ([f"scale_{scale:g}_flip"] if "flip" in views else [])
    return names


def _shape(x):
    """The shape as a list: static dims as ints (kept by `tf.reshape`), unknown ones as tensors."""
    dynamic = tf.shape(x)
    return [dim if dim is not None else dynamic[i] for i, dim in enumerate(x.shape)]


def _spatial(images):
    """Height and width as Python ints when static, else scalar tensors."""
    return tuple(_shape(images)[1:3])


def _resize(images, size):
    if all(isinstance(v, int) for v in size) and tuple(images.shape[1:3]) == tuple(size):
        return images
    # Antialiasing only acts when shrinking, where plain bilinear would alias (as torchvision's default).
    return tf.cast(tf.image.resize(images, size, method="bilinear", antialias=True), images.dtype)


def _round(fraction, side):
    if isinstance(side, int):
        return max(1, int(round(fraction * side)))
    return tf.maximum(1, tf.cast(tf.round(fraction * tf.cast(side, tf.float32)), tf.int32))


def _crops(images, crop_fraction, size):
    height, width = _spatial(images)
    crop_h, crop_w = _round(crop_fraction, height), _round(crop_fraction, width)
    bottom, right = height - crop_h, width - crop_w
    # Same convention as torchvision's five_crop: the centre offset rounds down.
    offsets = [(0, 0), (0, right), (bottom, 0), (bottom, right), (bottom // 2, right // 2)]
    crops = [images[:, top : top + crop_h, left : left + crop_w, :] for top, left in offsets]
    return [_resize(crop, size) for crop in crops]


def _scaled(images, scale, size):
    height, width = _spatial(images)
    resized = _resize(images, (_round(scale, height), _round(scale, width)))
    return tf.image.resize_with_crop_or_pad(resized, size[0], size[1])


def views(images, views=("identity", "flip"), crop_fraction=0.875, scales=(), size=None):
    """Stacks the test-time views of a batch: `[num_views, batch, out_height, out_width, channels]`.

    Deterministic; see the module docstring for each view. Feed `tf.reshape(v, [-1, *v.shape[2:]])` to a
    model and average its probabilities over axis 0 to reproduce `TTAClassifier`.

    Args:
        images: `[batch, height, width, channels]` images, any dtype and value range.
        views: names from `"identity"`, `"flip"`, `"five_crop"`, `"ten_crop"` (a string for one view);
            default `("identity", "flip")`.
        crop_fraction: side of the crops as a fraction of the image's height and width, in (0, 1];
            default 0.875 (224 of 256).
        scales: resize factors > 0 for multi-scale views; default none.
        size: output `(height, width)` or int; default the image's size.

    Returns:
        float views (float32 for integer images) in the input's value range, in `view_names` order.

    Raises:
        ValueError: for unknown or repeated view names, empty `views`, `crop_fraction` outside (0, 1],
            non-positive scales, a malformed `size`, or images that are not 4D.

    Example:
        >>> v = views(tf.zeros([2, 24, 40, 3]), views="ten_crop", crop_fraction=0.5)
        >>> v.shape
        TensorShape([10, 2, 24, 40, 3])
    """
    names, scales = _check_views(views), _check_scales(scales)
    crop_fraction, size = _check_crop_fraction(crop_fraction), check_size(size)
    images = _check_images(images)
    size = size or _spatial(images)
    flip = tf.image.flip_left_right
    stacked = []
    for name in names:
        if name == "identity":
            stacked.append(_resize(images, size))
        elif name == "flip":
            stacked.append(flip(_resize(images, size)))
        else:
            crops = _crops(images, crop_fraction, size)
            stacked += crops + ([flip(crop) for crop in crops] if name == "ten_crop" else [])
    for scale in scales:
        scaled = _scaled(images, scale, size)
        stacked += [scaled] + ([flip(scaled)] if "flip" in names else [])
    return tf.stack(stacked)


@keras.saving.register_keras_serializable(package="recipes")
class TTAClassifier(keras.Model):
    """Wraps a trained classifier; predicts the mean class probabilities over test-time views.

    Nothing is random, and the wrapped model always runs in inference mode. With a single `"identity"`
    view the predictions equal the model's (its softmax when `from_logits=True`).

    Args:
        model: a Keras classifier mapping `[batch, H, W, C]` images to `[batch, num_classes]` scores.
        views: view names (see `views`); default `("identity", "flip")`.
        crop_fraction: crop side as a fraction of the image's sides, in (0, 1]; default 0.875.
        scales: resize factors > 0 for multi-scale views; default none.
        from_logits: whether the model outputs logits (softmax is applied per view before averaging);
            default False: its outputs are already probabilities.
        size: output `(height, width)` of the views; default the model's input size when fixed, else each
            batch's own size.

    Input: `[batch, height, width, channels]` images in the model's expected value range. Output: float32
    `[batch, num_classes]` probabilities.

    Raises:
        ValueError: as `views`, naming the argument (at construction, and at call for non-4D images).

    References: Krizhevsky et al. 2012 and He et al. 2016 (crops), Radosavovic et al. 2018 (data
    distillation); see the module docstring.

    Example:
        >>> tta = TTAClassifier(model, views=("identity", "flip"), scales=(0.9, 1.1))
        >>> probabilities = tta.predict(images, batch_size=32)
    """

    def __init__(
        self,
        model,
        views=("identity", "flip"),
        crop_fraction=0.875,
        scales=(),
        from_logits=False,
        size=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not callable(model):
            raise ValueError(f"`model` must be a callable Keras model, got {model!r}.")
        self.classifier = model
        self.views = _check_views(views)
        self.crop_fraction = _check_crop_fraction(crop_fraction)
        self.scales = _check_scales(scales)
        self.from_logits = bool(from_logits)
        self.size = check_size(size) or _model_size(model)
        self.view_names = view_names(self.views, self.scales)

    def build(self, input_shape):
        # The wrapped model is trained and built; without this, Keras would trace `call` symbolically once
        # more on the first batch just to build this wrapper.
        self.built = True

    def call(self, images, training=False):
        images = _check_images(images)
        stacked = views(images, self.views, self.crop_fraction, self.scales, self.size)
        # One model call for all views: [views, batch, ...] -> [views * batch, ...] and back.
        outputs = self.classifier(tf.reshape(stacked, [-1] + _shape(stacked)[2:]), training=False)
        outputs = tf.cast(outputs, tf.float32)
        if self.from_logits:
            outputs = tf.nn.softmax(outputs, axis=-1)
        outputs = tf.reshape(outputs, [len(self.view_names), -1] + _shape(outputs)[1:])
        return tf.reduce_mean(outputs, axis=0)

    def get_config(self):
        config = super().get_config()
        config.update(
            model=keras.saving.serialize_keras_object(self.classifier),
            views=list(self.views),
            crop_fraction=self.crop_fraction,
            scales=list(self.scales),
            from_logits=self.from_logits,
            size=list(self.size) if self.size else None,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["model"] = keras.saving.deserialize_keras_object(config["model"])
        return cls(**config)


def _model_size(model):
    try:
        shape = model.input_shape
    except (AttributeError, ValueError):  # a subclassed model that was never built has none
        return None
    if isinstance(shape, (tuple, list)) and len(shape) == 4 and all(isinstance(v, int) for v in shape[1:3]):
        return (shape[1], shape[2])
    return None
