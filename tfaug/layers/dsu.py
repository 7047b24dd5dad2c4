"""DSU (Li et al., ICLR 2022): resample feature statistics from Gaussians whose spread is the batch's."""

import keras
import tensorflow as tf

from tfaug import random as tfr
from tfaug.layers._feature_statistics import FeatureStatisticsLayer
from tfaug.layers._feature_statistics import channel_moments
from tfaug.layers._feature_statistics import to_compute
from tfaug.layers._feature_statistics import unbiased_variance
from tfaug.layers._feature_statistics import where_applied


@keras.saving.register_keras_serializable(package="tfaug")
class DSU(FeatureStatisticsLayer):
    """Domain Shifts with Uncertainty: re-styles feature maps with randomly shifted channel statistics.

    For each image and channel, `mu` and `sigma` are the mean and standard deviation over height and width
    (unbiased variance, `epsilon` inside the square root). Their uncertainty is the spread over the batch,
    per channel: `Sigma_mu = sqrt(var_batch(mu) + epsilon)`, `Sigma_sigma = sqrt(var_batch(sigma) + epsilon)`
    (unbiased; 0 variance for a batch of one). With `eps, eps' ~ N(0, 1)` per image and channel:

        beta = mu + eps * Sigma_mu,   gamma = sigma + eps' * Sigma_sigma
        out = gamma * (x - mu) / sigma + beta

    As in the paper's code the statistics are not detached: the gradient flows through `mu`, `sigma` and
    the batch spreads. An image is re-styled with probability `probability`, decided per image by default;
    `batchwise=True` tosses one coin for the whole batch, as the paper's code does. Images left alone are
    returned exactly; the spreads are always those of the whole batch.

    Place it after the stem and after every residual stage, as the paper does. It only acts in training
    (`training=True`, as in `fit`); at inference, in `predict` and when called with `training` unset it
    returns its input.

    Args:
        probability: chance that an image (or, with `batchwise`, the batch) is re-styled, in [0, 1].
            Default 0.5.
        epsilon: added to each variance before its square root, > 0. Default 1e-6.
        batchwise: one coin for the whole batch instead of one per image. Default False.
        seed: int seed; the same seed and the same number of earlier training calls give the same output.

    Inputs: float feature maps `[B, H, W, C]` (float16, bfloat16, float32 or float64; statistics are
    computed in float32, or float64); the output has the same shape and dtype.

    Raises:
        ValueError: for `probability` outside [0, 1], `epsilon <= 0`, or inputs that are not 4-D.
        TypeError: for non-float inputs.

    Example:
        >>> x = keras.layers.Conv2D(64, 3)(inputs)
        >>> x = DSU(probability=0.5, seed=0)(x)

    Reference: Li et al., "Uncertainty Modeling for Out-of-Distribution Generalization", ICLR 2022.
    """

    def get_random_transformation(self, features, seed):
        """Draws `{"apply": [B] bool, "mean_noise": [B, C] float32, "std_noise": [B, C] float32}`."""
        shape = tf.shape(features)
        batch_size, channels = shape[0], shape[3]
        apply_seed, noise_seed = tf.unstack(tfr.split_seed(seed, 2))
        mean_noise, std_noise = tf.unstack(tfr.normal(noise_seed, tf.stack([2, batch_size, channels])))
        return {"apply": self.draw_apply(apply_seed, batch_size), "mean_noise": mean_noise, "std_noise": std_noise}

    def transform_features(self, features, transformation):
        x = to_compute(features)
        mean, std = channel_moments(x, self.epsilon)
        mean_spread = _batch_spread(mean, self.epsilon)
        std_spread = _batch_spread(std, self.epsilon)
        mean_noise = tf.cast(transformation["mean_noise"], x.dtype)[:, None, None, :]
        std_noise = tf.cast(transformation["std_noise"], x.dtype)[:, None, None, :]
        beta = mean + mean_noise * mean_spread
        gamma = std + std_noise * std_spread
        out = gamma * (x - mean) / std + beta
        return where_applied(transformation["apply"], out, features)


def _batch_spread(statistic, epsilon):
    """`sqrt(var + epsilon)` over the batch of a `[B, 1, 1, C]` statistic, per channel: `[1, 1, 1, C]`."""
    mean = tf.reduce_mean(statistic, axis=0, keepdims=True)
    return tf.sqrt(unbiased_variance(statistic, mean, axis=[0]) + epsilon)
