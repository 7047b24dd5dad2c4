"""`BaseAugmentation`: the Keras layer all tfaug augmentations share.

A subclass implements three things: `get_random_transformation(data, seed)` draws every random quantity
of one call into a dict of tensors; `transform_images` / `transform_labels` /
`transform_segmentation_masks` apply such a dict. Tests and users can inject a hand-written dict.
The base class handles the input structure, dtype and shape checks, labels, seeds and `training`.
"""

import keras
import tensorflow as tf

from tfaug import validation as v
from tfaug.layers._structure import BOXES
from tfaug.layers._structure import IMAGES
from tfaug.layers._structure import LABELS
from tfaug.layers._structure import MASKS
from tfaug.layers._structure import pack
from tfaug.layers._structure import unpack
from tfaug.ops import bounding_boxes as box_ops
from tfaug.ops import labels as label_ops
from tfaug.random import SeedGenerator

DEFAULT_VALUE_RANGE = (0.0, 255.0)


class BaseAugmentation(keras.layers.Layer):
    """Base class: tensor / `(images, labels)` / dict inputs, per-sample seeded randomness.

    Args:
        value_range: `(low, high)` meaning of pixel values; default `None`, which means `(0, 255)` and
            refuses float images that look like `[0, 1]` ones (pass `value_range=(0, 1)` for those).
        num_classes: number of classes, needed to turn sparse integer labels into dense ones.
        batchwise: draw one set of random parameters for the whole batch instead of one per image.
        seed: int seed; the same seed and the same number of earlier calls give the same output.
            `None` draws a seed from OS entropy.
        bounding_box_format: the format of `bounding_boxes` inputs (one of `tfaug.ops.bounding_boxes.FORMATS`,
            as in `keras.utils.bounding_boxes`); needed by the layers that move boxes.
    """

    #: The layer changes labels (mixing, smoothing): labels are required and returned dense.
    transforms_labels = False
    #: The layer mixes images of a batch: at least two images are needed.
    mixes_batch = False
    #: The layer moves no pixels, so bounding boxes pass through unchanged.
    keeps_bounding_boxes = True
    #: The layer moves pixels and bounding boxes with them (`transform_bounding_boxes`). A layer that
    #: neither keeps nor moves boxes refuses them.
    moves_bounding_boxes = False
    #: The layer reads `value_range` (fills, noise, policies): pixel values are checked against it.
    uses_value_range = False
    #: Dict keys beyond images, labels, masks and boxes that the layer reads (passed to `unpack`).
    extra_keys = ()

    def __init__(
        self, value_range=None, num_classes=None, batchwise=False, seed=None, bounding_box_format=None, **kwargs
    ):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.value_range = value_range
        if bounding_box_format is not None:
            bounding_box_format = box_ops.check_format(bounding_box_format)
        self.bounding_box_format = bounding_box_format
        self.num_classes = v.check_num_classes(num_classes)
        self.batchwise = v.check_bool("batchwise", batchwise)
        self.seed = seed
        self._seed_generator = SeedGenerator(seed)
        self.supports_jit = True
        # Keep uint8 / float64 inputs as they are and accept (images, labels) tuples and dicts.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True

    @property
    def value_range(self):
        """`(low, high)` of pixel values: the given range, or `(0, 255)` when none was given."""
        return DEFAULT_VALUE_RANGE if self._value_range is None else self._value_range

    @value_range.setter
    def value_range(self, value_range):
        self._value_range = None if value_range is None else v.check_value_range(value_range)

    # -- to implement -------------------------------------------------------------------------------

    def get_random_transformation(self, data, seed):
        """Draws this call's random parameters: returns a dict of tensors (per image unless batchwise)."""
        raise NotImplementedError

    def transform_images(self, images, transformation):
        return images

    def transform_labels(self, labels, transformation):
        return labels

    def transform_segmentation_masks(self, masks, transformation):
        return masks

    def transform_bounding_boxes(self, bounding_boxes, transformation, height, width):
        """Applies `transformation` to Keras's box dict (`bounding_box_format`) on `height` x `width` images.

        Called for the layers that move boxes (`moves_bounding_boxes`).
        """
        raise NotImplementedError

    # -- machinery -----------------------------------------------------------------------------------

    @property
    def _name_for_errors(self):
        return type(self).__name__

    def augment(self, inputs, seed=None):
        """Augments `inputs` (tensor, `(images, labels)` or dict) with a fresh or the given `[2]` seed.

        Pure TensorFlow: this is what `call` runs in training and what the `tfaug.data` map functions run.
        """
        owner = self._name_for_errors
        data, structure = unpack(inputs, owner, self.extra_keys)
        data = _same_batch_at_run_time(data, owner)
        images = data[IMAGES]
        if BOXES in data:
            self._check_boxes_supported()
        if self.mixes_batch:
            self._check_mixable(images, structure.unbatched)
        if self.transforms_labels:
            if LABELS not in data:
                raise ValueError(
                    f"{owner} changes labels, so it needs them: pass (images, labels) or "
                    f"{{'images': ..., 'labels': ...}}, not images alone."
                )
            data[LABELS] = self._dense_labels(data[LABELS])
        if self.uses_value_range:
            images = self._checked_values(images)
        seed = self._seed_generator.next() if seed is None else seed
        transformation = self.get_random_transformation(data, seed=seed)
        out = dict(data)
        out[IMAGES] = self.transform_images(images, transformation)
        if self.transforms_labels:
            out[LABELS] = self.transform_labels(data[LABELS], transformation)
        if MASKS in data:
            out[MASKS] = self.transform_segmentation_masks(data[MASKS], transformation)
        if BOXES in data and self.moves_bounding_boxes:
            shape = tf.shape(images)
            out[BOXES] = self.transform_bounding_boxes(data[BOXES], transformation, shape[1], shape[2])
        return pack(out, structure)

    def draw_shape(self, batch_size):
        """Shape of per-image draws: `[B]`, or `[1]` (broadcast later by `per_image`) when `batchwise`."""
        return [1] if self.batchwise else [batch_size]

    def per_image(self, values, batch_size):
        """Broadcasts a batchwise `[1, ...]` draw to `[B, ...]`; per-image draws pass through."""
        if not self.batchwise:
            return values
        return tf.broadcast_to(values, tf.concat([[batch_size], tf.shape(values)[1:]], axis=0))

    def seed_for_index(self, index):
        """The `[2]` seed this layer uses for dataset element `index` (see `tfaug.data`)."""
        return self._seed_generator.for_index(index)

    def call(self, inputs, training=True):
        if not training:
            return inputs
        return self.augment(inputs)

    def __call__(self, inputs, *args, **kwargs):
        # Under a non-TensorFlow Keras backend the layer can still run in tf.data (TensorFlow graphs):
        # skip Keras's backend conversion and run the pure-TensorFlow path.
        if keras.backend.backend() != "tensorflow":
            training = kwargs.get("training", args[0] if args else True)
            return self.augment(inputs) if training is None or bool(training) else inputs
        return super().__call__(inputs, *args, **kwargs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_spec(self, inputs, *args, **kwargs):
        """Symbolic outputs: the inputs' specs, with labels dense float when the layer changes them."""

        def same(x):
            return keras.KerasTensor(x.shape, dtype=x.dtype)

        def dense_labels(labels):
            dtype = str(labels.dtype)
            is_integer = "int" in dtype
            sparse = is_integer and (len(labels.shape) == 1 or (len(labels.shape) == 2 and labels.shape[-1] == 1))
            if sparse:
                return keras.KerasTensor((labels.shape[0], self.num_classes), dtype="float32")
            return keras.KerasTensor(labels.shape, dtype="float32" if is_integer else dtype)

        if not self.transforms_labels:
            return keras.tree.map_structure(same, inputs)
        if isinstance(inputs, dict):
            return {key: dense_labels(value) if key == LABELS else same(value) for key, value in inputs.items()}
        if isinstance(inputs, (tuple, list)) and len(inputs) == 2:
            return (same(inputs[0]), dense_labels(inputs[1]))
        return same(inputs)

    def get_config(self):
        config = super().get_config()
        config.update(
            value_range=self._value_range,
            num_classes=self.num_classes,
            batchwise=self.batchwise,
            seed=self.seed,
            bounding_box_format=self.bounding_box_format,
        )
        return config

    # -- checks ---------------------------------------------------------------------------------------

    def _check_boxes_supported(self):
        owner = self._name_for_errors
        if not (self.keeps_bounding_boxes or self.moves_bounding_boxes):
            raise ValueError(f"{owner} does not support `bounding_boxes`; pass images, labels and masks only.")
        if self.moves_bounding_boxes and self.bounding_box_format is None:
            raise ValueError(
                f"{owner} moves `bounding_boxes`, so it needs their format: set `bounding_box_format` to one of "
                f"{list(box_ops.FORMATS)}."
            )

    def _check_mixable(self, images, unbatched):
        if unbatched:
            raise ValueError(
                f"{self._name_for_errors} mixes images of a batch: pass `images` as [batch, height, width, channels]."
            )

    def _dense_labels(self, labels):
        """Sparse `[B]` / `[B, 1]` integer ids -> `[B, num_classes]` float32; dense labels checked."""
        owner = self._name_for_errors
        sparse = labels.dtype.is_integer and (
            labels.shape.rank == 1 or (labels.shape.rank == 2 and labels.shape[-1] == 1)
        )
        if sparse:
            if self.num_classes is None:
                raise ValueError(
                    f"{owner}: sparse integer `labels` of shape {labels.shape} need `num_classes` to be "
                    f"turned into dense [batch, num_classes] labels; set `num_classes` or pass one-hot labels."
                )
            message = f"{owner}: sparse `labels` must lie in [0, num_classes={self.num_classes})"
            if tf.executing_eagerly():
                ids = labels.numpy()
                if ids.size and (ids.min() < 0 or ids.max() >= self.num_classes):
                    raise ValueError(f"{message}, got values in [{ids.min()}, {ids.max()}].")
            else:
                labels = checked_at_run_time(labels, (labels >= 0) & (labels < self.num_classes), message + ".")
            return label_ops.one_hot(labels, self.num_classes)
        if labels.shape.rank != 2 or not (labels.dtype.is_floating or labels.dtype.is_integer):
            raise ValueError(
                f"{owner}: `labels` must be dense [batch, num_classes] or sparse integer [batch] / [batch, 1], "
                f"got shape {labels.shape} and dtype {labels.dtype.name}."
            )
        if self.num_classes is not None and labels.shape[-1] not in (None, self.num_classes):
            raise ValueError(
                f"{owner}: dense `labels` have {labels.shape[-1]} classes but `num_classes` is {self.num_classes}."
            )
        return labels if labels.dtype.is_floating else tf.cast(labels, tf.float32)

    def _checked_values(self, images):
        """`images`, checked to lie in `value_range` and, under the default range, not to look like float images
        in [0, 1] (which the ops would treat as nearly black). Eagerly every value is read; in graphs a grid of
        at most 32 x 32 pixels per image, checked when the graph runs."""
        looks_unit = self._value_range is None and images.dtype.is_floating
        owner, (low, high) = self._name_for_errors, self.value_range
        outside = f"{owner}: `images` values lie outside `value_range`={self.value_range}"
        unit = (
            f"{owner}: `images` look like float images in [0, 1] but `value_range` is the default (0, 255): pass "
            "value_range=(0, 1), or value_range=(0, 255) for images that are this dark"
        )
        if tf.executing_eagerly():
            if tf.size(images) == 0:
                return images
            lo, hi = float(tf.reduce_min(images)), float(tf.reduce_max(images))
            if lo < low or hi > high:
                raise ValueError(f"{outside}: [{lo}, {hi}]; pass the value_range your images use.")
            if looks_unit and 0.0 < hi <= 1.0:
                raise ValueError(f"{unit} (largest value {hi}).")
            return images
        grid = tf.cast(_pixel_grid(images), tf.float32)
        empty = tf.equal(tf.size(grid), 0)
        lo, hi = tf.reduce_min(grid), tf.reduce_max(grid)
        images = checked_at_run_time(images, empty | ((lo >= low) & (hi <= high)), outside + ".")
        if looks_unit:
            images = checked_at_run_time(images, empty | (hi <= 0.0) | (hi > 1.0), unit + ".")
        return images


def _pixel_grid(images, side=32):
    """Every k-th row and column of `[B, H, W, C]` images, at most `side` x `side` pixels per image."""
    shape = tf.shape(images)
    rows, columns = tf.maximum(shape[1] // side, 1), tf.maximum(shape[2] // side, 1)
    return images[:, ::rows, ::columns, :]


def checked_at_run_time(tensor, condition, message):
    """`tensor`, with a check that `condition` holds everywhere when the graph runs (in `tf.function` and
    `tf.data`, where values are unknown at trace time): an `InvalidArgumentError` with `message` otherwise.
    XLA ignores such checks, so under `jit_compile` only the eager and trace-time checks apply."""
    check = tf.debugging.assert_equal(tf.reduce_all(condition), True, message=message)
    with tf.control_dependencies([check]):
        return tf.identity(tensor)


def _same_batch_at_run_time(data, owner):
    """`data` whose labels, masks and boxes are checked to have the images' batch size where a size is only
    known at run time (the static sizes are checked by `unpack`)."""
    batch = tf.shape(data[IMAGES])[0]
    out = dict(data)
    for key in (LABELS, MASKS, BOXES):
        if key not in data:
            continue
        tensor = data[key]["labels"] if key == BOXES else data[key]
        if tensor.shape[0] is not None and data[IMAGES].shape[0] is not None:
            continue
        message = f"{owner}: `{key}` must have the batch size of `images`."
        same = tf.equal(tf.shape(tensor)[0], batch)
        if key == BOXES:
            out[key] = {name: checked_at_run_time(part, same, message) for name, part in data[key].items()}
        else:
            out[key] = checked_at_run_time(tensor, same, message)
    return out
