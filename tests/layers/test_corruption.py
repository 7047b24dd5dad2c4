"""`Corruption` and `RandomCorruption`: what they draw, and that each image gets its corruption."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

import tfaug
from tfaug import corruptions as tc

#: Corruptions without randomness: an image's result depends only on its corruption and severity.
DETERMINISTIC = ["contrast", "brightness", "pixelate", "jpeg_compression", "saturate"]


@pytest.fixture(scope="module")
def images(small_photos):
    return np.resize(small_photos, [8, 24, 40, 3])


def test_a_named_corruption_at_a_given_severity_is_corrupt(images):
    out = tfaug.Corruption("contrast", severity=4, seed=0)(images)
    assert np.array_equal(out, tc.corrupt(images, "contrast", 4))
    unit = images.astype(np.float32) / 255
    out = tfaug.Corruption("saturate", severity=2, value_range=(0, 1), seed=0)(unit)
    assert np.allclose(out, tc.corrupt(unit, "saturate", 2, value_range=(0, 1)), atol=1e-6)


def test_severities_are_uniform_in_the_range_per_image_or_per_batch():
    data = {"images": tf.zeros([3000, 8, 8, 1], tf.uint8)}
    layer = tfaug.Corruption("contrast", severity=(2, 4), seed=0)
    severity = layer.get_random_transformation(data, seed=tf.constant([1, 2], tf.int64))["severity"].numpy()
    counts = np.bincount(severity, minlength=6)
    assert counts[[0, 1, 5]].sum() == 0 and stats.chisquare(counts[2:5]).pvalue > 1e-3
    batchwise = tfaug.Corruption("contrast", severity=(1, 5), batchwise=True, seed=0)
    severity = batchwise.get_random_transformation(data, seed=tf.constant([1, 2], tf.int64))["severity"]
    assert len(set(severity.numpy())) == 1


def test_random_corruption_choices_are_uniform_and_per_image():
    data = {"images": tf.zeros([2000, 8, 8, 1], tf.uint8)}
    layer = tfaug.RandomCorruption(DETERMINISTIC, seed=0)
    draws = layer.get_random_transformation(data, seed=tf.constant([3, 4], tf.int64))
    counts = np.bincount(draws["corruption"].numpy(), minlength=len(DETERMINISTIC))
    assert stats.chisquare(counts).pvalue > 1e-3
    pairs = np.bincount(draws["corruption"].numpy() * 5 + draws["severity"].numpy() - 1, minlength=25)
    assert stats.chisquare(pairs).pvalue > 1e-3  # corruption and severity independent


def test_each_image_gets_its_own_corruption_and_severity(images):
    layer = tfaug.RandomCorruption(DETERMINISTIC, seed=0)
    data = {"images": tf.constant(images)}
    draws = layer.get_random_transformation(data, seed=tf.constant([5, 6], tf.int64))
    out = layer.transform_images(tf.constant(images), draws).numpy()
    for i, (k, severity) in enumerate(zip(draws["corruption"].numpy(), draws["severity"].numpy())):
        expected = tc.corrupt(images[i : i + 1], DETERMINISTIC[k], int(severity))[0]
        assert np.array_equal(out[i], expected), (i, DETERMINISTIC[k], severity)


def test_batchwise_random_corruption_picks_one_for_the_batch(images):
    layer = tfaug.RandomCorruption(DETERMINISTIC, batchwise=True, seed=0)
    draws = layer.get_random_transformation({"images": tf.constant(images)}, seed=tf.constant([7, 8], tf.int64))
    assert len(set(draws["corruption"].numpy())) == 1 and len(set(draws["severity"].numpy())) == 1


def test_masks_pass_unless_a_corruption_moves_pixels(images):
    masks = (images[..., :1] // 64).astype(np.int32)
    out = tfaug.Corruption("fog", seed=0)({"images": images, "segmentation_masks": masks})
    assert np.array_equal(out["segmentation_masks"], masks)
    with pytest.raises(ValueError, match="elastic_transform moves pixels but not segmentation masks"):
        tfaug.Corruption("elastic_transform", seed=0)({"images": images, "segmentation_masks": masks})
    with pytest.raises(ValueError, match="elastic_transform moves pixels but not bounding boxes"):
        boxes = {"boxes": np.zeros([8, 1, 4], np.float32), "labels": np.zeros([8, 1], np.int32)}
        tfaug.RandomCorruption(seed=0)({"images": images, "bounding_boxes": boxes})


def test_labels_pass_through_and_one_image_works(images):
    labels = np.arange(8)
    out_images, out_labels = tfaug.RandomCorruption(tc.HELD_OUT, seed=0)((images, labels))
    assert np.array_equal(out_labels, labels) and out_images.shape == images.shape
    assert tfaug.Corruption("snow", seed=0)(images[0]).shape == images.shape[1:]


def test_map_functions_build_the_layers():
    fn = tfaug.data.corruption("fog", severity=2, seed=0)
    assert type(fn.layer) is tfaug.Corruption and fn.layer.severity == (2, 2)
    assert type(tfaug.data.random_corruption(seed=0).layer) is tfaug.RandomCorruption


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(corruption="smog"), r"`corruption` must be one of"),
        (dict(corruption="fog", severity=0), r"`severity` must be an int in 1..5 or a \(low, high\) pair"),
        (dict(corruption="fog", severity=(4, 2)), r"`severity` must be an int in 1..5"),
        (dict(corruption="fog", severity=2.5), r"`severity` must be an int in 1..5"),
        (dict(corruption="fog", severity=(1, 6)), r"`severity` must be an int in 1..5"),
        (dict(corruption="fog", table="huge"), r"`table` must be one of"),
    ],
)
def test_bad_corruption_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tfaug.Corruption(**kwargs)


@pytest.mark.parametrize(
    "corruptions, message",
    [
        ([], r"`corruptions` must be a non-empty list"),
        ("fog", r"`corruptions` must be a non-empty list"),
        (["fog", "smog"], r"`corruptions` must be one of"),
        (["fog", "fog"], r"`corruptions` must not repeat a name"),
    ],
)
def test_bad_random_corruption_arguments_are_named(corruptions, message):
    with pytest.raises(ValueError, match=message):
        tfaug.RandomCorruption(corruptions)


def test_images_too_small_are_refused(images):
    with pytest.raises(ValueError, match=r"`Corruption` needs images of at least 8 x 8 pixels, got 4 x 40"):
        tfaug.Corruption("fog", seed=0)(images[:, :4])
