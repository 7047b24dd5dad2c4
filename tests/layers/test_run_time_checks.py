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


# -- value_range ------------------------------------------------------------------------------------------

UNIT_IMAGES = np.random.default_rng(1).uniform(0.0, 1.0, (4, 40, 72, 3)).astype(np.float32)
VALUE_LAYERS = {
    "RandAugment": lambda **kw: tfaug.RandAugment(seed=0, **kw),
    "RandomErasing": lambda **kw: tfaug.RandomErasing(seed=0, **kw),
}


def _graph_and_tf_data(layer):
    run = tf.function(layer.augment, input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    return run, lambda images: list(tf.data.Dataset.from_tensors(images).map(layer.augment))


# RandAugment's case compiles its program in three modes: the slow profile runs it; RandomErasing checks the
# same base-class mechanism by default.
@pytest.mark.parametrize(
    "name",
    [pytest.param(name, marks=[pytest.mark.slow] if name == "RandAugment" else []) for name in sorted(VALUE_LAYERS)],
)
def test_unit_images_under_the_default_range_fail_in_every_mode_but_xla(name):
    layer = VALUE_LAYERS[name]()
    message = r"look like float images in \[0, 1\] but `value_range` is the default \(0, 255\)"
    with pytest.raises(ValueError, match=message):
        layer(UNIT_IMAGES)
    for run in _graph_and_tf_data(layer):
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            run(UNIT_IMAGES)
    # Said explicitly, either range is accepted.
    for value_range, images in (((0, 1), UNIT_IMAGES), ((0, 255), UNIT_IMAGES)):
        out = VALUE_LAYERS[name](value_range=value_range)(images)
        assert out.dtype == tf.float32 and np.all((out >= 0) & (out <= value_range[1]))


@pytest.mark.parametrize("name", sorted(VALUE_LAYERS))
def test_values_outside_the_given_range_fail_in_graphs_and_tf_data(name):
    layer = VALUE_LAYERS[name](value_range=(0, 1))
    pixels = 255.0 * UNIT_IMAGES  # 0..255 floats declared as [0, 1]: most pixels would saturate
    for run in _graph_and_tf_data(layer):
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"values lie outside `value_range`=\(0.0, 1.0\)"):
            run(pixels)


@pytest.mark.slow
def test_dark_uint8_and_empty_batches_pass_the_default_range_check():
    layer = tfaug.RandAugment(seed=0)
    run, in_tf_data = _graph_and_tf_data(layer)
    for images in (np.zeros([2, 40, 72, 3], np.float32), np.zeros([0, 40, 72, 3], np.float32)):
        assert run(images).shape == images.shape
        assert in_tf_data(images)[0].shape == images.shape
    ones = np.ones([2, 8, 8, 3], np.uint8)  # uint8 values 0 and 1 are pixel values, not a [0, 1] float range
    assert layer(ones).dtype == tf.uint8


def test_the_default_range_round_trips_through_the_config():
    layer = tfaug.RandAugment(seed=0)
    assert layer.value_range == (0.0, 255.0) and layer.get_config()["value_range"] is None
    clone = tfaug.RandAugment.from_config(layer.get_config())
    with pytest.raises(ValueError, match="look like float images"):
        clone(UNIT_IMAGES)
    given = tfaug.RandAugment.from_config(tfaug.RandAugment(value_range=(0, 255)).get_config())
    assert given.value_range == (0.0, 255.0) and given(UNIT_IMAGES).shape == UNIT_IMAGES.shape
