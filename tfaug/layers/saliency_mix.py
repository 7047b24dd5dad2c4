"""SaliencyMix (Uddin et al., ICLR 2021): CutMix whose box is centred on the partner's saliency peak."""

import keras
import tensorflow as tf

from tfaug import ops
from tfaug import random as tfr
from tfaug.layers._mixing import leave_self_pairs
from tfaug.layers.base import checked_at_run_time
from tfaug.layers.cutmix import CutMix
from tfaug.ops.dtypes import to_float
from tfaug.ops.saliency import spectral_residual

SALIENCY = "saliency"


@keras.saving.register_keras_serializable(package="tfaug")
class SaliencyMix(CutMix):
    """CutMix with the box centred on the most salient pixel of the partner image, pasted in place.

    Per image (one lam and apply decision per batch with `batchwise=True`): `lam ~ Beta(alpha, alpha)`;
    a box of `floor(H * sqrt(1 - lam))` by `floor(W * sqrt(1 - lam))` pixels, as CutMix's, is centred on
    the peak of the partner's saliency map (its first maximum in row-major order), clipped to the image,
    and the partner's pixels inside it are pasted at the same place. Labels become
    `lam' * y + (1 - lam') * y_partner` with `lam'` the fraction of pixels kept after clipping, exactly.
    With probability `1 - probability` an image is left as it is (`lam' = 1`).

    Saliency: a dict input may carry its own maps under `"saliency"` (`[B, H, W]` or `[B, H, W, 1]`, any
    real dtype, larger is more salient; returned unchanged), say from a model; otherwise the layer
    computes spectral-residual maps (`tfaug.ops.spectral_residual`, on the images mapped from
    `value_range` to [0, 1]) in the graph. Only the peak matters, so any monotone rescaling of a map gives
    the same result.

    Departures from the reference code: the box, its centre and lam are per image (the reference draws
    one lam and takes one box from the saliency of the first partner for the whole batch; `batchwise=True`
    draws one lam, each image still gets its partner's peak); the default saliency is the spectral residual
    (Hou and Zhang; the paper compares several detectors, the reference code calls OpenCV's fine-grained
    static saliency, which has no batched graph form).

    Args:
        alpha: Beta concentration, > 0. Default 1.0, as the paper's.
        probability: chance that an image is mixed, in [0, 1]. Default 1.0 (the paper used 0.5 on CIFAR).
        num_classes, pairing, batchwise, value_range, seed, bounding_box_format: as in `CutMix`.

    Inputs: as `CutMix` (masks pasted alike, bounding boxes cut and pasted as CutMix's), plus an optional
    `"saliency"` entry in a dict input.

    Raises:
        ValueError: as `CutMix`, and for a `saliency` map whose shape is not the images' `[B, H, W]`
            (or `[B, H, W, 1]`) or whose dtype is not real.

    Example:
        >>> images = tf.random.uniform([8, 24, 40, 3], maxval=255)
        >>> images, labels = SaliencyMix(seed=0, num_classes=10)((images, tf.range(8) % 10))

    Reference: Uddin et al., "SaliencyMix: A Saliency Guided Data Augmentation Strategy for Better
    Regularization", ICLR 2021.
    """

    extra_keys = (SALIENCY,)

    def get_random_transformation(self, data, seed):
        images = data["images"]
        shape = tf.shape(images)
        batch_size, height, width = shape[0], shape[1], shape[2]
        lam_seed, apply_seed, partner_seed = tf.unstack(tfr.split_seed(seed, 3))
        draw_shape = self.draw_shape(batch_size)
        lam = tfr.beta(lam_seed, draw_shape, self.alpha)
        # An image that is not mixed gets an empty box, so lam' = 1 comes out of the same formula.
        lam = self.per_image(tf.where(tfr.bernoulli(apply_seed, draw_shape, self.probability), lam, 1.0), batch_size)
        side = tf.sqrt(1.0 - lam)
        cut_h = tf.cast(tf.floor(tf.cast(height, tf.float32) * side), tf.int32)
        cut_w = tf.cast(tf.floor(tf.cast(width, tf.float32) * side), tf.int32)
        partner = self.draw_partner(partner_seed, batch_size)
        if SALIENCY in data:
            saliency = self._checked_saliency(data[SALIENCY], images)
        else:
            low, high = self.value_range
            saliency = spectral_residual((to_float(images) - low) / (high - low))
        cy, cx = first_peak(tf.gather(saliency, partner))
        boxes = ops.centered_boxes(cy, cx, cut_h, cut_w, height, width)
        return leave_self_pairs({"partner": partner, "boxes": boxes, "lambda": ops.kept_fraction(boxes, height, width)})

    def _checked_saliency(self, saliency, images):
        owner = self._name_for_errors
        if saliency.dtype == tf.bool or not (saliency.dtype.is_floating or saliency.dtype.is_integer):
            raise ValueError(f"{owner}: `saliency` must have a real dtype, got {saliency.dtype.name}.")
        if saliency.shape.rank == 4 and saliency.shape[-1] == 1:
            saliency = saliency[..., 0]
        if saliency.shape.rank != 3 or not saliency.shape.is_compatible_with(images.shape[:3]):
            raise ValueError(
                f"{owner}: `saliency` must be [batch, height, width] (or [batch, height, width, 1]) like "
                f"`images` {images.shape}, got shape {saliency.shape}."
            )
        if saliency.shape.is_fully_defined() and images.shape[:3].is_fully_defined():
            return saliency
        same = tf.reduce_all(tf.equal(tf.shape(saliency), tf.shape(images)[:3]))
        return checked_at_run_time(saliency, same, f"{owner}: `saliency` must have the images' [batch, height, width].")


def first_peak(maps):
    """`(row, column)` int32 `[B]` of the first maximum (row-major) of each map `[B, H, W]`: ties resolved
    the same way eagerly and under XLA (`tf.argmax` leaves the tie order unspecified)."""
    shape = tf.shape(maps)
    flat = tf.reshape(maps, [shape[0], -1])
    index = tf.range(tf.shape(flat)[1], dtype=tf.int32)
    top = tf.reduce_max(flat, axis=1, keepdims=True)
    first = tf.reduce_min(tf.where(flat == top, index, tf.shape(flat)[1]), axis=1)
    first = tf.minimum(first, tf.shape(flat)[1] - 1)  # maps of NaN only: the last pixel
    width = tf.maximum(shape[2], 1)
    return first // width, first % width
