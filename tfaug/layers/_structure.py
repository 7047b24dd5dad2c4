"""Input structures shared by every layer: a tensor, an `(images, labels)` tuple, or a dict.

`unpack` turns any of them into a dict of batched tensors and remembers how to give the same structure
back; `pack` does that. Images `[H, W, C]` are batched to `[1, H, W, C]` and unbatched on the way out.
"""

import numpy as np
import tensorflow as tf

IMAGES = "images"
LABELS = "labels"
MASKS = "segmentation_masks"
BOXES = "bounding_boxes"
KEYS = (IMAGES, LABELS, MASKS, BOXES)


class Structure:
    """How the caller passed its data: `kind` is "tensor", "tuple" or "dict"; `unbatched` for `[H, W, C]`."""

    def __init__(self, kind, unbatched, keys):
        self.kind = kind
        self.unbatched = unbatched
        self.keys = keys


def unpack(inputs, owner, extra_keys=()):
    """Returns `(data, structure)` with `data` a dict of tensors, images batched to rank 4.

    `extra_keys` are further dict keys the calling layer reads (SaliencyMix's `"saliency"`): converted to
    tensors and batched like labels, returned as given unless the layer changes them.
    """
    if isinstance(inputs, (tf.RaggedTensor, tf.SparseTensor)):
        raise TypeError(
            f"{owner}: `images` must be a dense tensor, got a {type(inputs).__name__}; resize or pad the images "
            f"to one size first (`tf.image.resize`, or `.to_tensor()` for a ragged batch)."
        )
    if isinstance(inputs, dict):
        unknown = sorted(set(inputs) - set(KEYS) - set(extra_keys))
        if unknown:
            raise ValueError(
                f"{owner}: unknown input keys {unknown}; a dict input may hold {list(KEYS) + list(extra_keys)}."
            )
        if IMAGES not in inputs:
            raise ValueError(f"{owner}: a dict input needs an {IMAGES!r} entry, got keys {sorted(inputs)}.")
        data = dict(inputs)
        kind = "dict"
    elif isinstance(inputs, list) and not _images_and_labels(inputs):
        # `[image0, image1]` is not `(images, labels)`: a list of images is refused rather than guessed.
        raise ValueError(
            f"{owner}: a list input must be [images, labels] (as Keras passes a tuple on); for several images "
            f"pass one tensor [batch, height, width, channels] (`tf.stack` the list)."
        )
    elif isinstance(inputs, (tuple, list)):
        if len(inputs) != 2:
            raise ValueError(
                f"{owner}: a tuple input must be (images, labels), got a {type(inputs).__name__} of "
                f"length {len(inputs)}."
            )
        data = {IMAGES: inputs[0], LABELS: inputs[1]}
        kind = "tuple"
    else:
        data = {IMAGES: inputs}
        kind = "tensor"
    keys = tuple(data)

    for key in (IMAGES, LABELS, MASKS, *extra_keys):
        if key in data:
            data[key] = tf.convert_to_tensor(data[key])
    if BOXES in data:
        data[BOXES] = _boxes(data[BOXES], owner)
    images = data[IMAGES]
    _check_images(images, owner)
    unbatched = images.shape.rank == 3
    if unbatched:
        data = {key: _batched(key, value) for key, value in data.items()}
    if MASKS in data:
        _check_masks(data[MASKS], data[IMAGES], owner)
    if LABELS in data:
        _check_batch(data[LABELS], data[IMAGES], LABELS, owner)
    if BOXES in data:
        _check_boxes(data[BOXES], data[IMAGES], owner)
    return data, Structure(kind, unbatched, keys)


def _batched(key, value):
    """`value` with a batch dimension of one added (images, labels, masks, each part of the boxes)."""
    if key == BOXES:
        return {name: part[None] for name, part in value.items()}
    return value[None]


def _unbatched(key, value):
    if key == BOXES:
        return {name: part[0] for name, part in value.items()}
    return value[0]


def _images_and_labels(inputs):
    """Whether a list reads as `[images, labels]`: two entries, the second of rank 1 or 2 (labels), not an
    image of rank 3 or more, or of rank 0 beside one unbatched image (its sparse label)."""
    if len(inputs) != 2:
        return False
    image_rank, rank = (len(x.shape) if hasattr(x, "shape") else np.ndim(x) for x in inputs)
    return rank in (1, 2) or (rank == 0 and image_rank == 3)


def pack(data, structure):
    """Gives `data` back in the caller's structure (and unbatched if the caller passed one image)."""
    if structure.unbatched:
        data = {key: _unbatched(key, value) for key, value in data.items()}
    if structure.kind == "tensor":
        return data[IMAGES]
    if structure.kind == "tuple":
        return (data[IMAGES], data[LABELS])
    return {key: data[key] for key in structure.keys}


def _check_images(images, owner):
    dtype = images.dtype
    if not (dtype.is_floating or dtype.is_integer) or dtype == tf.bool:
        raise TypeError(f"{owner}: `images` must have a float or integer dtype, got {dtype.name}.")
    rank = images.shape.rank
    if rank not in (3, 4):
        raise ValueError(
            f"{owner}: `images` must be [batch, height, width, channels] or [height, width, channels], "
            f"got shape {images.shape} (rank {rank})."
        )


def _check_masks(masks, images, owner):
    if not masks.dtype.is_integer:
        raise TypeError(f"{owner}: `segmentation_masks` must have an integer dtype, got {masks.dtype.name}.")
    if masks.shape.rank not in (3, 4):
        raise ValueError(
            f"{owner}: `segmentation_masks` must be [batch, height, width] or [batch, height, width, 1], "
            f"got shape {masks.shape}."
        )
    if not masks.shape[:3].is_compatible_with(images.shape[:3]):
        raise ValueError(
            f"{owner}: `segmentation_masks` of shape {masks.shape} do not match `images` of shape "
            f"{images.shape} in batch, height and width."
        )


def _check_batch(tensor, images, name, owner):
    if tensor.shape.rank is None or tensor.shape.rank == 0:
        raise ValueError(f"{owner}: `{name}` must have a batch dimension, got shape {tensor.shape}.")
    batch, image_batch = tensor.shape[0], images.shape[0]
    if batch is not None and image_batch is not None and batch != image_batch:
        raise ValueError(f"{owner}: `{name}` has batch size {batch} but `images` has batch size {image_batch}.")


def _boxes(boxes, owner):
    """Keras's bounding-box dict `{"boxes": [B, N, 4], "labels": [B, N]}` as tensors."""
    if not isinstance(boxes, dict) or set(boxes) != {"boxes", "labels"}:
        found = sorted(boxes) if isinstance(boxes, dict) else type(boxes).__name__
        raise ValueError(
            f"{owner}: `bounding_boxes` must be a dict with 'boxes' [batch, num_boxes, 4] and 'labels' "
            f"[batch, num_boxes], got {found}."
        )
    return {name: tf.convert_to_tensor(part) for name, part in boxes.items()}


def _check_boxes(boxes, images, owner):
    coordinates, labels = boxes["boxes"], boxes["labels"]
    if coordinates.shape.rank != 3 or coordinates.shape[-1] not in (None, 4) or labels.shape.rank != 2:
        raise ValueError(
            f"{owner}: `bounding_boxes` must hold 'boxes' [batch, num_boxes, 4] and 'labels' [batch, num_boxes] "
            f"([num_boxes, 4] and [num_boxes] for one image), got shapes {coordinates.shape} and {labels.shape}."
        )
    numeric = [t.dtype != tf.bool and (t.dtype.is_floating or t.dtype.is_integer) for t in (coordinates, labels)]
    if not all(numeric):
        raise TypeError(
            f"{owner}: `bounding_boxes` need numeric 'boxes' and 'labels', got "
            f"{coordinates.dtype.name} and {labels.dtype.name}."
        )
    if not coordinates.shape[:2].is_compatible_with(labels.shape):
        raise ValueError(f"{owner}: `bounding_boxes` 'boxes' {coordinates.shape} and 'labels' {labels.shape} differ.")
    _check_batch(coordinates, images, BOXES, owner)
