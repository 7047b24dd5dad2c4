"""Explanation maps: class activation maps and gradient saliency, and pictures of them over the images.

    >>> maps, classes = class_activation_maps(model, images)          # [B, H, W] in [0, 1], [B]
    >>> saliency = saliency_maps(model, images, class_index=classes)  # [B, H, W] in [0, 1]
    >>> plot_maps(images, {"CAM": maps, "saliency": saliency}, "maps.png", titles=names)

References:
    Zhou, Khosla, Lapedriza, Oliva, Torralba. "Learning Deep Features for Discriminative Localization", CVPR
    2016 (class activation maps).
    Simonyan, Vedaldi, Zisserman. "Deep Inside Convolutional Networks: Visualising Image Classification Models
    and Saliency Maps", ICLR workshop 2014 (gradient saliency).
"""

import numbers

import keras
import numpy as np
import tensorflow as tf

from tfaug import validation as v


def class_activation_maps(model, images, class_index=None):
    """Class activation maps (CAM) of a model whose head is global average pooling then a Dense layer.

    For class `c` and the last feature maps `f_k(x, y)` (the input of the GlobalAveragePooling2D layer) the
    map is `sum_k w_k^c f_k(x, y)` with `w^c` the Dense kernel's column `c` (the bias is left out: it only
    shifts the map). Each map is resized bilinearly to the image size and min-max normalised to [0, 1] per
    image (a constant map becomes all zeros). Deterministic: the model runs in inference mode.

    The model must be a functional (or built Sequential) Keras model with one input whose top-level layers
    contain a `GlobalAveragePooling2D`, optionally followed by `Dropout` layers, feeding its last `Dense`
    layer. The Dense layer may be followed by other layers (a softmax, say); its output picks the default
    class.

    Args:
        model: the Keras model.
        images: `[B, H, W, C]` images as the model takes them (numpy or tensor, any dtype the model accepts).
        class_index: the class of each map: None (default: each image's predicted class, the argmax of the
            Dense output), an int in `[0, classes)` for every image, or `B` ints, one per image.

    Returns:
        `(maps, classes)`: float32 numpy `[B, H, W]` in [0, 1], and int64 numpy `[B]`, the classes used.

    Raises:
        ValueError: `model` not a Keras model with one input and a GlobalAveragePooling2D -> (Dropout) ->
            Dense head; `images` not 4-D; `class_index` malformed or out of range.

    Example:
        >>> inputs = keras.Input((32, 32, 3))
        >>> x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
        >>> outputs = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(x))
        >>> maps, classes = class_activation_maps(keras.Model(inputs, outputs), np.zeros((2, 32, 32, 3)))
    """
    inputs = _single_input(model)
    pool, dense = _cam_head(model)
    images = _check_images(images, inputs)
    features_and_scores = keras.Model(inputs, [pool.input, dense.output])
    features, scores = features_and_scores(images, training=False)
    kernel = np.asarray(dense.get_weights()[0], dtype=np.float32)  # [channels, classes]
    classes = _class_indices(class_index, np.asarray(scores), len(images))
    weights = tf.constant(kernel[:, classes].T)  # [B, channels]
    cams = tf.einsum("bhwk,bk->bhw", tf.cast(features, tf.float32), weights)
    cams = tf.image.resize(cams[..., None], images.shape[1:3], method="bilinear")[..., 0]
    return _normalise(cams.numpy(), shift=True), classes


def saliency_maps(model, images, class_index=None):
    """Vanilla gradient saliency: `max_channels |d score_c / d image|`, normalised per image.

    `score_c` is the model's output for class `c` (pass a model that returns logits: a softmax output gives the
    gradient of the probability instead). Each map is divided by its maximum, so it lies in [0, 1] with 0
    meaning no first-order influence (an all-zero gradient stays all zeros). Works for any model
    differentiable with respect to float images; it runs in inference mode and is deterministic.

    Args:
        model: a Keras model (or callable) mapping `[B, H, W, C]` float images to `[B, classes]` scores.
        images: `[B, H, W, C]` images; they are cast to float32 before the model sees them.
        class_index: None (default: each image's predicted class), an int, or `B` ints, as in
            `class_activation_maps`.

    Returns:
        `(maps, classes)`: float32 numpy `[B, H, W]` in [0, 1], and int64 numpy `[B]`.

    Raises:
        ValueError: `images` not 4-D; model output not `[B, classes]`; no gradient reaching the images (the
            model is not differentiable, or casts them to an integer type); `class_index` malformed.

    Example:
        >>> maps, classes = saliency_maps(model, images)
    """
    images = tf.cast(_check_images(images, None), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(images)
        scores = model(images, training=False)
        if isinstance(scores, (list, tuple, dict)) or len(scores.shape) != 2:
            shape = type(scores).__name__ if isinstance(scores, (list, tuple, dict)) else tuple(scores.shape)
            raise ValueError(f"`model` must return one [batch, classes] output for saliency maps, got {shape}.")
        classes = _class_indices(class_index, np.asarray(scores), int(images.shape[0]))
        chosen = tf.gather(tf.cast(scores, tf.float32), classes, axis=1, batch_dims=1)
    gradients = tape.gradient(chosen, images)
    if gradients is None:
        raise ValueError(
            "`model` gives no gradient with respect to the images: saliency needs a model differentiable in "
            "its float input."
        )
    maps = tf.reduce_max(tf.abs(gradients), axis=-1).numpy()
    return _normalise(maps, shift=False), classes


def overlay(images, maps, alpha=0.5, cmap="jet", value_range=(0, 255)):
    """Blends maps, coloured by a matplotlib colormap, over images: `(1 - alpha) image + alpha colour(map)`.

    Args:
        images: `[B, H, W, 3]` RGB or `[B, H, W, 1]` gray images with values in `value_range`.
        maps: `[B, H, W]` maps with values in [0, 1] (values outside are clipped).
        alpha: weight of the coloured map, in [0, 1]. Default 0.5.
        cmap: a matplotlib colormap name. Default "jet".
        value_range: `(low, high)` of the image values. Default `(0, 255)`.

    Returns:
        uint8 numpy `[B, H, W, 3]` RGB images.

    Raises:
        ValueError: shapes that do not match the forms above, `alpha` outside [0, 1], an unknown `cmap`, or a
            malformed `value_range`.
    """
    alpha = v.check_probability("alpha", alpha)
    low, high = v.check_value_range(value_range)
    images, maps = np.asarray(images), np.asarray(maps)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"`images` must be [batch, height, width, 1 or 3], got shape {images.shape}.")
    if maps.shape != images.shape[:3]:
        raise ValueError(f"`maps` must be [batch, height, width] = {images.shape[:3]}, got shape {maps.shape}.")
    colormap = _colormap(cmap)
    rgb = np.clip((images.astype(np.float32) - low) / (high - low), 0.0, 1.0)
    if rgb.shape[-1] == 1:
        rgb = np.repeat(rgb, 3, axis=-1)
    heat = colormap(np.clip(maps.astype(np.float32), 0.0, 1.0))[..., :3].astype(np.float32)
    blended = (1.0 - alpha) * rgb + alpha * heat
    return np.round(np.clip(blended, 0.0, 1.0) * 255.0).astype(np.uint8)


def plot_maps(images, maps, path=None, titles=None, alpha=0.5, cmap="jet", value_range=(0, 255)):
    """Draws a grid: the images in the top row and, in each further row, one set of maps over them.

    Args:
        images: `[B, H, W, 3]` or `[B, H, W, 1]` images with values in `value_range`.
        maps: `[B, H, W]` maps in [0, 1], or a dict `{row name: [B, H, W] maps}` for several rows.
        path: if given, the PNG is written there and the figure closed.
        titles: optional `B` strings written above the columns (class names, say).
        alpha, cmap, value_range: as in `overlay`.

    Returns:
        The matplotlib Figure.

    Raises:
        ValueError: as `overlay`, or `titles` not `B` strings, or an empty `maps` dict.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = dict(maps) if isinstance(maps, dict) else {"map": maps}
    if not rows:
        raise ValueError("`maps` must be an array [batch, height, width] or a non-empty dict of them, got {}.")
    images = np.asarray(images)
    blended = {name: overlay(images, m, alpha=alpha, cmap=cmap, value_range=value_range) for name, m in rows.items()}
    n = len(images)
    if titles is not None and (isinstance(titles, str) or len(titles) != n):
        raise ValueError(f"`titles` must be {n} strings, one per image, got {titles!r}.")
    plain = overlay(images, np.zeros(images.shape[:3]), alpha=0.0, value_range=value_range)
    fig, axes = plt.subplots(1 + len(rows), n, figsize=(1.8 * n, 1.9 * (1 + len(rows))), squeeze=False)
    for row, (name, pictures) in enumerate([("image", plain), *blended.items()]):
        for i in range(n):
            ax = axes[row, i]
            ax.imshow(pictures[i])
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row, 0].set_ylabel(name, fontsize=8)
    for i in range(n if titles is not None else 0):
        axes[0, i].set_title(str(titles[i]), fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
        plt.close(fig)
    return fig


def _single_input(model):
    if not isinstance(model, keras.Model):
        raise ValueError(f"`model` must be a keras.Model, got {type(model).__name__}.")
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs or len(inputs) != 1:
        raise ValueError(
            f"`model` must be a functional or built Sequential Keras model with one input for class activation "
            f"maps, got {model.name!r} with inputs {inputs!r}; wrap a subclassed model's layers in a functional "
            "model (keras.Model(inputs, outputs))."
        )
    return inputs[0]


def _cam_head(model):
    """The (GlobalAveragePooling2D, Dense) pair of `model`'s head, matched through layer inputs and outputs."""
    layers = list(model.layers)
    denses = [layer for layer in layers if isinstance(layer, keras.layers.Dense)]
    if not denses:
        raise ValueError(
            f"`model` {model.name!r} has no Dense layer: CAM needs a GlobalAveragePooling2D -> Dense head."
        )
    dense = denses[-1]
    producers = {id(layer.output): layer for layer in layers if _has_output(layer)}
    layer = producers.get(id(dense.input))
    while isinstance(layer, keras.layers.Dropout):
        layer = producers.get(id(layer.input))
    if not isinstance(layer, keras.layers.GlobalAveragePooling2D) or layer.data_format != "channels_last":
        found = "nothing" if layer is None else f"{type(layer).__name__} {layer.name!r}"
        raise ValueError(
            f"`model` {model.name!r} must end in GlobalAveragePooling2D (channels_last), optionally Dropout, then "
            f"Dense for class activation maps; its last Dense {dense.name!r} is fed by {found}."
        )
    if len(layer.input.shape) != 4:
        raise ValueError(f"`model`'s GlobalAveragePooling2D must take 4-D features, got {layer.input.shape}.")
    return layer, dense


def _has_output(layer):
    try:
        return not isinstance(layer.output, (list, tuple, dict))
    except (AttributeError, ValueError):  # a layer never called symbolically, or called more than once
        return False


def _check_images(images, inputs):
    if not isinstance(images, (np.ndarray, tf.Tensor)):
        images = np.asarray(images)
    if len(images.shape) != 4:
        raise ValueError(
            f"`images` must be a 4-D batch [batch, height, width, channels], got shape {tuple(images.shape)} "
            "(add a batch axis for one image)."
        )
    if images.shape[0] == 0:
        raise ValueError("`images` must hold at least one image, got an empty batch.")
    if inputs is not None and inputs.dtype is not None and "float" in str(inputs.dtype):
        return tf.cast(images, inputs.dtype)
    return tf.convert_to_tensor(images)


def _class_indices(class_index, scores, batch):
    """`class_index` as int64 `[batch]`: the argmax of `scores` when None."""
    num_classes = scores.shape[-1]
    if class_index is None:
        return np.argmax(scores, axis=-1).astype(np.int64)
    if isinstance(class_index, numbers.Integral) and not isinstance(class_index, bool):
        indices = np.full([batch], int(class_index), dtype=np.int64)
    else:
        indices = np.asarray(class_index)
        if indices.shape != (batch,) or not np.issubdtype(indices.dtype, np.integer):
            raise ValueError(
                f"`class_index` must be None, an int or {batch} ints (one per image), got {class_index!r}."
            )
        indices = indices.astype(np.int64)
    if indices.min() < 0 or indices.max() >= num_classes:
        raise ValueError(f"`class_index` must lie in [0, {num_classes}) for this model, got {class_index!r}.")
    return indices


def _normalise(maps, shift):
    """Per image to [0, 1]: min-max when `shift`, else divided by the maximum; a flat map becomes zeros."""
    maps = maps.astype(np.float32)
    low = maps.min(axis=(1, 2), keepdims=True) if shift else np.zeros_like(maps[:, :1, :1])
    span = maps.max(axis=(1, 2), keepdims=True) - low
    safe = np.where(span > 0, span, 1.0)
    return np.where(span > 0, (maps - low) / safe, 0.0).astype(np.float32)


def _colormap(cmap):
    import matplotlib

    try:
        return matplotlib.colormaps[cmap]
    except (KeyError, TypeError):
        raise ValueError(
            f"`cmap` must be a matplotlib colormap name such as 'jet' or 'viridis', got {cmap!r}."
        ) from None


__all__ = ["class_activation_maps", "overlay", "plot_maps", "saliency_maps"]
