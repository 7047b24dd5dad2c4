"""RandomGrayscale: ITU-R 601 luma in every channel (PIL's "L" on uint8), the coin's frequency, gray input, errors."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from scipy import stats

from tfaug.layers import RandomGrayscale

SEED = tf.constant([3, 7], tf.int64)


def test_chosen_images_are_their_luma_in_every_channel(small_photos):
    layer = RandomGrayscale()
    apply = tf.constant([True, False, True, False])
    out = layer.transform_images(tf.constant(small_photos), {"apply": apply}).numpy()
    assert out.shape == small_photos.shape
    for i in (0, 2):
        gray = np.asarray(Image.fromarray(small_photos[i]).convert("L"))
        np.testing.assert_array_equal(out[i], np.repeat(gray[..., None], 3, axis=-1))
    np.testing.assert_array_equal(out[[1, 3]], small_photos[[1, 3]])
    # Floats: 0.299 R + 0.587 G + 0.114 B, unrounded, in any value range.
    x = small_photos.astype(np.float32) / 127.5 - 1.0
    out = RandomGrayscale(value_range=(-1, 1)).transform_images(tf.constant(x), {"apply": apply}).numpy()
    luma = ((x + 1.0) * np.array([0.299, 0.587, 0.114])).sum(-1) - 1.0
    for i in (0, 2):
        np.testing.assert_allclose(out[i], np.repeat(luma[i][..., None], 3, axis=-1), atol=1e-5)


def test_each_image_is_turned_gray_with_the_probability():
    draws = RandomGrayscale(probability=0.3).get_random_transformation({"images": tf.zeros([3000, 1, 1, 3])}, SEED)
    assert stats.binomtest(int(draws["apply"].numpy().sum()), 3000, 0.3).pvalue > 1e-3


def test_gray_images_pass_and_other_channel_counts_are_refused(small_photos):
    gray = small_photos[..., :1]
    np.testing.assert_array_equal(RandomGrayscale(probability=1.0, seed=0)(gray), gray)
    with pytest.raises(ValueError, match=r"needs `images` with 3 \(RGB\) or 1 \(gray\) channels"):
        RandomGrayscale(seed=0)(small_photos[..., :2])
    for value in (-0.1, 1.5, float("nan"), None, "0.1"):
        with pytest.raises(ValueError, match="`probability`"):
            RandomGrayscale(probability=value)
