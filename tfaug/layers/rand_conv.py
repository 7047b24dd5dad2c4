"""RandConv (Xu et al., ICLR 2021): filter each image with a freshly drawn random convolution."""

import numbers

import keras
import tensorflow as tf

from tfaug import ops
from tfaug import random as tfr
from tfaug import validation as v
from tfaug.layers.base import BaseAugmentation

#: Largest kernel side accepted: a k x k kernel costs k**2 multiply-adds per pixel and channel pair.
MAX_KERNEL_SIZE = 31


@keras.saving.register_keras_serializable(package="tfaug")
class RandConv(BaseAugmentation):
    """Convolves each image with a random `k x k` kernel mapping its C channels to C channels.

    Per image (one draw per batch with `batchwise=True`): a kernel side `k` uniform over `kernel_sizes`;
    weights `~ N(0, 1 / (k**2 C))` (Kaiming normal, fan-in `k**2 C`), no bias; with `mix=True` a weight
    `alpha ~ U(0, 1)` that blends the filtered image with the original (RandConv-mix):
    `out = alpha * conv(x) + (1 - alpha) * x`; and whether the image is filtered at all (`probability`).

    The paper's code filters images whitened by the dataset's mean and standard deviation, with zero
    padding. Here the filter acts on pixels centred on the middle `c` of `value_range`:
    `conv(x) = c + W * (x - c)`, with 'same' zero padding of `x - c` (so the border is padded with the
    mid-grey `c`). For a filter this equals the paper's with dataset mean `c` and one standard deviation for
    all channels (a linear filter does not see the scale). The result is clipped to `value_range`, as the
    paper's code does with `clamp_output` (off by default there, where the output feeds the network
    directly), and returned in the input dtype. Labels, masks and boxes pass through unchanged.

    Args:
        kernel_sizes: the kernel sides to draw from, odd ints in [1, 31], none repeated. Default
            `(1, 3, 5, 7)`, the paper's multi-scale setting.
        mix: blend the filtered image with the original by `alpha ~ U(0, 1)` (RandConv-mix, the paper's
            best variant). With `False` the filtered image is returned as it is (RandConv-img, which the paper
            pairs with `probability=0.5`). Default True.
        probability: chance that an image is filtered, in [0, 1]. Default 1.0.
        value_range, batchwise, seed: see `BaseAugmentation`.

    Inputs: a tensor of images, `(images, labels)` or a dict; images `[B, H, W, C]` or `[H, W, C]` with C
    known when the layer is traced, any float or integer dtype, returned in the same dtype.

    Raises:
        ValueError: for bad `kernel_sizes`, a non-boolean `mix`, `probability` outside [0, 1], images whose
            channel count is unknown, or (eagerly) pixel values outside `value_range`.

    Example:
        >>> RandConv(kernel_sizes=(1, 3, 5, 7), seed=0)(images)

    Reference: Xu et al., "Robust and Generalizable Visual Representation Learning via Random Convolutions",
    ICLR 2021.
    """

    uses_value_range = True

    def __init__(self, kernel_sizes=(1, 3, 5, 7), mix=True, probability=1.0, **kwargs):
        super().__init__(**kwargs)
        self.kernel_sizes = _check_kernel_sizes(kernel_sizes)
        self.mix = v.check_bool("mix", mix)
        self.probability = v.check_probability("probability", probability)

    def get_random_transformation(self, data, seed):
        """Draws `{"kernel_size": [B] int32, "kernels": [B, K, K, C, C], "alpha": [B], "apply": [B] bool}`.

        Every kernel is embedded, centred, in a `K x K` one (K the largest of `kernel_sizes`), zero outside
        its `k x k` window, so that one convolution applies every image's kernel.
        """
        images = data["images"]
        channels = images.shape[-1]
        if channels is None:
            raise ValueError(f"RandConv needs the channel count of `images` when traced, got shape {images.shape}.")
        batch_size = tf.shape(images)[0]
        n = 1 if self.batchwise else batch_size
        size_seed, weight_seed, alpha_seed, apply_seed = tf.unstack(tfr.split_seed(seed, 4))
        largest = max(self.kernel_sizes)
        index = tfr.randint(size_seed, [n], 0, len(self.kernel_sizes))
        kernel_size = tf.gather(tf.constant(self.kernel_sizes, tf.int32), index)
        # Kaiming normal: std = 1 / sqrt(fan_in) with fan_in = k * k * C.
        std = 1.0 / (tf.cast(kernel_size, tf.float32) * tf.sqrt(float(channels)))
        weights = tfr.normal(weight_seed, tf.stack([n, largest, largest, channels, channels]))
        inside = tf.abs(tf.range(largest) - largest // 2)[None, :] <= (kernel_size // 2)[:, None]
        window = inside[:, :, None] & inside[:, None, :]
        kernels = tf.where(window[..., None, None], weights * std[:, None, None, None, None], 0.0)
        alpha = tfr.uniform(alpha_seed, [n]) if self.mix else tf.ones([n])
        apply = tfr.bernoulli(apply_seed, [n], self.probability)
        transformation = {"kernel_size": kernel_size, "kernels": kernels, "alpha": alpha, "apply": apply}
        return {key: _to_batch(value, batch_size) for key, value in transformation.items()}

    def transform_images(self, images, transformation):
        x = ops.to_float(images)
        low, high = self.value_range
        centre = (low + high) / 2.0
        filtered = centre + per_image_convolution(x - centre, tf.cast(transformation["kernels"], x.dtype))
        alpha = tf.cast(transformation["alpha"], x.dtype)[:, None, None, None]
        out = tf.clip_by_value(alpha * filtered + (1.0 - alpha) * x, low, high)
        out = tf.where(transformation["apply"][:, None, None, None], out, x)
        return ops.from_float(out, images.dtype)

    def get_config(self):
        config = super().get_config()
        config.update(kernel_sizes=list(self.kernel_sizes), mix=self.mix, probability=self.probability)
        return config


def per_image_convolution(images, kernels):
    """Cross-correlates each image `[B, H, W, C]` with its own kernel `[B, K, K, C, C]` ('same' zero padding).

    One depthwise convolution over the batch laid out as channels: channel `(b, i)` is filtered by the `C`
    kernels `kernels[b, :, :, i, :]`, and the `C` input channels of each output are summed. The largest
    intermediate holds `C` times the image, never one copy per kernel tap. K must be odd.
    """
    # The convolution refuses an empty filter: an empty batch (or image) is returned as it is.
    if images.shape.num_elements() == 0:
        return images
    if images.shape.num_elements() is None:
        empty = tf.equal(tf.size(images), 0)
        return tf.cond(empty, lambda: images, lambda: _per_image_convolution(images, kernels))
    return _per_image_convolution(images, kernels)


def _per_image_convolution(images, kernels):
    shape = tf.shape(images)
    batch_size, height, width = shape[0], shape[1], shape[2]
    channels = images.shape[-1]
    size = tf.shape(kernels)[1]
    stacked = tf.reshape(tf.transpose(images, [1, 2, 0, 3]), tf.stack([1, height, width, batch_size * channels]))
    filters = tf.reshape(
        tf.transpose(kernels, [1, 2, 0, 3, 4]), tf.stack([size, size, batch_size * channels, channels])
    )
    out = tf.nn.depthwise_conv2d(stacked, filters, strides=[1, 1, 1, 1], padding="SAME")
    out = tf.reduce_sum(tf.reshape(out, tf.stack([height, width, batch_size, channels, channels])), axis=3)
    return tf.transpose(out, [2, 0, 1, 3])


def _to_batch(values, batch_size):
    """Broadcasts a batchwise `[1, ...]` draw to `[B, ...]`; per-image draws pass through."""
    return tf.broadcast_to(values, tf.concat([[batch_size], tf.shape(values)[1:]], axis=0))


def _check_kernel_sizes(kernel_sizes):
    message = (
        f"`kernel_sizes` must be a non-empty sequence of distinct odd ints in [1, {MAX_KERNEL_SIZE}], "
        f"got {kernel_sizes!r}."
    )
    if not isinstance(kernel_sizes, (tuple, list)) or not kernel_sizes:
        raise ValueError(message)
    for size in kernel_sizes:
        integral = isinstance(size, numbers.Integral) and not isinstance(size, bool)
        if not integral or not 1 <= size <= MAX_KERNEL_SIZE or size % 2 == 0:
            raise ValueError(message)
    if len(set(kernel_sizes)) != len(kernel_sizes):
        raise ValueError(message)
    return tuple(int(size) for size in kernel_sizes)
