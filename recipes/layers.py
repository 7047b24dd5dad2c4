"""Layers the recipes add to models: `StochasticDepth` (model-side noise), `GeM` pooling and
`L2Normalization` of features (Keras 3 has no stochastic depth and no GeM; its `UnitNormalization` fails in
float16, see `L2Normalization`)."""

import keras
import numpy as np
import tensorflow as tf

from tfaug import random as tfr
from tfaug import validation as v


@keras.saving.register_keras_serializable(package="recipes")
class StochasticDepth(keras.layers.Layer):
    """Drops a residual branch for whole samples at train time (stochastic depth, "drop path").

    In training, each sample of the batch keeps its residual branch with probability
    `survival_probability` (one Bernoulli draw per sample, shared by all of its elements) and the kept
    branches are scaled by `1 / survival_probability`, so the expected output equals the inference
    output. In inference (`training` False or None: `predict`, `evaluate`) the layer is the identity on
    the branch. This is the "inverted" form used by timm and EfficientNet; the paper scales at inference
    instead, which gives the same expectation.

    Args:
        survival_probability: chance that a sample keeps the branch, in (0, 1]. Default 0.8 (the
            paper's last-block value with a linear decay rule). 1 makes the layer the identity.
        seed: int seed, or None for OS entropy. Randomness is per sample; the same seed and the same
            number of earlier training calls give the same masks.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Inputs: either the residual branch `residual` `[batch, ...]` (returns the dropped branch; add the
    shortcut yourself), or a pair `[shortcut, residual]` of the same shape (returns
    `shortcut + dropped residual`). Output: the branch's shape and dtype.

    Raises:
        ValueError: `survival_probability` outside (0, 1]; a list input that is not a pair.

    Example:
        >>> y = keras.layers.Conv2D(16, 3, padding="same")(x)
        >>> x = StochasticDepth(0.8, seed=0)([x, y])        # x + branch, branch dropped per sample

    Reference: Huang et al., "Deep Networks with Stochastic Depth", ECCV 2016.
    """

    def __init__(self, survival_probability=0.8, seed=None, **kwargs):
        super().__init__(**kwargs)
        p = survival_probability
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 < p <= 1.0:
            raise ValueError(f"`survival_probability` must be a number in (0, 1], got {survival_probability!r}.")
        self.survival_probability = float(p)
        self.seed = seed
        self._seed_generator = tfr.SeedGenerator(seed)

    def call(self, inputs, training=None):
        shortcut, residual = self._split(inputs)
        if training and self.survival_probability < 1.0:
            residual = self.drop(residual, self._seed_generator.next())
        return residual if shortcut is None else shortcut + residual

    def drop(self, residual, seed):
        """Applies one training-time draw with the given `[2]` seed (a hook for tests and replays)."""
        mask_shape = tf.concat([tf.shape(residual)[:1], tf.ones([tf.rank(residual) - 1], tf.int32)], axis=0)
        keep = tfr.bernoulli(seed, mask_shape, self.survival_probability)
        scale = tf.cast(keep, residual.dtype) / tf.cast(self.survival_probability, residual.dtype)
        return residual * scale

    def _split(self, inputs):
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 2:
                raise ValueError(
                    f"`inputs` must be the residual branch or a pair [shortcut, residual], got {len(inputs)} tensors."
                )
            return inputs[0], inputs[1]
        return None, inputs

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple)):
            return tuple(input_shape[1])
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(survival_probability=self.survival_probability, seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package="recipes")
class AtLeast(keras.constraints.Constraint):
    """A weight constraint: clips every value to at least `minimum` (GeM's floor for a learnable `p`)."""

    def __init__(self, minimum):
        self.minimum = float(minimum)

    def __call__(self, w):
        return keras.ops.maximum(w, keras.ops.cast(self.minimum, w.dtype))

    def get_config(self):
        return {"minimum": self.minimum}


def _internal_dtype(dtype):
    # float16 and bfloat16 compute in float32: powers and sums of squares leave float16's range (65504)
    # already at x = 41 for x**3, or at a feature norm of 256; bfloat16 keeps the range but only 8 bits.
    return tf.float64 if tf.as_dtype(dtype) == tf.float64 else tf.float32


def _at_least_tiny(value, dtype):
    """`value` as a constant of `dtype`, raised to the smallest normal number so that it cannot round to 0."""
    return tf.constant(max(value, np.finfo(dtype.as_numpy_dtype).tiny), dtype)


@keras.saving.register_keras_serializable(package="recipes")
class GeM(keras.layers.Layer):
    """Generalised-mean (GeM) pooling over height and width, with a learnable or fixed power `p`.

    For each sample and channel, `GeM(x) = (mean over H, W of max(x, epsilon) ** p) ** (1 / p)`. `p = 1`
    is global average pooling, and as `p` grows GeM approaches global max pooling (it always lies between
    the two for `p >= 1`). `p` is a scalar weight of the layer, shared by all channels, initialised to `p`;
    with `learnable=True` it is trainable and learned with the rest of the model (the paper's setting),
    otherwise it is a non-trainable weight that keeps its value. The layer is deterministic.

    How `p` stays valid: a learnable `p` carries a weight constraint (`AtLeast`) that the optimizer applies
    after each step, clipping it to at least `min(p, 1)` (the initial `p` when that is below 1), and the call
    clamps it to the same floor, which also covers values assigned by hand. So `p` never reaches 0 or below,
    and from an initial `p >= 1` GeM stays between average and max pooling. `get_config()["p"]` is the initial
    value; the learned value is the weight `p` (saved with the weights).

    The power mean is computed as `m * (mean((x / m) ** p)) ** (1 / p)` with `m` the per-channel maximum
    (the same value for any `m > 0`), so every power lies in (0, 1] and nothing overflows or underflows for
    large `p`. float16 and bfloat16 inputs are computed in float32 and the result, which lies between
    `epsilon` and the input's maximum, is cast back.

    Args:
        p: the initial power, a finite number > 0. Default 3 (the paper's initial value).
        learnable: whether `p` is trained. Default True.
        epsilon: the clamp applied to the inputs before the power (the mean of negative numbers' powers is
            undefined; ReLU features are >= 0 anyway), a finite number > 0. Default 1e-6.
        keepdims: keep the pooled axes, giving `[B, 1, 1, C]`. Default False.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Inputs: `[B, H, W, C]` features (channels last), float. Output: `[B, C]` (or `[B, 1, 1, C]`) in the
    layer's compute dtype, each value in `[epsilon, max(x, epsilon)]` for `p >= 1`.

    Raises:
        ValueError: `p` or `epsilon` not a finite number > 0; `learnable` or `keepdims` not a bool; inputs
            that are not 4-D.

    Example:
        >>> features = keras.applications.ResNet50(include_top=False, weights=None)(images)
        >>> embedding = L2Normalization()(GeM(p=3.0)(features))    # [B, 2048], unit length

    Reference: Radenovic, Tolias and Chum, "Fine-tuning CNN Image Retrieval with No Human Annotation",
    TPAMI 2018.
    """

    def __init__(self, p=3.0, learnable=True, epsilon=1e-6, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.initial_p = v.check_positive("p", p)
        self.learnable = v.check_bool("learnable", learnable)
        self.epsilon = v.check_positive("epsilon", epsilon)
        self.keepdims = v.check_bool("keepdims", keepdims)
        self.p_floor = min(self.initial_p, 1.0)

    def build(self, input_shape):
        self._check_rank(input_shape)
        self.p = self.add_weight(
            name="p",
            shape=(),
            initializer=keras.initializers.Constant(self.initial_p),
            trainable=self.learnable,
            constraint=AtLeast(self.p_floor) if self.learnable else None,
            autocast=False,  # read in full precision under a mixed policy, cast in `call`
        )

    def call(self, inputs):
        self._check_rank(inputs.shape)
        dtype = _internal_dtype(inputs.dtype)
        x = tf.maximum(tf.cast(inputs, dtype), _at_least_tiny(self.epsilon, dtype))
        p = tf.maximum(tf.cast(self.p, dtype), tf.cast(self.p_floor, dtype))
        # Any constant m > 0 gives the same value and the same gradients, so m is kept out of the gradient.
        m = tf.stop_gradient(tf.reduce_max(x, axis=[1, 2], keepdims=True))
        pooled = m * tf.pow(tf.reduce_mean(tf.pow(x / m, p), axis=[1, 2], keepdims=True), 1.0 / p)
        if not self.keepdims:
            pooled = tf.squeeze(pooled, axis=[1, 2])
        return tf.cast(pooled, self.compute_dtype)

    def _check_rank(self, shape):
        if len(shape) != 4:
            raise ValueError(f"`GeM` expects 4-D inputs [batch, height, width, channels], got shape {tuple(shape)}.")

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        batch, _, _, channels = input_shape
        return (batch, 1, 1, channels) if self.keepdims else (batch, channels)

    def get_config(self):
        config = super().get_config()
        config.update(p=self.initial_p, learnable=self.learnable, epsilon=self.epsilon, keepdims=self.keepdims)
        return config


@keras.saving.register_keras_serializable(package="recipes")
class L2Normalization(keras.layers.Layer):
    """Scales each feature vector to unit L2 norm: `x / max(||x||, epsilon)`.

    The value of `keras.layers.UnitNormalization`, with two differences: `epsilon` is an argument, and
    float16 and bfloat16 inputs are computed in float32 (in float16, `UnitNormalization` returns NaN for a
    zero vector and zeros for a vector whose norm passes 256, where the sum of squares overflows). A vector
    whose norm is below `epsilon` is divided by `epsilon` (zeros stay zeros, with finite gradients; the
    gradient there is `1 / epsilon`, as in PyTorch's `F.normalize`). The layer is deterministic.

    Args:
        axis: the axis, or list of axes, that make one vector. Default -1 (the features).
        epsilon: the smallest norm divided by, a finite number > 0. Default 1e-12 (Keras's and PyTorch's).
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Inputs: any float tensor. Output: the same shape, in the layer's compute dtype; vectors along `axis` of
    norm 1 (or below 1 where the input's norm is below `epsilon`).

    Raises:
        ValueError: `axis` not an int or a list of ints; an axis outside the input's rank; `epsilon` not a
            finite number > 0.

    Example:
        >>> embedding = L2Normalization()(GeM()(features))     # cosine similarity = dot product
    """

    def __init__(self, axis=-1, epsilon=1e-12, **kwargs):
        super().__init__(**kwargs)
        axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
        if not axes or any(isinstance(a, bool) or not isinstance(a, int) for a in axes):
            raise ValueError(f"`axis` must be an int or a non-empty list of ints, got {axis!r}.")
        self.axis = axes if isinstance(axis, (list, tuple)) else axis
        self._axes = axes
        self.epsilon = v.check_positive("epsilon", epsilon)

    def call(self, inputs):
        self._check_axes(inputs.shape)
        dtype = _internal_dtype(inputs.dtype)
        x = tf.cast(inputs, dtype)
        # rsqrt of the clamped sum of squares, not x / max(sqrt(.), epsilon): sqrt's gradient at 0 is infinite
        # and would turn the zero vector's gradient into NaN.
        squares = tf.reduce_sum(tf.square(x), axis=self._axes, keepdims=True)
        normalized = x * tf.math.rsqrt(tf.maximum(squares, _at_least_tiny(self.epsilon**2, dtype)))
        return tf.cast(normalized, self.compute_dtype)

    def _check_axes(self, shape):
        rank = len(shape)
        if any(not -rank <= a < rank for a in self._axes):
            raise ValueError(f"`axis` {self.axis!r} is out of range for inputs of shape {tuple(shape)}.")

    def compute_output_shape(self, input_shape):
        self._check_axes(input_shape)
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(axis=self.axis, epsilon=self.epsilon)
        return config


__all__ = ["AtLeast", "GeM", "L2Normalization", "StochasticDepth"]
