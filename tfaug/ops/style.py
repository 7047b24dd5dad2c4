"""Feature statistics for style: channel moments, AdaIN and Gram matrices of `[B, H, W, C]` feature maps.

Pure and batched, no randomness: every statistic is per image and per channel, over the spatial axes.
"""

import tensorflow as tf

#: Added to the variance before the square root, as in the AdaIN paper's code.
EPSILON = 1e-5


def _features(features, name):
    features = tf.convert_to_tensor(features)
    if features.shape.rank != 4:
        raise ValueError(
            f"`{name}` must be a [batch, height, width, channels] feature map, got shape {features.shape}."
        )
    if not features.dtype.is_floating:
        raise TypeError(f"`{name}` must have a float dtype, got {features.dtype.name}.")
    return features


def feature_moments(features, epsilon=EPSILON, unbiased=False):
    """Per-image, per-channel mean and standard deviation over height and width.

    Args:
        features: float `[B, H, W, C]`.
        epsilon: added to the variance inside the square root (keeps flat channels finite), default 1e-5.
        unbiased: divide the summed squares by `H * W - 1` (PyTorch's `Tensor.var`, which the AdaIN, MixStyle
            and DSU papers' code use; one pixel has variance 0) instead of `H * W` (default).

    Returns:
        `(mean, std)`, each `[B, C]` in the features' dtype: `std = sqrt(var + epsilon)`.

    Example:
        >>> mean, std = feature_moments(tf.random.normal([2, 8, 8, 16]))  # each [2, 16]
    """
    features = _features(features, "features")
    mean, variance = tf.nn.moments(features, axes=[1, 2])
    if unbiased:
        pixels = tf.cast(tf.shape(features)[1] * tf.shape(features)[2], features.dtype)
        variance = variance * pixels / tf.maximum(pixels - 1, 1)
    return mean, tf.sqrt(variance + tf.cast(epsilon, features.dtype))


def adain_from_moments(content, mean, std, epsilon=EPSILON):
    """Adaptive instance normalisation to given statistics: `std * (x - mu(x)) / sigma(x) + mean`.

    Args:
        content: float `[B, H, W, C]` features.
        mean, std: the target statistics, `[B, C]` (or anything that broadcasts to it, such as `[C]`).
        epsilon: inside the square root of the content's variance, default 1e-5.

    Returns:
        `[B, H, W, C]` features whose per-image, per-channel mean is `mean` and whose standard deviation is
        `std * sigma / sqrt(sigma^2 + epsilon)` (`std` up to the epsilon) where `sigma` is the content's.
    """
    content = _features(content, "content")
    content_mean, content_std = feature_moments(content, epsilon)
    # [B, C] targets broadcast over height and width; [C] ones broadcast as they are.
    mean, std = (tf.cast(t, content.dtype) for t in (mean, std))
    mean, std = (t[:, None, None, :] if t.shape.rank == 2 else t for t in (mean, std))
    return (content - content_mean[:, None, None, :]) / content_std[:, None, None, :] * std + mean


def adain(content, style, epsilon=EPSILON):
    """AdaIN (Huang and Belongie 2017): `sigma(s) * (c - mu(c)) / sigma(c) + mu(s)` per image and channel.

    Args:
        content, style: float `[B, H, W, C]` and `[B, H', W', C]` features (sizes may differ; image i of
            `content` takes the statistics of image i of `style`).
        epsilon: inside the square roots, default 1e-5.

    Returns:
        `[B, H, W, C]`: the content features with the style features' channel means and standard deviations.

    Example:
        >>> target = adain(encoder(content_images), encoder(style_images))

    Reference: Huang and Belongie, "Arbitrary Style Transfer in Real-time with Adaptive Instance
    Normalization", ICCV 2017.
    """
    style_mean, style_std = feature_moments(_features(style, "style"), epsilon)
    return adain_from_moments(content, style_mean, style_std, epsilon)


def gram_matrix(features):
    """Gram matrix per image, `G = F F^T / (C H W)` with `F` the `[C, H W]` feature matrix (Gatys et al.).

    Args:
        features: float `[B, H, W, C]`.

    Returns:
        `[B, C, C]`, symmetric: `G[b, i, j] = sum_p F[b, p, i] F[b, p, j] / (C H W)`.
    """
    features = _features(features, "features")
    shape = tf.shape(features)
    flat = tf.reshape(features, [shape[0], shape[1] * shape[2], shape[3]])
    size = tf.cast(shape[1] * shape[2] * shape[3], features.dtype)
    return tf.linalg.matmul(flat, flat, transpose_a=True) / size


def style_loss(features_a, features_b):
    """Style loss (Gatys et al. 2016): mean squared difference of Gram matrices, summed over layers.

    For one layer: `mean((gram_matrix(a) - gram_matrix(b)) ** 2)` over the batch and the `C x C` entries,
    which is Gatys et al.'s `E_l` (unnormalised Grams, `1 / (4 N^2 M^2)`) times `4 / C^2`. Lists (or tuples)
    of feature maps, one per layer, give the sum of the layers' losses (unweighted).

    Args:
        features_a, features_b: float `[B, H, W, C]` feature maps, or equally long lists of them (layer by
            layer; the two maps of a layer may differ in height and width, not in channels).

    Returns:
        A scalar.

    Reference: Gatys, Ecker and Bethge, "Image Style Transfer Using Convolutional Neural Networks", CVPR 2016.
    """
    if isinstance(features_a, (list, tuple)) or isinstance(features_b, (list, tuple)):
        if not (isinstance(features_a, (list, tuple)) and isinstance(features_b, (list, tuple))):
            raise ValueError("`features_a` and `features_b` must both be feature maps or both lists of them.")
        if len(features_a) != len(features_b) or not features_a:
            raise ValueError(
                f"`features_a` and `features_b` must list the same non-zero number of layers, got "
                f"{len(features_a)} and {len(features_b)}."
            )
        return tf.add_n([style_loss(a, b) for a, b in zip(features_a, features_b)])
    return tf.reduce_mean(tf.square(gram_matrix(features_a) - gram_matrix(features_b)))
