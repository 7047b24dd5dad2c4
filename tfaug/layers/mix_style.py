"""MixStyle (Zhou et al., ICLR 2021): mix the channel statistics of feature maps between images."""

import keras
import tensorflow as tf

from tfaug import random as tfr
from tfaug import validation as v
from tfaug.layers._feature_statistics import FeatureStatisticsLayer
from tfaug.layers._feature_statistics import channel_moments
from tfaug.layers._feature_statistics import per_image
from tfaug.layers._feature_statistics import to_compute
from tfaug.layers._feature_statistics import where_applied

#: How an image finds the image whose statistics it mixes with its own.
PAIRINGS = ("permute", "crossdomain")


@keras.saving.register_keras_serializable(package="tfaug")
class MixStyle(FeatureStatisticsLayer):
    """Re-styles feature maps with a mix of their own and another image's channel statistics.

    For each image and channel, `mu` and `sigma` are the mean and standard deviation over height and width
    (unbiased variance, `epsilon` inside the square root). With `lam ~ Beta(alpha, alpha)` per image and a
    partner image `j`:

        mu_mix = lam * mu_i + (1 - lam) * mu_j,   sigma_mix = lam * sigma_i + (1 - lam) * sigma_j
        out_i = sigma_mix * (x_i - mu_i) / sigma_i + mu_mix

    `mu` and `sigma` are held constant for the gradient (`stop_gradient`, as in the paper's code): the
    gradient reaches `x` only through `(x - mu) / sigma`. An image is mixed with probability `probability`,
    decided per image by default; `batchwise=True` tosses one coin for the whole batch, as the paper's code
    does. An image left alone, or with no partner (a batch of one; the last image of an odd batch under
    `"crossdomain"`), is returned exactly.

    Place it after the early blocks of a network (the paper: after the first two or three residual stages of
    a ResNet). It only acts in training (`training=True`, as in `fit`); at inference, in `predict` and when
    called with `training` unset it returns its input.

    Args:
        probability: chance that an image (or, with `batchwise`, the batch) is mixed, in [0, 1]. Default 0.5.
        alpha: Beta concentration of the mixing weight, > 0. Default 0.1.
        pairing: `"permute"` (default): each image's partner is drawn from the other images of the batch (a
            random cyclic permutation, so never the image itself). `"crossdomain"`: the batch is two domains'
            halves, the first `B // 2` images and the next `B // 2`; each image's partner is drawn from the
            other half (a random permutation of it); with an odd batch the last image is left unchanged.
        epsilon: added to the variance before the square root, > 0. Default 1e-6.
        batchwise: one coin for the whole batch instead of one per image. Default False.
        seed: int seed; the same seed and the same number of earlier training calls give the same output.

    Inputs: float feature maps `[B, H, W, C]` (float16, bfloat16, float32 or float64; statistics are
    computed in float32, or float64); the output has the same shape and dtype.

    Raises:
        ValueError: for `probability` outside [0, 1], `alpha <= 0`, `epsilon <= 0`, an unknown `pairing`,
            or inputs that are not 4-D.
        TypeError: for non-float inputs.

    Example:
        >>> x = keras.layers.Conv2D(64, 3)(inputs)
        >>> x = MixStyle(probability=0.5, alpha=0.1, seed=0)(x)

    Reference: Zhou et al., "Domain Generalization with MixStyle", ICLR 2021.
    """

    def __init__(self, probability=0.5, alpha=0.1, pairing="permute", epsilon=1e-6, **kwargs):
        super().__init__(probability=probability, epsilon=epsilon, **kwargs)
        self.alpha = v.check_positive("alpha", alpha)
        self.pairing = v.check_choice("pairing", pairing, PAIRINGS)

    def get_random_transformation(self, features, seed):
        """Draws `{"apply": [B] bool, "lambda": [B] float32, "partner": [B] int32}`."""
        batch_size = tf.shape(features)[0]
        apply_seed, lambda_seed, partner_seed = tf.unstack(tfr.split_seed(seed, 3))
        partner = self._draw_partner(partner_seed, batch_size)
        alone = tf.equal(partner, tf.range(batch_size, dtype=partner.dtype))
        return {
            "apply": self.draw_apply(apply_seed, batch_size) & ~alone,
            "lambda": tfr.beta(lambda_seed, [batch_size], self.alpha),
            "partner": partner,
        }

    def _draw_partner(self, seed, batch_size):
        if self.pairing == "permute":
            return tfr.derangement(seed, batch_size)
        first_seed, second_seed = tf.unstack(tfr.split_seed(seed, 2))
        half = batch_size // 2
        return tf.concat(
            [
                half + tfr.permutation(first_seed, half),
                tfr.permutation(second_seed, half),
                tf.range(2 * half, batch_size),  # the odd image out keeps itself: left unchanged
            ],
            axis=0,
        )

    def transform_features(self, features, transformation):
        x = to_compute(features)
        mean, std = channel_moments(x, self.epsilon)
        mean, std = tf.stop_gradient(mean), tf.stop_gradient(std)
        lam = tf.cast(per_image(transformation["lambda"]), x.dtype)
        partner = transformation["partner"]
        mixed_mean = lam * mean + (1.0 - lam) * tf.gather(mean, partner)
        mixed_std = lam * std + (1.0 - lam) * tf.gather(std, partner)
        out = mixed_std * (x - mean) / std + mixed_mean
        return where_applied(transformation["apply"], out, features)

    def get_config(self):
        config = super().get_config()
        config.update(alpha=self.alpha, pairing=self.pairing)
        return config
