"""Style augmentation: re-render images with another style through an AdaIN encoder and decoder."""

import copy
import functools
import json

import keras
import numpy as np
import tensorflow as tf

from tfaug import ops
from tfaug import random as tfr
from tfaug import validation as v
from tfaug.layers.base import BaseAugmentation

#: Where the target style statistics come from.
STYLE_SOURCES = ("batch", "random")


def restyle_features(features, mean, std, strength):
    """`strength * AdaIN(features; mean, std) + (1 - strength) * features`, `strength` per image (`[B]`)."""
    strength = tf.cast(strength, features.dtype)[:, None, None, None]
    return strength * ops.adain_from_moments(features, mean, std) + (1.0 - strength) * features


def style_vectors(features):
    """Per-image style vectors `[B, 2C]`: the channel means, then the logs of the channel standard deviations."""
    mean, std = ops.feature_moments(features)
    return tf.concat([mean, tf.math.log(std)], axis=-1)


@keras.saving.register_keras_serializable(package="tfaug")
class StyleAugmentation(BaseAugmentation):
    """Re-renders each image in another style: `decoder(s * AdaIN(f(x), style) + (1 - s) * f(x))`.

    `f` is `encoder` (for the published networks, VGG-19 up to relu4_1: `recipes.style.adain_encoder`) and
    `decoder` maps its features back to images (`recipes.style.adain_decoder`). Per image (one draw per batch
    with `batchwise=True`): the style strength `s ~ U(strength[0], strength[1])` (the AdaIN paper's alpha),
    and with probability `1 - probability` the image is left exactly as it is. The target style is a pair of per-channel
    feature statistics (mean and standard deviation over the feature map):

    - `style_source="batch"`: those of a partner image of the same batch (a random cyclic permutation, so
      every image gets another image's style; an image alone in its batch is left unchanged);
    - `style_source="random"`: drawn from a Gaussian over style vectors (the channel means and the logs of
      the channel standard deviations) with a diagonal covariance, estimated from the style images given to
      `adapt()` (paintings, photos), or, before any `adapt()`, from every image the layer has augmented so
      far (a running estimate updated on each augmenting call). Style augmentation (Jackson et al. 2019)
      fits a full-covariance Gaussian to a style network's embeddings; the diagonal one here needs no
      matrix factorisation and keeps per-channel spreads, not the correlations between channels.

    Images reach the encoder as float32 RGB in [0, 1] (mapped from `value_range`); the decoder's output is
    clipped to [0, 1] and mapped back to `value_range` and the input dtype (integers rounded half-to-even).
    The encoder and decoder are frozen here: the layer's weights are all non-trainable and no gradient flows
    through the augmentation. Labels, segmentation masks and bounding boxes pass through unchanged (no pixel
    moves).

    Args:
        encoder: a Keras model (or layer): float32 `[B, H, W, C]` images in [0, 1] -> one `[B, h, w, D]`
            feature map.
        decoder: a Keras model (or layer): `[B, h, w, D]` features -> `[B, H, W, C]` images in about [0, 1].
        strength: `(low, high)` range of the style strength, inside [0, 1]. Default `(0.0, 1.0)`.
        style_source: `"batch"` (default) or `"random"`.
        probability: chance that an image is restyled, in [0, 1]. Default 1.0.
        value_range, batchwise, seed, num_classes, bounding_box_format: as in `BaseAugmentation`.

    Inputs: a tensor, `(images, labels)` or a dict; images `[B, H, W, C]` or `[H, W, C]` of any float or
    integer dtype, returned in the same dtype and shape.

    Raises:
        TypeError: for an `encoder` or `decoder` that is not a Keras layer.
        ValueError: for `strength` not a pair inside [0, 1] with low <= high, an unknown `style_source`,
            `probability` outside [0, 1], an encoder whose output is not one 4-D feature map (at
            construction when the model says so, else at the first call), a decoder whose output shape is
            not the images' (at the first call), or (for `"random"`) an encoder whose number of output
            channels is not known at construction.

    Example:
        >>> encoder, decoder = recipes.style.adain_encoder("imagenet"), recipes.style.adain_decoder(path)
        >>> layer = StyleAugmentation(encoder, decoder, strength=(0.5, 1.0), style_source="random", seed=0)
        >>> layer.adapt(paintings)                                  # style images in value_range
        >>> augmented = layer(images)

    References: Huang and Belongie, "Arbitrary Style Transfer in Real-time with Adaptive Instance
    Normalization", ICCV 2017; Jackson et al., "Style Augmentation: Data Augmentation via Style
    Randomization", CVPR Workshops 2019.
    """

    uses_value_range = True

    def __init__(self, encoder, decoder, strength=(0.0, 1.0), style_source="batch", probability=1.0, **kwargs):
        super().__init__(**kwargs)
        self.encoder = _model("encoder", encoder)
        self.decoder = _model("decoder", decoder)
        self.strength = v.check_range("strength", strength, 0.0, 1.0)
        self.style_source = v.check_choice("style_source", style_source, STYLE_SOURCES)
        self.probability = v.check_probability("probability", probability)
        channels = _output_channels(self.encoder)
        if self.style_source == "random":
            if channels is None:
                raise ValueError(
                    "style_source='random' keeps statistics per feature channel, so the `encoder` must say its "
                    "number of output channels at construction: pass a built Keras model (for example a "
                    "functional one)."
                )
            size = 2 * channels

            def state(name, shape):
                return self.add_weight(name=name, shape=shape, initializer="zeros", trainable=False)

            # Mean and sum of squared deviations (Chan et al.'s parallel update) of the style vectors seen.
            self.style_mean = state("style_mean", (size,))
            self.style_m2 = state("style_m2", (size,))
            self.style_count = state("style_count", ())
            # 1 after `adapt()`: the statistics are then fixed, not updated by augmenting calls.
            self.adapted = state("adapted", ())

    # Augmentation does not train the encoder or the decoder, even inside a model that is being trained.
    @property
    def trainable_weights(self):
        return []

    @property
    def non_trainable_weights(self):
        return self.weights

    # -- drawing ------------------------------------------------------------------------------------------

    def get_random_transformation(self, data, seed):
        batch_size = tf.shape(data["images"])[0]
        strength_seed, apply_seed, style_seed = tf.unstack(tfr.split_seed(seed, 3))
        shape = self.draw_shape(batch_size)
        strength = tfr.uniform(strength_seed, shape, *self.strength)
        apply = tfr.bernoulli(apply_seed, shape, self.probability)
        transformation = {"strength": self.per_image(strength, batch_size), "apply": self.per_image(apply, batch_size)}
        if self.style_source == "batch":
            partner = tfr.derangement(style_seed, batch_size)
            # An image alone in its batch has no other style to take: it stays as it is.
            transformation["apply"] &= tf.not_equal(partner, tf.range(batch_size, dtype=partner.dtype))
            transformation["partner"] = partner
        else:
            noise = tfr.normal(style_seed, shape + [int(self.style_mean.shape[0])])
            transformation["style_noise"] = self.per_image(noise, batch_size)
        return transformation

    # -- applying -----------------------------------------------------------------------------------------

    def transform_images(self, images, transformation):
        # Keras convolutions fail on an empty batch: such a batch is returned as it is.
        if images.shape[0] is not None:
            return images if images.shape[0] == 0 else self._restyle(images, transformation)
        restyled = functools.partial(self._restyle, images, transformation)
        return tf.cond(tf.shape(images)[0] > 0, restyled, functools.partial(tf.identity, images))

    def _restyle(self, images, transformation):
        low, high = self.value_range
        unit = (tf.cast(images, tf.float32) - low) / (high - low)
        features = self.encode(unit)
        mean, std = self.target_moments(features, transformation)
        restyled = restyle_features(features, mean, std, transformation["strength"])
        decoded = self.decoder(restyled, training=False)
        _check_decoded(decoded, unit)
        out = tf.stop_gradient(low + tf.clip_by_value(tf.cast(decoded, tf.float32), 0.0, 1.0) * (high - low))
        out = ops.from_float(tf.clip_by_value(out, low, high), images.dtype)
        return tf.where(transformation["apply"][:, None, None, None], out, images)

    def encode(self, unit_images):
        """The encoder's features of float32 images in [0, 1], checked to be one `[B, h, w, D]` map."""
        features = self.encoder(unit_images, training=False)
        if isinstance(features, (list, tuple, dict)) or features.shape.rank != 4:
            shape = features.shape if hasattr(features, "shape") else type(features).__name__
            raise ValueError(
                f"StyleAugmentation: the `encoder` must return one [batch, height, width, channels] feature map, "
                f"got {shape}."
            )
        return tf.cast(features, tf.float32)

    def target_moments(self, features, transformation):
        """The per-image target `(mean, std)`, each `[B, D]`: the partner's or drawn from the style Gaussian.

        With `style_source="random"` and no `adapt()`, this first adds `features`' style vectors to the
        running estimate (an update of the layer's state).
        """
        if self.style_source == "batch":
            mean, std = ops.feature_moments(features)
            partner = transformation["partner"]
            return tf.gather(mean, partner), tf.gather(std, partner)
        mean, m2, count = self._update_statistics(features, only_before_adapt=True)
        spread = tf.sqrt(m2 / tf.maximum(count, 1.0))
        vectors = mean + spread * transformation["style_noise"]
        channels = int(self.style_mean.shape[0]) // 2
        return vectors[:, :channels], tf.exp(vectors[:, channels:])

    def style_statistics(self):
        """The style Gaussian (`style_source="random"`): `(mean, std)` of the style vectors, each `[2D]`."""
        count = tf.maximum(self.style_count, 1.0)
        return tf.convert_to_tensor(self.style_mean), tf.sqrt(self.style_m2 / count)

    def _update_statistics(self, features, only_before_adapt):
        vectors = style_vectors(features)
        n_new = tf.cast(tf.shape(vectors)[0], tf.float32)
        mean_new = tf.reduce_sum(vectors, axis=0) / tf.maximum(n_new, 1.0)
        m2_new = tf.reduce_sum(tf.square(vectors - mean_new), axis=0)
        mean_old, m2_old, n_old = (tf.convert_to_tensor(w) for w in (self.style_mean, self.style_m2, self.style_count))
        n = n_old + n_new
        delta = mean_new - mean_old
        mean = mean_old + delta * n_new / tf.maximum(n, 1.0)
        m2 = m2_old + m2_new + tf.square(delta) * n_old * n_new / tf.maximum(n, 1.0)
        if only_before_adapt:
            frozen = self.adapted > 0.5
            mean, m2, n = tf.where(frozen, mean_old, mean), tf.where(frozen, m2_old, m2), tf.where(frozen, n_old, n)
        self.style_mean.assign(mean)
        self.style_m2.assign(m2)
        self.style_count.assign(n)
        return mean, m2, n

    def adapt(self, data, batch_size=32, steps=None):
        """Estimates the style Gaussian from style images (`style_source="random"`), replacing earlier state.

        Args:
            data: style images in `value_range`: a NumPy array or tensor `[N, H, W, C]`, or a `tf.data.Dataset`
                of such batches (or of single images, which are batched here), possibly as `(images, ...)`
                tuples or dicts with `"images"`.
            batch_size: images per encoder call for arrays and unbatched datasets. Default 32.
            steps: at most this many batches of a dataset (None: all of it).

        After `adapt()` augmenting calls no longer change the statistics.
        """
        if self.style_source != "random":
            raise ValueError(
                f"adapt() estimates random styles: it needs style_source='random', not {self.style_source!r}."
            )
        batch_size = v.check_int("batch_size", batch_size, low=1)
        if not isinstance(data, tf.data.Dataset):
            data = tf.data.Dataset.from_tensor_slices(np.asarray(data)).batch(batch_size)
        elif _images_of(data.element_spec).shape.rank == 3:
            data = data.batch(batch_size)
        if steps is not None:
            data = data.take(v.check_int("steps", steps, low=1))
        for variable in (self.style_mean, self.style_m2, self.style_count):
            variable.assign(tf.zeros_like(variable))
        low, high = self.value_range
        for element in data:
            images = self._checked_values(_images_of(element))
            features = self.encode((tf.cast(images, tf.float32) - low) / (high - low))
            self._update_statistics(features, only_before_adapt=False)
        if float(self.style_count) == 0:
            raise ValueError("adapt() got no style images: `data` is empty.")
        self.adapted.assign(1.0)

    def get_config(self):
        config = super().get_config()
        config.update(
            encoder=_serialised(self.encoder),
            decoder=_serialised(self.decoder),
            strength=self.strength,
            style_source=self.style_source,
            probability=self.probability,
        )
        return config


def _model(name, model):
    if isinstance(model, dict):  # a serialised model, as in `get_config`; deserialising consumes the dict
        model = keras.saving.deserialize_keras_object(copy.deepcopy(model))
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(f"`{name}` must be a Keras model or layer, got {type(model).__name__}.")
    return model


def _serialised(model):
    """`keras.saving.serialize_keras_object(model)` in JSON's types (lists, not tuples): the config then equals
    itself after a JSON round trip (a `.keras` file stores it as JSON)."""
    return json.loads(json.dumps(keras.saving.serialize_keras_object(model)))


def _output_channels(encoder):
    """The encoder's number of output channels when it says so now (a built functional model), else None;
    an output it declares that is not one 4-D map raises."""
    outputs = getattr(encoder, "outputs", None)
    if not outputs:
        return None
    if len(outputs) != 1 or len(outputs[0].shape) != 4:
        shapes = [tuple(x.shape) for x in outputs]
        raise ValueError(
            f"StyleAugmentation: the `encoder` must return one [batch, height, width, channels] feature map, "
            f"its outputs have shapes {shapes}."
        )
    return outputs[0].shape[-1]


def _check_decoded(decoded, images):
    """The decoder must give back images of the input's shape (static sizes checked where known)."""
    same = decoded.shape.rank == 4 and all(
        a is None or b is None or a == b for a, b in zip(decoded.shape[1:], images.shape[1:])
    )
    if not same:
        raise ValueError(
            f"StyleAugmentation: the `decoder` output shape {decoded.shape} differs from the images' shape "
            f"{images.shape}: the decoder must map the encoder's features back to images of the input size."
        )


def _images_of(element):
    if isinstance(element, dict):
        return element["images"]
    if isinstance(element, (tuple, list)):
        return element[0]
    return element
