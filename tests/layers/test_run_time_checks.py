"""Checks that must also hold when values are known only at run time (tf.function, tf.data)."""

import numpy as np
import pytest
import tensorflow as tf

import tfaug

IMAGES = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3)).astype(np.uint8)
LAYERS = [
    lambda: tfaug.LabelSmoothing(num_classes=3),
    lambda: tfaug.CutMix(num_classes=3, seed=0),
    lambda: tfaug.MixUpCutMix(num_classes=3, seed=0),
]


@pytest.mark.parametrize("make", LAYERS, ids=["LabelSmoothing", "CutMix", "MixUpCutMix"])
def test_out_of_range_sparse_labels_fail_in_a_graph_and_in_tf_data(make):
    layer = make()
    bad = np.array([0, 1, 2, 3], np.int32)
    spec = [tf.TensorSpec([None, 8, 8, 3], tf.uint8), tf.TensorSpec([None], tf.int32)]
    run = tf.function(lambda x, y: layer((x, y)), input_signature=spec)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"sparse `labels` must lie in \[0, num_classes=3\)"):
        run(IMAGES, bad)
    dataset = tf.data.Dataset.from_tensor_slices((IMAGES, bad)).batch(4).map(lambda x, y: layer((x, y)))
    with pytest.raises(tf.errors.InvalidArgumentError, match="sparse `labels` must lie"):
        list(dataset)
    good = run(IMAGES, np.array([0, 1, 2, 2], np.int32))[1].numpy()
    np.testing.assert_allclose(good.sum(axis=-1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("make", LAYERS, ids=["LabelSmoothing", "CutMix", "MixUpCutMix"])
def test_labels_of_another_batch_size_fail_when_the_size_is_known_only_at_run_time(make):
    layer = make()
    spec = [tf.TensorSpec([None, 8, 8, 3], tf.uint8), tf.TensorSpec([None, 3], tf.float32)]
    run = tf.function(lambda x, y: layer((x, y)), input_signature=spec)
    with pytest.raises(tf.errors.InvalidArgumentError, match="`labels` must have the batch size of `images`"):
        run(IMAGES, np.eye(3, dtype=np.float32))


def test_masks_of_another_batch_size_fail_at_run_time():
    layer = tfaug.RandAugment(ops=["rotate"], seed=0)
    spec = [tf.TensorSpec([None, 8, 8, 3], tf.uint8), tf.TensorSpec([None, 8, 8], tf.int32)]
    run = tf.function(lambda x, m: layer({"images": x, "segmentation_masks": m}), input_signature=spec)
    with pytest.raises(tf.errors.InvalidArgumentError, match="`segmentation_masks` must have the batch size"):
        run(IMAGES, np.zeros([3, 8, 8], np.int32))
