"""RandomApply, RandomChoice, RandomOrder: realised per-image frequencies, independence, only the chosen images
computed, masks and boxes following, every execution mode, Keras inner layers, serialisation, bad arguments.

Inner layers built here are tiny tfaug layers whose output tells which layer ran and in which order, so the
tests read the realised choices off the output pixels; they compile in a moment.
"""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

import tfaug
from tfaug import random as tfr
from tfaug.layers import BaseAugmentation
from tfaug.layers import RandomApply
from tfaug.layers import RandomChoice
from tfaug.layers import RandomOrder
from tfaug.ops.dtypes import from_float
from tfaug.ops.dtypes import to_float

P_MIN = 1e-3
SEED = tf.constant([3, 7], tf.int64)


class Affine(BaseAugmentation):
    """`x -> scale * x + offset` on every pixel (deterministic): the output tells which layers ran, in order."""

    def __init__(self, scale=1.0, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale, self.offset = scale, offset

    def get_random_transformation(self, data, seed):
        return {}

    def transform_images(self, images, transformation):
        return from_float(to_float(images) * self.scale + self.offset, images.dtype)


class Noise(BaseAugmentation):
    """Adds an integer drawn per image from [1, 50] to every pixel; records, eagerly, each call's rows."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = []

    def get_random_transformation(self, data, seed):
        return {"offset": tfr.randint(seed, [tf.shape(data["images"])[0]], 1, 51)}

    def transform_images(self, images, transformation):
        out = from_float(
            to_float(images) + tf.cast(transformation["offset"], tf.float32)[:, None, None, None], images.dtype
        )
        if tf.executing_eagerly():
            self.calls.append((images.numpy()[:, 0, 0, 0], out.numpy()[:, 0, 0, 0]))
        return out


class Mirror(BaseAugmentation):
    """Flips each image along `axis` (2: left-right, 1: up-down) with chance 1/2, and its mask with it."""

    def __init__(self, axis=2, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def get_random_transformation(self, data, seed):
        return {"flip": tfr.bernoulli(seed, [tf.shape(data["images"])[0]], 0.5)}

    def _flip(self, x, transformation):
        return tf.where(transformation["flip"][:, None, None, None], tf.reverse(x, axis=[self.axis]), x)

    def transform_images(self, images, transformation):
        return self._flip(images, transformation)

    def transform_segmentation_masks(self, masks, transformation):
        return self._flip(masks, transformation)


def ids_images(n, height=1, width=1):
    """Float32 images `[n, height, width, 1]`, image i filled with i: the output names the image."""
    return np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None, None], (n, height, width, 1)).copy()


def ramp_batch(n=6, height=4, width=5):
    """float32 images whose columns differ (a flip shows), their channel 0 as int32 masks, one box each."""
    images = np.random.default_rng(0).integers(0, 200, (n, height, width, 3)).astype(np.float32)
    masks = images[..., :1].astype(np.int32)
    boxes = {
        "boxes": np.tile([[[0.0, 1.0, 2.0, 3.0]]], (n, 1, 1)).astype(np.float32),
        "labels": np.ones([n, 1], np.int32),
    }
    return images, masks, boxes


def graph(fn, jit_compile=False):
    return tf.function(fn, jit_compile=jit_compile)


# -- realised frequencies and independence -------------------------------------------------------------------


def test_random_apply_realised_frequency_and_independence():
    n = 1000
    layer = RandomApply(Affine(offset=1000.0), probability=0.3, seed=0)
    x = ids_images(n)
    outputs = [layer.augment(x, seed=seed).numpy()[:, 0, 0, 0] for seed in (SEED, SEED + 1)]
    applied = [out != x[:, 0, 0, 0] for out in outputs]
    counts = np.bincount(applied[0], minlength=2)
    assert stats.chisquare(counts, [0.7 * n, 0.3 * n]).pvalue > P_MIN
    # Pairs of neighbouring images in a batch, and an image's draws in two calls, co-occur as independent draws.
    for a, b in ((applied[0][0::2], applied[0][1::2]), (applied[0], applied[1])):
        table = np.histogram2d(a, b, bins=2)[0]
        assert stats.chi2_contingency(table).pvalue > P_MIN
    # The layer ran once on each drawn image (+1000 once), the others are the input.
    np.testing.assert_array_equal(outputs[0], np.where(applied[0], x[:, 0, 0, 0] + 1000, x[:, 0, 0, 0]))


def test_random_choice_realised_frequencies_and_independence():
    n = 1200
    layer = RandomChoice([Affine(offset=k) for k in (1.0, 2.0, 3.0)], weights=(1, 2, 3), seed=0)
    chosen = layer.augment(np.zeros([n, 1, 1, 1], np.float32), seed=SEED).numpy()[:, 0, 0, 0]
    assert set(np.unique(chosen)) == {1.0, 2.0, 3.0}  # one layer per image, each image through exactly one
    counts = np.bincount(chosen.astype(int) - 1, minlength=3)
    assert stats.chisquare(counts, np.array([1, 2, 3]) / 6 * n).pvalue > P_MIN
    table = np.histogram2d(chosen[0::2], chosen[1::2], bins=3)[0]
    assert stats.chi2_contingency(table).pvalue > P_MIN
    assert layer.probabilities == pytest.approx((1 / 6, 2 / 6, 3 / 6))


def test_random_choice_never_draws_a_zero_weight():
    layer = RandomChoice([Affine(offset=k) for k in (1.0, 2.0, 3.0, 4.0)], weights=[0, 1, 0, 0], seed=0)
    ids = layer.get_random_transformation({"images": tf.zeros([200, 1, 1, 1])}, SEED)["layer_ids"]
    np.testing.assert_array_equal(ids, np.ones([1, 200]))


def test_random_order_realised_orders_are_uniform_and_independent():
    # x -> 4x + k appends the digit k in base 4: from 0, three layers leave their order in the value.
    n = 1200
    layer = RandomOrder([Affine(scale=4.0, offset=k) for k in (1.0, 2.0, 3.0)], seed=0)
    values = graph(lambda x: layer.augment(x, seed=SEED))(np.zeros([n, 1, 1, 1], np.float32)).numpy()[:, 0, 0, 0]
    orders = [(int(v) // 16, int(v) // 4 % 4, int(v) % 4) for v in values]
    assert {tuple(sorted(order)) for order in orders} == {(1, 2, 3)}  # every layer exactly once per image
    names = sorted(set(orders))
    index = np.array([names.index(order) for order in orders])
    assert len(names) == 6 and stats.chisquare(np.bincount(index)).pvalue > P_MIN
    table = np.histogram2d(index[0::2], index[1::2], bins=6)[0]
    assert stats.chi2_contingency(table).pvalue > P_MIN


@pytest.mark.parametrize("cls", [RandomApply, RandomChoice, RandomOrder])
def test_batchwise_draws_one_choice_for_the_batch(cls):
    inner = [Affine(scale=4.0, offset=1.0), Affine(scale=4.0, offset=2.0)]
    layer = RandomApply(inner[0], seed=0, batchwise=True) if cls is RandomApply else cls(inner, seed=0, batchwise=True)
    outputs = [layer(np.zeros([6, 1, 1, 1], np.float32)).numpy().ravel() for _ in range(8)]
    assert all(len(set(out)) == 1 for out in outputs)
    assert len({out[0] for out in outputs}) > 1  # calls differ


# -- only the chosen images ------------------------------------------------------------------------------------


def test_inner_layer_sees_only_its_images_and_each_gets_its_own_result():
    n = 40
    inner = Noise()
    layer = RandomApply(inner, probability=0.25, seed=0)
    x = ids_images(n, 2, 3)
    out = layer.augment(x, seed=SEED).numpy()
    chosen = layer.get_random_transformation({"images": tf.constant(x)}, SEED)["layer_ids"].numpy()[0] == 0
    seen = np.concatenate([rows for rows, _ in inner.calls])
    assert set(seen) == set(np.flatnonzero(chosen))
    # Chunks of 5 rows here (half the expected 10): the last one repeats a row, at most 4 extra rows in all.
    assert len(seen) < chosen.sum() + 5 < n
    # Each drawn image's output is the inner layer's result for its first slot; the others are untouched.
    first = {}
    for rows, results in inner.calls:
        for row, result in zip(rows, results):
            first.setdefault(int(row), result)
    expected = x[:, 0, 0, 0] + np.array([first.get(i, i) - i for i in range(n)])
    np.testing.assert_array_equal(out[:, 0, 0, 0], expected)
    np.testing.assert_array_equal(out, np.broadcast_to(out[:, :1, :1], out.shape))


def test_random_choice_runs_each_layer_on_its_images_only():
    inner = [Noise(), Noise(), Noise()]
    layer = RandomChoice(inner, seed=0)
    x = ids_images(24)
    layer.augment(x, seed=SEED)
    ids = layer.get_random_transformation({"images": tf.constant(x)}, SEED)["layer_ids"].numpy()[0]
    for k, noise in enumerate(inner):
        assert set(np.concatenate([rows for rows, _ in noise.calls])) == set(np.flatnonzero(ids == k))


def test_training_false_and_probability_zero_are_the_identity():
    images, masks, boxes = ramp_batch()
    data = {"images": images, "segmentation_masks": masks, "bounding_boxes": boxes, "labels": np.arange(6)}
    for layer in (RandomApply(Mirror(), seed=0), RandomChoice([Mirror(), Noise()], seed=0), RandomOrder([Noise()])):
        out = layer(data, training=False)
        assert out is data or all(out[key] is data[key] for key in data)
    inner = Noise()
    out = RandomApply(inner, probability=0.0, seed=0)(data)
    np.testing.assert_array_equal(out["images"], images)
    assert not inner.calls  # a layer never chosen is not even traced


# -- masks, boxes, labels, structures -------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [RandomApply, RandomChoice, RandomOrder])
def test_masks_follow_their_image_and_labels_pass_through(cls):
    images, masks, _ = ramp_batch(8)  # masks: the images' first channel
    mirrors = [Mirror(axis=2), Mirror(axis=1)]
    layer = RandomApply(mirrors[0], probability=0.5, seed=1) if cls is RandomApply else cls(mirrors, seed=1)
    out = layer({"images": images, "segmentation_masks": masks, "labels": np.arange(8)})
    assert out["segmentation_masks"].dtype == tf.int32 and out["images"].dtype == tf.float32
    assert (out["images"].numpy() != images).any(axis=(1, 2, 3)).sum() >= 2
    np.testing.assert_array_equal(out["segmentation_masks"], out["images"].numpy()[..., :1].astype(np.int32))
    np.testing.assert_array_equal(out["labels"], np.arange(8))
    image, label = layer((images[0], np.int32(3)))  # one unbatched image and its label
    assert image.shape == images[0].shape and int(label) == 3


def test_keras_random_flip_as_inner_layer_carries_masks_and_boxes():
    images, masks, boxes = ramp_batch(8)
    flip = keras.layers.RandomFlip("horizontal", bounding_box_format="xyxy", seed=3)
    layer = RandomApply(flip, probability=0.5, seed=0)
    data = {"images": images.astype(np.uint8), "segmentation_masks": masks, "bounding_boxes": boxes}
    out = layer(data)
    assert out["images"].dtype == tf.uint8 and out["segmentation_masks"].dtype == tf.int32
    out_images, out_masks, out_boxes = out["images"].numpy(), out["segmentation_masks"].numpy(), out["bounding_boxes"]
    mirrored = np.array([np.array_equal(a, b[:, ::-1]) for a, b in zip(out_images, data["images"])])
    unchanged = np.array([np.array_equal(a, b) for a, b in zip(out_images, data["images"])])
    assert (mirrored | unchanged).all() and mirrored.any() and unchanged.any()
    np.testing.assert_array_equal(out_masks, np.where(mirrored[:, None, None, None], masks[:, :, ::-1], masks))
    expected = np.where(mirrored[:, None, None], [[[3.0, 1.0, 5.0, 3.0]]], boxes["boxes"])
    np.testing.assert_allclose(out_boxes["boxes"], expected)
    np.testing.assert_array_equal(out_boxes["labels"], boxes["labels"])
    # In tf.data too (Keras's own seed: the draws differ, the contract holds).
    result = next(iter(tf.data.Dataset.from_tensors(data).map(layer.augment)))
    assert result["images"].dtype == tf.uint8 and result["images"].shape == images.shape


# -- modes and seeds ------------------------------------------------------------------------------------------


def assert_equal_structures(a, b):
    a, b = tf.nest.flatten(a), tf.nest.flatten(b)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


def test_same_seed_same_output_in_every_mode():
    # RandomOrder runs the machinery the three share (steps, groups, chunks, seeds, masks and boxes), in a graph
    # with the batch size unknown when traced, in tf.data and under XLA; the other two's draws are compared in
    # every mode below, and all three with real inner layers in the slow profile (tests/test_conformance.py).
    images, masks, boxes = ramp_batch(5)
    data = {"images": images, "segmentation_masks": masks, "bounding_boxes": boxes, "labels": np.arange(5)}
    layer = RandomOrder([Mirror(), Affine(scale=2.0, offset=1.0)], seed=0)

    def run(data):
        return layer.augment(data, seed=SEED)

    eager = run(data)
    unknown_batch = tf.nest.map_structure(lambda x: tf.TensorSpec([None, *x.shape[1:]], x.dtype), data)
    assert_equal_structures(eager, tf.function(run, input_signature=[unknown_batch])(data))
    assert_equal_structures(eager, next(iter(tf.data.Dataset.from_tensors(data).map(run))))
    assert_equal_structures(eager, tf.function(run, input_signature=[unknown_batch], jit_compile=True)(data))
    # Every image went through both layers (they commute here); Mirror flipped some images and their masks.
    out = eager["images"].numpy()
    flipped = np.array([np.array_equal(a, 2 * b[:, ::-1] + 1) for a, b in zip(out, images)])
    np.testing.assert_array_equal(
        out, np.where(flipped[:, None, None, None], 2 * images[:, :, ::-1] + 1, 2 * images + 1)
    )
    assert flipped.any() and not flipped.all()
    np.testing.assert_array_equal(
        eager["segmentation_masks"], np.where(flipped[:, None, None, None], masks[:, :, ::-1], masks)
    )
    # Two layers with one seed agree call by call; calls differ.
    twins = [RandomOrder([Mirror(), Noise()], seed=4) for _ in range(2)]
    first = [twin(images) for twin in twins]
    np.testing.assert_array_equal(*first)
    assert not np.array_equal(first[0], twins[0](images))


def test_draws_are_the_same_in_every_mode():
    layers = [RandomApply(Noise(), seed=0), RandomChoice([Noise(), Noise(), Noise()], weights=[1, 2, 3], seed=0)]
    images = np.zeros([64, 1, 1, 1], np.float32)

    def draw(images):
        return [layer.get_random_transformation({"images": images}, SEED) for layer in layers]

    eager = draw(images)
    assert_equal_structures(eager, graph(draw, jit_compile=True)(images))
    assert_equal_structures(eager, next(iter(tf.data.Dataset.from_tensors(images).map(draw))))
    for transformation in eager:  # images draw differently
        assert len(np.unique(transformation["layer_ids"])) > 1


def test_data_map_function_draws_by_element_index():
    x = ids_images(8, 2, 2)
    fn = tfaug.data.random_apply(Noise(), seed=2)
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(4).enumerate().map(fn, num_parallel_calls=2)
    for index, batch in enumerate(dataset.as_numpy_iterator()):
        np.testing.assert_array_equal(
            batch, fn.layer.augment(x[4 * index : 4 * index + 4], seed=fn.layer.seed_for_index(index))
        )
    assert not np.array_equal(batch, x[4:])


def test_nested_compositions():
    layer = RandomApply(RandomChoice([Affine(offset=1.0), Affine(offset=2.0)], seed=1), probability=0.5, seed=0)
    values = layer(np.zeros([64, 1, 1, 1], np.float32)).numpy().ravel()
    assert set(values) == {0.0, 1.0, 2.0}


# -- serialisation --------------------------------------------------------------------------------------------


def test_config_nests_the_inner_layers_and_a_keras_file_round_trips(tmp_path):
    layers = [tfaug.layers.Cutout(size=4, seed=1), keras.layers.RandomFlip("horizontal", seed=2)]
    composition = RandomChoice(layers, weights=[2, 1], seed=5)
    config = composition.get_config()
    assert [item["class_name"] for item in config["layers"]] == ["Cutout", "RandomFlip"]
    assert config["weights"] == [2.0, 1.0] and config["layers"][0]["config"]["size"] == 4
    clone = RandomChoice.from_config(json.loads(json.dumps(config)))
    assert clone.get_config() == config
    assert isinstance(clone.layers[1], keras.layers.RandomFlip)

    model = keras.Sequential([keras.Input((8, 10, 3)), RandomApply(RandomOrder(layers), seed=3)])
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    [inner] = loaded.layers
    assert isinstance(inner.layer, RandomOrder) and inner.get_config() == model.layers[0].get_config()
    x = np.random.default_rng(0).integers(0, 255, (6, 8, 10, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded(x, training=False), x)
    np.testing.assert_array_equal(model(x, training=True), loaded(x, training=True))


# -- refused arguments and inputs ------------------------------------------------------------------------------


def test_bad_arguments_are_refused_by_name():
    for probability in (-0.1, 1.5, float("nan"), "0.5", None):
        with pytest.raises(ValueError, match="`probability`"):
            RandomApply(Noise(), probability=probability)
    for layers in ([], (), None, Noise()):
        with pytest.raises(ValueError, match="`layers` must be a non-empty list"):
            RandomChoice(layers)
    with pytest.raises(ValueError, match="`layers` must be a non-empty list"):
        RandomOrder([])
    for weights in ([1], [1, 2, 3], [1, -1], [0, 0], [1, float("nan")], [1, float("inf")], "12", [1, "2"]):
        with pytest.raises(ValueError, match="`weights`"):
            RandomChoice([Noise(), Noise()], weights=weights)
    with pytest.raises(TypeError, match=r"`layers\[1\]` must be a Keras layer"):
        RandomChoice([Noise(), lambda x: x])
    with pytest.raises(TypeError, match="`layer` must be a Keras layer"):
        RandomApply("random_flip")
    for mixer in (tfaug.layers.CutMix(), tfaug.layers.MixUp(), keras.layers.MixUp(), tfaug.layers.MixStyle()):
        with pytest.raises(ValueError, match="`layers\\[0\\]` is .*(mixes|feature statistics)"):
            RandomOrder([mixer])
    with pytest.raises(ValueError, match="`layer` is LabelSmoothing, which changes labels"):
        RandomApply(tfaug.layers.LabelSmoothing())


def test_inner_layers_that_change_shapes_or_cannot_carry_masks_are_refused():
    images, masks, _ = ramp_batch(4)
    with pytest.raises(ValueError, match="RandomCrop changed the shape of `images`"):
        RandomApply(keras.layers.RandomCrop(2, 2), probability=1.0, seed=0)(images)
    with pytest.raises(ValueError, match="Rescaling is no image preprocessing layer.*`segmentation_masks`"):
        RandomApply(keras.layers.Rescaling(0.5), probability=1.0, seed=0)(
            {"images": images, "segmentation_masks": masks}
        )
    with pytest.raises(ValueError, match="a list input must be"):
        RandomApply(Noise(), seed=0)([images[0], images[1]])
