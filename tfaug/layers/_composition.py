"""Shared parts of the composition layers (RandomApply, RandomChoice, RandomOrder): per-image choices of
inner layers, each inner layer run only on the images that chose it.

A composition draws, per image, which inner layer it applies at each step (`layer_ids`, `[steps, B]`, -1 for
none). For each step and inner layer, the rows that chose the layer are gathered in chunks, the layer runs on
each chunk and the results are scattered back (`tfaug.ops.selection.apply_to_rows`): the cost follows the
draw, and the chunk's shape, set by the batch size rather than by the draw, compiles under XLA, which cannot
take the data-dependent shape of "the images that chose layer k". The last chunk of a group repeats its last
row; that slot's result is replaced by the row's own result before the scatter, so a random inner layer's two
draws for one row never both reach the output.
"""

import copy
import json
import math

import keras
import tensorflow as tf

from tfaug import random as tfr
from tfaug.layers._feature_statistics import FeatureStatisticsLayer
from tfaug.layers._structure import BOXES
from tfaug.layers._structure import IMAGES
from tfaug.layers._structure import MASKS
from tfaug.layers._structure import pack
from tfaug.layers._structure import unpack
from tfaug.layers.base import BaseAugmentation
from tfaug.layers.base import _same_batch_at_run_time
from tfaug.ops.dtypes import from_float
from tfaug.ops.selection import apply_to_rows
from tfaug.ops.selection import first_slot_results
from tfaug.ops.selection import group_rows

#: Most and fewest images per chunk. A group of n images costs ceil(n / chunk) loop iterations and at most
#: chunk - 1 repeated rows; the chunk is about half the group's expected size, so both stay small, but not below
#: `MIN_CHUNK` images (or the batch), where each iteration's fixed cost would outweigh the rows saved.
MAX_CHUNK = 16
MIN_CHUNK = 4
#: Keras core's layers that mix the images of a batch (and their labels).
_KERAS_MIXERS = tuple(getattr(keras.layers, name) for name in ("CutMix", "MixUp") if hasattr(keras.layers, name))


def inner_layer(name, layer, owner):
    """`layer`, checked to be a layer that a composition can run on a part of the batch.

    A dict is read as a serialised layer (as `get_config` stores it). Refused: anything that is not a Keras
    layer (`TypeError`); layers that change labels or mix the images of a batch, and the feature-statistics
    layers (`ValueError`), whose result on a part of the batch is not their result per image.
    """
    if isinstance(layer, dict) and "class_name" in layer:
        layer = keras.saving.deserialize_keras_object(copy.deepcopy(layer))
    if not isinstance(layer, keras.layers.Layer):
        raise TypeError(
            f"{owner}: `{name}` must be a Keras layer (a tfaug augmentation layer or a Keras preprocessing layer "
            f"such as keras.layers.RandomFlip), got {layer!r} of type {type(layer).__name__}."
        )
    kind = type(layer).__name__
    if getattr(layer, "mixes_batch", False) or isinstance(layer, _KERAS_MIXERS):
        raise ValueError(
            f"{owner}: `{name}` is {kind}, which mixes the images of a batch and their labels; run on the images "
            f"that chose it, it could only mix those. Apply it after the composition, with its own `probability` "
            f"for a per-image chance (tfaug.layers.MixUpCutMix chooses between MixUp and CutMix per batch)."
        )
    if getattr(layer, "transforms_labels", False):
        raise ValueError(
            f"{owner}: `{name}` is {kind}, which changes labels; inner layers must leave labels alone (they "
            f"pass through the composition unchanged). Apply it after the composition."
        )
    if isinstance(layer, FeatureStatisticsLayer):
        raise ValueError(
            f"{owner}: `{name}` is {kind}, which perturbs feature statistics inside a model (from statistics of "
            f"the batch); it applies per image with its own `probability` already."
        )
    return layer


def inner_layers(layers, owner):
    """The `layers` argument: a non-empty list or tuple of layers, each checked by `inner_layer`."""
    if not isinstance(layers, (list, tuple)) or not layers:
        raise ValueError(f"{owner}: `layers` must be a non-empty list of Keras layers, got {layers!r}.")
    return [inner_layer(f"layers[{i}]", layer, owner) for i, layer in enumerate(layers)]


def supports_jit(layers):
    """Whether every layer of `layers` compiles under XLA (as Keras's `supports_jit` says)."""
    return all(getattr(layer, "supports_jit", True) for layer in layers)


def serialised(layer):
    """`keras.saving.serialize_keras_object(layer)` in JSON's types (lists, not tuples): the config then equals
    itself after a JSON round trip (a `.keras` file stores it as JSON)."""
    return json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))


def chunk_size(images, share):
    """Rows per chunk for a group expected to hold `share` of the batch of `images`: about half its expected size,
    within `MIN_CHUNK` (or the batch size, if smaller) and `MAX_CHUNK`. A function of the batch size alone, the
    same number whether the size is static or known only when the graph runs (then a tensor), so the chunks, and
    the inner layers' draws, are the same in every execution mode."""
    batch_size = images.shape[0]
    if batch_size is not None:
        half = math.ceil(batch_size * share / 2)
        return max(1, min(MAX_CHUNK, max(half, min(MIN_CHUNK, batch_size))))
    batch_size = tf.shape(images)[0]
    half = tf.cast(tf.math.ceil(tf.cast(batch_size, tf.float64) * share / 2), tf.int32)
    return tf.maximum(1, tf.minimum(MAX_CHUNK, tf.maximum(half, tf.minimum(MIN_CHUNK, batch_size))))


class CompositionLayer(BaseAugmentation):
    """Base of the composition layers: the per-image choice of inner layers and their run on those images.

    A subclass implements `inner` (the list of inner layers), `get_random_transformation`,
    returning `{"layer_ids": int32 [steps, B], "seed": [2]}`: at each step, the inner layer each image applies
    (-1: none), and the seed the inner layers' seeds derive from; and `shares()`, each inner layer's expected
    share of a batch at a step (it sizes the chunks).

    Inputs: what the inner layers take. Images (any dtype the inner layers take), masks and boxes go through the
    inner layer an image chose; labels pass through unchanged. A tfaug inner layer runs its `augment` with a
    seed derived from the composition's seed, the step, the layer and the chunk (its own `seed` is not used),
    so the composition is reproducible in every execution mode. A Keras layer is called with `training=True`
    on its images (a dict with `segmentation_masks` and `bounding_boxes` when there are some, which Keras's
    image preprocessing layers take) and draws from its own seed generator: reproducible eagerly and in
    `tf.function` when it is seeded, but Keras's random ops give other draws under XLA. Its float output is
    returned in the input dtype (integers rounded half to even and clipped).
    """

    @property
    def inner(self):
        """The inner layers, in the order `layer_ids` number them."""
        raise NotImplementedError

    def shares(self):
        """Each inner layer's expected share of a batch at a step (sizes the chunks; 0: never chosen)."""
        raise NotImplementedError

    def build(self, input_shape=None):
        # The inner layers build at their first call, on a chunk of images (Keras's default `build` would warn
        # that they are not built yet).
        self.built = True

    # The graph is built with explicit loops, and tfaug's and Keras's layers need no autograph: unconverted,
    # the first trace of a composition (and of the inner layers' code) is several times faster.
    @tf.autograph.experimental.do_not_convert
    def augment(self, inputs, seed=None):
        """Augments `inputs` (tensor, `(images, labels)` or dict) with a fresh or the given `[2]` seed."""
        owner = self._name_for_errors
        data, structure = unpack(inputs, owner)
        data = _same_batch_at_run_time(data, owner)
        seed = self._seed_generator.next() if seed is None else seed
        return pack(self.transform_data(data, self.get_random_transformation(data, seed)), structure)

    def transform_data(self, data, transformation):
        """Applies a drawn `transformation` to `data` (a dict of batched tensors, as `unpack` gives)."""
        layer_ids = tf.convert_to_tensor(transformation["layer_ids"], tf.int32)
        seed = transformation["seed"]
        keys = [key for key in (IMAGES, MASKS) if key in data]
        rows = [data[key] for key in keys]
        if BOXES in data:
            rows += [data[BOXES]["boxes"], data[BOXES]["labels"]]
        # Batchwise, the whole batch goes to one layer: chunks for the whole batch.
        shares = [float(share > 0) for share in self.shares()] if self.batchwise else self.shares()
        num_layers, owner = len(self.inner), self._name_for_errors

        def step(t, *buffers):
            order, starts, counts = group_rows(tf.gather(layer_ids, t), num_layers)
            for k, layer in enumerate(self.inner):
                if shares[k] == 0:  # never chosen (a zero weight or probability): nothing to trace
                    continue
                kernel = _kernel(layer, keys, BOXES in data, tfr.fold_in(seed, t * num_layers + k), owner)
                chunk = chunk_size(data[IMAGES], shares[k])
                buffers = apply_to_rows(kernel, order, starts[k], counts[k], buffers, buffers, chunk, whole=())
            return (t + 1, *buffers)

        # A loop over the steps (RandomOrder's positions) holds each inner layer's graph once, not once a step.
        steps = tf.shape(layer_ids)[0]
        buffers = tf.while_loop(lambda t, *_: t < steps, step, (tf.constant(0), *rows))[1:]
        out = dict(data)
        out.update(zip(keys, buffers))
        if BOXES in data:
            out[BOXES] = {"boxes": buffers[-2], "labels": buffers[-1]}
        return out


def _kernel(layer, keys, has_boxes, seed, owner):
    """The `apply_to_rows` kernel that runs `layer` on a chunk of rows: `kernel(rows, *chunks)`, the chunks being
    the rows of images, masks (if any) and the boxes' coordinates and labels (if any)."""

    def kernel(rows, *chunks):
        chunk = dict(zip(keys, chunks))
        if has_boxes:
            chunk[BOXES] = {"boxes": chunks[-2], "labels": chunks[-1]}
        out = run_inner(layer, chunk, tfr.fold_in(seed, rows[0]), owner)
        results = [out[key] for key in keys]
        if has_boxes:
            results += [out[BOXES]["boxes"], out[BOXES]["labels"]]
        return tuple(results)

    return first_slot_results(kernel)


def run_inner(layer, chunk, seed, owner):
    """`layer` applied to `chunk` (a dict of images and, if any, masks and boxes), in the chunk's dtypes.

    A tfaug layer runs `augment` with `seed`; another Keras layer is called with `training=True` on the images
    alone, or on the dict when there are masks or boxes (Keras's image preprocessing layers take it).
    """
    inputs = chunk[IMAGES] if len(chunk) == 1 else chunk
    name = type(layer).__name__
    if isinstance(layer, BaseAugmentation):
        out = layer.augment(inputs, seed=seed)
    else:
        for key, method in ((MASKS, "transform_segmentation_masks"), (BOXES, "transform_bounding_boxes")):
            if key in chunk and not hasattr(layer, method):
                raise ValueError(
                    f"{owner}: the inner layer {name} is no image preprocessing layer, so it cannot carry `{key}`; "
                    f"pass images and labels only, or use a layer that takes `{key}`."
                )
        out = layer(inputs, training=True)
    if len(chunk) == 1:
        out = {IMAGES: out}
    if not isinstance(out, dict) or not set(chunk) <= set(out):
        raise ValueError(f"{owner}: the inner layer {name} returned {type(out).__name__}, not the {list(chunk)} given.")
    result = {key: _like(out[key], chunk[key], key, name, owner) for key in chunk if key != BOXES}
    if BOXES in chunk:
        result[BOXES] = {part: _like(out[BOXES][part], chunk[BOXES][part], BOXES, name, owner) for part in chunk[BOXES]}
    return result


def _like(result, reference, key, name, owner):
    """`result` in the dtype of `reference` (floats back to integers rounded half to even and clipped), and
    checked to keep its shape: the rows are written back into the batch."""
    result = tf.convert_to_tensor(result)
    if not result.shape.is_compatible_with(reference.shape):
        raise ValueError(
            f"{owner}: the inner layer {name} changed the shape of `{key}` from {reference.shape} to "
            f"{result.shape}; inner layers must keep shapes (their results are written back into the batch)."
        )
    if result.dtype == reference.dtype:
        return result
    return from_float(result, reference.dtype) if result.dtype.is_floating else tf.cast(result, reference.dtype)
