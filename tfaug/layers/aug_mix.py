"""AugMix (Hendrycks et al., ICLR 2020): a convex mix of random op chains, plus its consistency loss."""

import keras
import tensorflow as tf

from tfaug import ops as tfops
from tfaug import random as tfr
from tfaug import validation as v
from tfaug.layers._policy import PolicyLayer
from tfaug.ops._xla import fused
from tfaug.policies import chains

#: The paper's ops: no colour enhancers (they overlap the ImageNet-C corruptions).
OPS = (
    "auto_contrast",
    "equalize",
    "posterize",
    "rotate",
    "solarize",
    "shear_x",
    "shear_y",
    "translate_x",
    "translate_y",
)
ENHANCE_OPS = ("color", "contrast", "brightness", "sharpness")
MAX_DEPTH = 3


@keras.saving.register_keras_serializable(package="tfaug")
class AugMix(PolicyLayer):
    """Mixes `width` random op chains of an image, then mixes the result with the image itself.

    Per image (drawn at run time, never frozen at trace time): chain weights `w ~ Dirichlet(alpha)`, skip
    weight `m ~ Beta(alpha, alpha)`, each chain's depth (uniform in 1..3 with `depth=-1`), and per op a
    uniform op and a level uniform in [0.1, `severity`] on the 0..10 scale (`magnitude_scale="timm"`,
    random sign). Output: `(1 - m) * x + m * sum_k w_k * chain_k(x)`, computed in float and cast back.
    All chains of the batch run as one program with `width` rows per image; without colour or sharpness
    ops (the default) the chains share the image's quantised levels instead of copying them.

    Segmentation masks and bounding boxes are refused with a `ValueError`: the chains move pixels
    differently and the mix blends them, so no one mask or box fits the result.

    Args:
        severity: maximum op level, in [0.1, 10]. Default 3.
        width: number of chains, >= 1. Default 3.
        depth: ops per chain, 1..3, or -1 (default) for uniform in 1..3.
        alpha: Dirichlet and Beta concentration, > 0. Default 1.
        all_ops: also use the colour enhancers (not in the paper's list). Default False.
        fill_value, interpolation: as in `RandAugment`.
        value_range, batchwise, seed: see `BaseAugmentation`.

    See `augmix_views` and `AugMixConsistency` for the paper's Jensen-Shannon consistency loss.

    Example:
        >>> AugMix(seed=0)(images)

    Reference: Hendrycks et al., "AugMix: A Simple Data Processing Method to Improve Robustness and
    Uncertainty", ICLR 2020.
    """

    def __init__(
        self,
        severity=3,
        width=3,
        depth=-1,
        alpha=1.0,
        all_ops=False,
        fill_value=128,
        interpolation="nearest",
        **kwargs,
    ):
        super().__init__(fill_value=fill_value, interpolation=interpolation, **kwargs)
        self.severity = v.check_number("severity", severity, 0.1, 10)
        self.width = v.check_int("width", width, low=1)
        if depth != -1:
            v.check_int("depth", depth, low=1, high=MAX_DEPTH)
        self.depth = int(depth)
        self.alpha = v.check_positive("alpha", alpha)
        self.all_ops = v.check_bool("all_ops", all_ops)
        self.op_table = OPS + ENHANCE_OPS if all_ops else OPS

    # Its chains move pixels differently, so no one geometry of a mask or box fits the mixed image.
    moves_bounding_boxes = False

    def get_random_transformation(self, data, seed):
        if "segmentation_masks" in data:
            raise ValueError(
                "AugMix cannot carry `segmentation_masks`: its chains move pixels differently and the mix "
                "blends them, so no one mask fits the result. Use RandAugment or TrivialAugmentWide for "
                "segmentation."
            )
        shape = tf.shape(data["images"])
        batch_size, height, width = shape[0], shape[1], shape[2]
        n = 1 if self.batchwise else batch_size
        seeds = tf.unstack(tfr.split_seed(seed, 7))
        chains = tf.stack([self.width, n, MAX_DEPTH])
        op_ids = tfr.randint(seeds[0], chains, 0, len(self.op_table))
        if self.depth == -1:
            depth = tfr.randint(seeds[1], tf.stack([self.width, n]), 1, MAX_DEPTH + 1)
        else:
            depth = tf.fill(tf.stack([self.width, n]), self.depth)
        op_ids = tf.where(tf.range(MAX_DEPTH)[None, None, :] < depth[..., None], op_ids, -1)
        fraction = tfr.uniform(seeds[2], chains, 0.1, self.severity) / 10.0
        arguments = self.arguments(op_ids, fraction, self.signs(seeds[3], chains), "timm", height, width)
        centers = self.centers(seeds[4], chains, height, width)
        # Dirichlet(alpha) chain weights as normalised Gamma(alpha) draws; skip weight Beta(alpha, alpha).
        log_gamma = tfr.gamma_log(seeds[5], tf.stack([n, self.width]), self.alpha)
        weights = tf.nn.softmax(log_gamma, axis=-1)
        skip = tfr.beta(seeds[6], [n], self.alpha)
        if self.batchwise:
            op_ids, arguments, centers = (tf.repeat(t, batch_size, axis=1) for t in (op_ids, arguments, centers))
            weights, skip = tf.repeat(weights, batch_size, axis=0), tf.repeat(skip, batch_size, axis=0)
        # Chain k of image i becomes row k * B + i of one program over the tiled batch.
        transformation = {
            "op_ids": tf.reshape(op_ids, [-1, MAX_DEPTH]),
            "arguments": tf.reshape(arguments, [-1, MAX_DEPTH]),
            "centers": tf.reshape(centers, [-1, MAX_DEPTH, 2]),
            "chain_weights": weights,
            "skip_weight": skip,
        }
        return transformation

    def run_program(self, images, transformation):
        t = transformation
        # The chains run on uint8 levels (as every program does), quantised once; the mix applies the chains'
        # last table lookup (and, for shared levels, their nearest resampling) itself.
        shape = tf.shape(images)
        settings = self.settings(images, copies=self.width)
        result = chains.apply_chains(images, self.program(t, shape[1], shape[2]), settings)
        return _mix(images, result, (t["chain_weights"], t["skip_weight"]), settings)

    def get_config(self):
        config = super().get_config()
        config.update(
            severity=self.severity, width=self.width, depth=self.depth, alpha=self.alpha, all_ops=self.all_ops
        )
        return config


@fused
def _mix(images, result, weights, settings):
    """`(1 - m) x + m sum_k w_k chain_k` in float, from the chains' deferred result (`chains.apply_chains`,
    rows `k * B + i`), `weights` `(w [B, width], m [B])` and the chains' `engine.Settings`: each chain's last
    table lookup and fill happen here, in the mix's own pass."""
    chain_weights, skip_weight = weights
    # `fused` may trace with relaxed shapes: the channel count comes from the settings.
    result.stored.set_shape([None, None, None, settings.channels])
    x = tfops.to_float(images)
    batch = tf.shape(images)[0]
    low, high = settings.value_range
    w = tf.cast(chain_weights, x.dtype)
    mixed = None
    # One term per chain: XLA vectorises this loop, and not a sum over a stacked chain axis.
    for k in range(settings.copies):
        level = result.rows(slice(batch * k, batch * (k + 1))).current(settings.fill_level)
        term = w[:, k, None, None, None] * tf.cast(level, x.dtype)
        mixed = term if mixed is None else mixed + term
    # sum_k w_k (low + level_k * scale) = low + scale * sum_k w_k level_k, as the weights sum to 1.
    mixed = mixed * ((high - low) / 255.0) + low
    m = tf.cast(skip_weight, x.dtype)[:, None, None, None]
    return tfops.from_float((1.0 - m) * x + m * mixed, images.dtype)


def augmix_views(layer, images):
    """The paper's three views for the consistency loss: `concat([images, layer(images), layer(images)])`.

    Args:
        layer: an `AugMix` layer (any tfaug layer works).
        images: `[B, H, W, C]`.

    Returns:
        `[3 B, H, W, C]`: clean, first augmented, second augmented (independent draws).
    """
    return tf.concat([images, layer(images, training=True), layer(images, training=True)], axis=0)


@keras.saving.register_keras_serializable(package="tfaug")
class AugMixConsistency(keras.losses.Loss):
    """Cross-entropy on the clean view plus `weight` x the Jensen-Shannon divergence of the three views.

    `y_pred` holds the predictions for `augmix_views(...)`, `[3 B, K]` (clean, aug1, aug2); `y_true` the
    labels of the clean images, `[B, K]` one-hot or `[B]` sparse. With `M` the mean of the three softmax
    outputs `p_k`, the divergence is `mean_k KL(p_k || M)` (the Jensen-Shannon divergence; the paper's
    code computes it as `F.kl_div(log M, p_k)` which is `KL(p_k || M)`).

    Args:
        weight: divergence weight. Default 12 (the paper's).
        from_logits: whether `y_pred` are logits. Default True.
    """

    def __init__(self, weight=12.0, from_logits=True, name="augmix_consistency", **kwargs):
        super().__init__(name=name, **kwargs)
        self.weight = v.check_positive("weight", weight, allow_zero=True)
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        clean, aug1, aug2 = tf.split(y_pred, 3, axis=0)
        if y_true.shape.rank == y_pred.shape.rank and y_true.shape[-1] == y_pred.shape[-1]:
            ce = keras.losses.categorical_crossentropy(y_true, clean, from_logits=self.from_logits)
        else:
            ce = keras.losses.sparse_categorical_crossentropy(y_true, clean, from_logits=self.from_logits)
        probs = [tf.nn.softmax(p) if self.from_logits else p for p in (clean, aug1, aug2)]
        log_mixture = tf.math.log(tf.clip_by_value((probs[0] + probs[1] + probs[2]) / 3.0, 1e-7, 1.0))
        divergence = (
            tf.add_n(
                [tf.reduce_sum(p * (tf.math.log(tf.clip_by_value(p, 1e-7, 1.0)) - log_mixture), axis=-1) for p in probs]
            )
            / 3.0
        )
        return ce + self.weight * divergence

    def get_config(self):
        config = super().get_config()
        config.update(weight=self.weight, from_logits=self.from_logits)
        return config
