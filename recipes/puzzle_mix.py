"""Puzzle Mix: training on saliency-guided, transported block mixes of image pairs.

`PuzzleMix` wraps a classifier; each `fit` step computes the input-gradient saliency of the batch, mixes
every image with a partner by an optimal block mask and block transport, and trains on the mix with
labels weighted by the mask's mean. `step_overhead` times a Puzzle Mix step against a plain one.
"""

import os
import time
from typing import NamedTuple

import keras
import tensorflow as tf

from tfaug import random as tfr
from tfaug import validation as v
from tfaug.ops import puzzle_mix as ops
from tfaug.ops.dtypes import from_float


class MixedBatch(NamedTuple):
    """A Puzzle Mix batch: `images` `[B, H, W, C]`, `labels` `[B, K]`, `mask` `[B, H, W]` (the fraction of
    each pixel taken from the image itself) and `partner` `[B]` (the index of each image's partner)."""

    images: tf.Tensor
    labels: tf.Tensor
    mask: tf.Tensor
    partner: tf.Tensor


@keras.saving.register_keras_serializable(package="recipes")
class PuzzleMix(keras.Model):
    """Trains `model` on Puzzle Mix images: saliency-preserving block masks and block transport.

    Each training step:
    1. Saliency: the L2 norm over channels of the gradient of the compiled loss with respect to the
       input images, the model run in inference mode (one extra forward and backward pass).
    2. Per image: a partner (a random permutation of the batch), a ratio `lam ~ Beta(alpha, alpha)`; per
       batch: a grid side `n` from `grid_sizes`.
    3. Mask: on the `n x n` block grid, each block takes one of `levels` mixing levels (the fraction of the
       image itself, `0, 1 / (levels - 1), ..., 1`) minimising: the partner's normalised saliency lost
       (`m s2 + (1 - m) s1`) + a label prior pulling the mask mean toward `lam` (`eta`) + smoothness
       between 4-neighbour blocks (`beta`, plus the colour jump across their boundary weighted by `gamma`).
       Two levels: an exact s-t minimum cut. More: alpha-beta swap moves, each an exact minimum cut.
    4. Transport (`transport=True`): inside each image, blocks move toward the region where the mask shows
       that image, minimising `t_eps * distance - saliency`, on a `max(n, transport_grid)` grid.
    5. Mix `mask * x + (1 - mask) * x_partner` (mask upsampled, nearest); labels
       `mean(mask) * y + (1 - mean(mask)) * y_partner`, exactly the mask's pixel fraction.
    The model then trains on the mixed batch with the compiled loss, optimizer and metrics.

    Defaults are the reference code's CIFAR settings: `alpha` 1.0, `levels` 3 (`n_labels`), `beta` 1.2,
    `gamma` 0.5, `eta` 0.2, `neigh_size` 4, `transport` True, `t_eps` 0.8, `transport_grid` 8 (its
    `t_size` 4 on 32 x 32 images).

    Departures from the paper and its code:
    - `lam` is drawn per image (the code draws one per batch); randomness from tfaug's seeded samplers.
    - Grid sides default to (2, 4, 8): the code draws from {2, 4, 8, 16} on 32 x 32 images; 16 is allowed
      and costs more push-relabel steps per cut (a batch's steps last until its slowest image is done).
    - The graph cut runs in float32 in-graph (the code rounds costs to int32 for the gco library) and
      negative smoothness weights (possible from the colour term) are clipped to 0, the submodular part.
    - Multi-level masks: swap moves start from each block's cheapest level (gco starts from level 0) and
      stop after `swap_cycles` cycles or earlier if nothing changes.
    - Transport: the code runs one round of row-wise choices and drops the losing blocks (their positions
      turn black, where the partner covers them); here rounds repeat until every block has a place, so the
      transported image is a permutation of its blocks.
    - Saliency is the L2 norm over channels (the code: root mean square; the normalised saliency is the
      same). The loss is the compiled loss (the code: BCE on softmax outputs against soft labels).
    - No adversarial noise (`adv_p`) or clean-input loss (`clean_lam`): the code's defaults (0) are used.

    Args:
        model: a `keras.Model` mapping images `[B, H, W, C]` to one output `[B, K]` (logits or
            probabilities, to suit the compiled loss).
        alpha: Beta concentration of `lam`, > 0. Default 1.0.
        grid_sizes: grid sides `n` to draw from (uniformly, per batch); each must divide H and W. Default
            (2, 4, 8).
        levels: mixing levels of the mask, int >= 2. Default 3 (0, 0.5, 1); 2 gives binary masks.
        beta: label smoothness, >= 0. Default 1.2.
        gamma: data (colour) smoothness, >= 0. Default 0.5.
        eta: label prior weight, >= 0. Default 0.2.
        neigh_size: pooling size in pixels for the colour jumps, int >= 1. Default 4.
        transport: move salient blocks into the mask region. Default True.
        t_eps: transport distance weight, >= 0. Default 0.8.
        transport_grid: the finest transport grid side (`max(n, transport_grid)` is used; it must be a
            multiple of every n and divide H and W); None transports on the mask grid. Default 8.
        swap_cycles: the most swap cycles for `levels > 2`, int >= 1. Default 3.
        value_range: `(low, high)` pixel range of the images, used to scale the colour term. Default (0, 255).
        seed: int or None.
        **kwargs: `keras.Model` arguments (`name`, ...).

    Input: `fit` data `(images, labels)`: images `[B, H, W, C]`, labels dense `[B, K]` or sparse integer
    class ids `[B]` / `[B, 1]` (made one-hot). The compiled loss must accept dense soft labels, e.g.
    `keras.losses.CategoricalCrossentropy(from_logits=True)`. `call(images)` returns `model(images)`.

    Raises:
        ValueError: `model` not a `keras.Model` with a single `[B, K]` output; `alpha` <= 0; a negative
            `beta`, `gamma`, `eta` or `t_eps`; `grid_sizes` empty or with a side that does not divide the
            image (or that `neigh_size`/`transport_grid` do not fit), checked when the image shape is known;
            `levels` < 2; labels of the wrong shape.

    Example:
        >>> trainer = PuzzleMix(classifier, alpha=1.0, seed=0)
        >>> trainer.compile(optimizer="sgd", loss=keras.losses.CategoricalCrossentropy(from_logits=True))
        >>> trainer.fit(images, labels, epochs=1)
        >>> trainer.export_classifier("classifier.keras")

    Reference:
        Kim, Choo, Song. "Puzzle Mix: Exploiting Saliency and Local Statistics for Optimal Mixup". ICML 2020.
        Code: snu-mllab/PuzzleMix.
    """

    def __init__(
        self,
        model,
        *,
        alpha=1.0,
        grid_sizes=(2, 4, 8),
        levels=3,
        beta=1.2,
        gamma=0.5,
        eta=0.2,
        neigh_size=4,
        transport=True,
        t_eps=0.8,
        transport_grid=8,
        swap_cycles=3,
        value_range=(0, 255),
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(model, keras.Model):
            raise ValueError(f"`model` must be a keras.Model returning [batch, classes], got {model!r}.")
        self.alpha = v.check_positive("alpha", alpha)
        self.beta = v.check_positive("beta", beta, allow_zero=True)
        self.gamma = v.check_positive("gamma", gamma, allow_zero=True)
        self.eta = v.check_positive("eta", eta, allow_zero=True)
        self.t_eps = v.check_positive("t_eps", t_eps, allow_zero=True)
        self.levels = v.check_int("levels", levels, low=2, high=16)
        self.neigh_size = v.check_int("neigh_size", neigh_size, low=1)
        self.swap_cycles = v.check_int("swap_cycles", swap_cycles, low=1, high=100)
        if not isinstance(grid_sizes, (tuple, list)) or not grid_sizes:
            raise ValueError(f"`grid_sizes` must be a non-empty tuple of positive ints, got {grid_sizes!r}.")
        self.grid_sizes = tuple(v.check_int("grid_sizes", n, low=1, high=64) for n in grid_sizes)
        if not isinstance(transport, bool):
            raise ValueError(f"`transport` must be a bool, got {transport!r}.")
        self.transport = transport
        self.transport_grid = None if transport_grid is None else v.check_int("transport_grid", transport_grid, 1, 64)
        self.value_range = v.check_value_range(value_range)
        self.seed = tfr.make_seed(seed)
        self._seeds = tfr.SeedGenerator(self.seed)
        self.model = model
        shape = _input_shape(model)
        if shape is not None:
            self._check_image_shape(shape)
        _check_output(model)

    def call(self, inputs, training=None):
        return self.model(inputs, training=training)

    def _check_image_shape(self, shape):
        if len(shape) != 4 or shape[1] is None or shape[2] is None:
            raise ValueError(f"Images must be [batch, height, width, channels] with known sides, got {shape}.")
        height, width = shape[1], shape[2]
        for n in self.grid_sizes:
            if height % n or width % n:
                raise ValueError(f"`grid_sizes` side {n} does not divide the image size {height}x{width}.")
            pool = (min(self.neigh_size, height // n), min(self.neigh_size, width // n))
            if (height // n) % pool[0] or (width // n) % pool[1]:
                raise ValueError(
                    f"`neigh_size`={self.neigh_size} must divide the {height // n}x{width // n} blocks of grid {n}."
                )
            m = self._transport_side(n)
            if self.transport and (m % n or height % m or width % m):
                raise ValueError(
                    f"`transport_grid`={self.transport_grid} gives a {m}x{m} transport grid for grid {n}: it must "
                    f"be a multiple of {n} and divide the image size {height}x{width}."
                )

    def _transport_side(self, n):
        return n if self.transport_grid is None else max(n, self.transport_grid)

    def _dense_labels(self, y, classes):
        if y is None:
            raise ValueError("PuzzleMix needs labels: fit((images, labels)).")
        if len(y.shape) == 2 and y.shape[-1] == classes and classes != 1:
            return tf.cast(y, tf.float32)
        sparse = len(y.shape) == 1 or (len(y.shape) == 2 and y.shape[-1] == 1)
        if sparse and y.dtype.is_integer:
            return tf.one_hot(tf.reshape(tf.cast(y, tf.int32), [-1]), classes)
        raise ValueError(
            f"Labels must be dense [batch, {classes}] or sparse integer ids [batch] / [batch, 1], got {y.shape}."
        )

    def saliency(self, images, labels, sample_weight=None):
        """`[B, H, W]`: the L2 norm over channels of d loss / d images, the model in inference mode."""
        return self._saliency_and_labels(images, labels, sample_weight)[0]

    def _saliency_and_labels(self, images, labels, sample_weight):
        images = tf.convert_to_tensor(images)
        with tf.GradientTape() as tape:
            tape.watch(images)
            outputs = self.model(images, training=False)
            _check_logits(outputs)
            labels = self._dense_labels(labels, outputs.shape[-1])
            loss = self.compute_loss(images, labels, outputs, sample_weight, training=False)
        gradient = tape.gradient(loss, images)
        return tf.norm(tf.cast(gradient, tf.float32), axis=-1), labels

    def mix(self, images, labels, saliency, seed):
        """The Puzzle Mix batch for a `[2]` seed, a `MixedBatch`.

        Images `[B, H, W, C]` any dtype (returned in it), labels dense `[B, K]`, saliency `[B, H, W]`.
        """
        images = tf.convert_to_tensor(images)
        self._check_image_shape(tuple(images.shape))
        batch = tf.shape(images)[0]
        seeds = tfr.split_seed(seed, 3)
        grid = tfr.randint(seeds[0], [], 0, len(self.grid_sizes))
        partner = tfr.permutation(seeds[1], batch)
        ratio = tfr.beta(seeds[2], [batch], self.alpha)
        x1 = tf.cast(images, tf.float32)
        x2 = tf.gather(x1, partner)
        s1 = tf.cast(saliency, tf.float32)
        s2 = tf.gather(s1, partner)
        low, high = self.value_range
        scaled = [(x - low) / (high - low) for x in (x1, x2)]
        branches = [lambda n=n: self._mix_on_grid(n, x1, x2, s1, s2, scaled, ratio) for n in self.grid_sizes]
        mixed, mask = branches[0]() if len(branches) == 1 else tf.switch_case(grid, branches)
        fraction = tf.reduce_mean(mask, axis=[1, 2])[:, None]
        labels = tf.cast(labels, tf.float32)
        mixed_labels = fraction * labels + (1.0 - fraction) * tf.gather(labels, partner)
        mixed = tf.cast(mixed, images.dtype) if images.dtype.is_floating else from_float(mixed, images.dtype)
        return MixedBatch(mixed, mixed_labels, mask, partner)

    def _mix_on_grid(self, n, x1, x2, s1, s2, scaled, ratio):
        height, width = x1.shape[1], x1.shape[2]
        unary, down, right = ops.mask_objective(
            s1, s2, scaled[0], scaled[1], ratio, n, self.levels, self.beta, self.gamma, self.eta, self.neigh_size
        )
        mask = ops.mixing_mask(unary, down, right, cycles=self.swap_cycles)
        if self.transport:
            m = self._transport_side(n)
            fine = ops.upsample(mask, m, m)
            moved = []
            for x, s, region in ((x1, s1, fine > 0), (x2, s2, fine < 1)):
                weights = tf.reshape(ops.normalized_saliency(s, m), [-1, m * m])
                sources = ops.transport_sources(tf.reshape(region, [-1, m * m]), weights, self.t_eps)
                moved.append(ops.move_blocks(x, sources, m))
            x1, x2 = moved
        pixels = ops.upsample(mask, height, width)
        return pixels[..., None] * x1 + (1.0 - pixels[..., None]) * x2, pixels

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        saliency, y = self._saliency_and_labels(x, y, sample_weight)
        batch = self.mix(x, y, saliency, self._seeds.next())
        return super().train_step((batch.images, batch.labels, sample_weight))

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        outputs = self.model(x, training=False)
        _check_logits(outputs)
        y = self._dense_labels(y, outputs.shape[-1])
        return super().test_step((x, y, sample_weight))

    def export_classifier(self, path):
        """Saves the wrapped classifier alone to a `.keras` file and returns `path`."""
        if not str(os.fspath(path)).endswith(".keras"):
            raise ValueError(f"`path` must end in '.keras', got {path!r}.")
        self.model.save(path)
        return path

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "model": keras.saving.serialize_keras_object(self.model),
            "alpha": self.alpha,
            "grid_sizes": self.grid_sizes,
            "levels": self.levels,
            "beta": self.beta,
            "gamma": self.gamma,
            "eta": self.eta,
            "neigh_size": self.neigh_size,
            "transport": self.transport,
            "t_eps": self.t_eps,
            "transport_grid": self.transport_grid,
            "swap_cycles": self.swap_cycles,
            "value_range": self.value_range,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["model"] = keras.saving.deserialize_keras_object(config["model"])
        config["grid_sizes"] = tuple(config["grid_sizes"])
        config["value_range"] = tuple(config["value_range"])
        return cls(**config)


def _input_shape(model):
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return None
    if not inputs or len(inputs) != 1:
        return None
    return tuple(inputs[0].shape)


def _check_logits(outputs):
    if not tf.is_tensor(outputs) and not isinstance(outputs, keras.KerasTensor) or len(outputs.shape) != 2:
        shape = getattr(outputs, "shape", type(outputs).__name__)
        raise ValueError(f"`model` must have a single [batch, classes] output, got {shape}.")


def _check_output(model):
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        return
    if outputs and (len(outputs) != 1 or len(outputs[0].shape) != 2):
        shapes = [tuple(o.shape) for o in outputs]
        raise ValueError(f"`model` must have a single [batch, classes] output, got outputs of shapes {shapes}.")


class StepTimes(NamedTuple):
    """Seconds per training step, averaged over the timed steps."""

    plain: float
    puzzle_mix: float


def step_overhead(model, images, labels, steps=10, jit_compile=False, **puzzle_mix_kwargs):
    """Times a Puzzle Mix step against a plain step of copies of `model` on one batch: `StepTimes`.

    Both copies start from `model`'s weights, train with SGD and categorical cross-entropy on logits, and
    are timed over `steps` steps after one untimed step (tracing and compilation).
    """
    steps = v.check_int("steps", steps, low=1)
    labels = tf.convert_to_tensor(labels)
    times = []
    for wrap in (False, True):
        copy = keras.models.clone_model(model)
        copy.set_weights(model.get_weights())
        trainer = PuzzleMix(copy, **puzzle_mix_kwargs) if wrap else copy
        loss = keras.losses.CategoricalCrossentropy(from_logits=True)
        trainer.compile(optimizer="sgd", loss=loss, jit_compile=jit_compile)
        dense = labels if len(labels.shape) == 2 else tf.one_hot(tf.cast(labels, tf.int32), model.outputs[0].shape[-1])
        trainer.train_on_batch(images, dense)
        start = time.perf_counter()
        for _ in range(steps):
            trainer.train_on_batch(images, dense)
        times.append((time.perf_counter() - start) / steps)
    return StepTimes(plain=times[0], puzzle_mix=times[1])


__all__ = ["MixedBatch", "PuzzleMix", "StepTimes", "step_overhead"]
