"""Puzzle Mix: objective, mask, transport, labels, saliency and training steps."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from recipes import PuzzleMix
from recipes import StepTimes
from recipes import step_overhead
from tfaug.ops import puzzle_mix as ops

SIZE = 8


def _classifier(classes=4, seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(classes)(x))


def _trainer(seed=0, **kwargs):
    options = dict(grid_sizes=(2, 4), neigh_size=2, transport_grid=4, seed=seed)
    options.update(kwargs)
    trainer = PuzzleMix(_classifier(), **options)
    trainer.compile(optimizer="sgd", loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    return trainer


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 255, (4, SIZE, SIZE, 3)).astype(np.float32)
    return images, np.eye(4, dtype=np.float32)


def test_saliency_is_the_input_gradient_norm(batch):
    images, labels = batch
    trainer = _trainer()
    x = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = keras.losses.CategoricalCrossentropy(from_logits=True)(labels, trainer.model(x, training=False))
    expected = np.sqrt((tape.gradient(loss, x).numpy() ** 2).sum(-1))
    np.testing.assert_allclose(trainer.saliency(images, labels).numpy(), expected, rtol=1e-5, atol=1e-12)


@pytest.mark.parametrize("levels", [2, 3])
def test_labels_are_the_mask_fraction_and_pixels_follow_the_mask(batch, levels):
    images, labels = batch
    trainer = _trainer(levels=levels, transport=False)
    saliency = tf.random.stateless_uniform([4, SIZE, SIZE], [0, 1])
    mixed = trainer.mix(images, labels, saliency, tf.constant([3, 4], tf.int64))
    mask, partner = mixed.mask.numpy(), mixed.partner.numpy()
    assert set(np.unique(mask)) <= {k / (levels - 1) for k in range(levels)}
    fraction = mask.mean(axis=(1, 2))[:, None]
    np.testing.assert_array_equal(mixed.labels.numpy(), fraction * labels + (1 - fraction) * labels[partner])
    expected = mask[..., None] * images + (1 - mask[..., None]) * images[partner]
    np.testing.assert_allclose(mixed.images.numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("levels", [2, 3])
def test_mask_keeps_each_images_salient_block(levels):
    # Image 1 is salient in the top-left block, image 2 in the bottom-right one: an even ratio keeps both.
    saliency1 = np.zeros((1, 8, 8), np.float32)
    saliency2 = np.zeros((1, 8, 8), np.float32)
    saliency1[0, :4, :4] = 1.0
    saliency2[0, 4:, 4:] = 1.0
    images = tf.zeros([1, 8, 8, 3])
    unary, down, right = ops.mask_objective(
        saliency1, saliency2, images, images, tf.constant([0.5]), 2, levels, 1.2, 0.5, 0.2, 2
    )
    mask = ops.mixing_mask(unary, down, right).numpy()[0]
    assert mask[0, 0] == 1.0 and mask[1, 1] == 0.0


def test_transport_is_a_permutation_that_keeps_region_saliency(rng):
    count = 16
    region = tf.constant(rng.uniform(size=(6, count)) < 0.4)
    saliency = rng.uniform(size=(6, count)).astype(np.float32) ** 4
    saliency /= saliency.sum(1, keepdims=True)
    for t_eps in (0.0, 0.05, 0.8):
        sources = ops.transport_sources(region, saliency, t_eps).numpy()
        np.testing.assert_array_equal(np.sort(sources, axis=1), np.tile(np.arange(count), (6, 1)))
        kept = (np.take_along_axis(saliency, sources, 1) * region.numpy()).sum(1)
        assert np.all(kept >= (saliency * region.numpy()).sum(1) - 1e-7)
    images = tf.reshape(tf.range(6 * 16 * 16 * 1, dtype=tf.float32), [6, 16, 16, 1])
    moved = ops.move_blocks(images, tf.constant(sources), 4).numpy()
    blocks = images.numpy().reshape(6, 4, 4, 4, 4).transpose(0, 1, 3, 2, 4).reshape(6, 16, 16)
    moved_blocks = moved.reshape(6, 4, 4, 4, 4).transpose(0, 1, 3, 2, 4).reshape(6, 16, 16)
    np.testing.assert_array_equal(moved_blocks, np.take_along_axis(blocks, sources[..., None], 1))


def test_transport_moves_a_salient_block_into_the_region():
    # A 2 x 2 grid; the mask shows the image only in block 0, and block 3 is the salient one.
    region = tf.constant([[True, False, False, False]])
    saliency = tf.constant([[0.0, 0.0, 0.0, 1.0]])
    assert ops.transport_sources(region, saliency, 0.1).numpy()[0, 0] == 3
    assert ops.transport_sources(region, saliency, 2.0).numpy()[0, 0] == 0  # too far for the distance weight


def test_fit_steps_and_seeded_reproducibility(batch):
    images, labels = batch
    weights = []
    for _ in range(2):
        trainer = _trainer(seed=5, grid_sizes=(2,))
        before = trainer.model.get_weights()
        history = trainer.fit(images, np.arange(4), batch_size=4, epochs=2, verbose=0)
        assert np.all(np.isfinite(history.history["loss"]))
        weights.append(trainer.model.get_weights())
    assert any(not np.allclose(a, b) for a, b in zip(before, weights[0]))
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)
    first = trainer.mix(images, labels, np.ones((4, SIZE, SIZE), np.float32), tf.constant([1, 2], tf.int64))
    again = trainer.mix(images, labels, np.ones((4, SIZE, SIZE), np.float32), tf.constant([1, 2], tf.int64))
    np.testing.assert_array_equal(first.images.numpy(), again.images.numpy())


@pytest.mark.slow
def test_training_lowers_the_loss():
    rng = np.random.default_rng(0)
    classes = rng.integers(0, 4, 64)
    images = np.zeros((64, SIZE, SIZE, 3), np.float32)
    images[np.arange(64), :, :, classes % 3] = 200.0 + 50.0 * (classes[:, None, None] // 3)
    trainer = _trainer()
    trainer.compile(optimizer=keras.optimizers.Adam(0.05), loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    loss = trainer.fit(images, classes, batch_size=16, epochs=8, verbose=0).history["loss"]
    assert loss[-1] < 0.7 * loss[0]


@pytest.mark.slow
def test_train_step_is_the_same_under_xla(batch):
    images, labels = batch
    weights = []
    for jit in (False, True):
        trainer = _trainer(seed=2)
        trainer.compile(optimizer="sgd", loss=keras.losses.CategoricalCrossentropy(from_logits=True), jit_compile=jit)
        trainer.fit(images, labels, batch_size=4, epochs=2, verbose=0)
        weights.append(trainer.model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_config_round_trip_and_export(tmp_path):
    trainer = _trainer(levels=2, eta=0.3)
    clone = PuzzleMix.from_config(trainer.get_config())
    assert clone.get_config() == trainer.get_config()
    path = trainer.export_classifier(str(tmp_path / "classifier.keras"))
    x = np.zeros((2, SIZE, SIZE, 3), np.float32)
    np.testing.assert_allclose(keras.saving.load_model(path).predict(x, verbose=0), trainer.predict(x, verbose=0))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(alpha=0.0), "alpha"),
        (dict(beta=-1.0), "beta"),
        (dict(gamma=-0.1), "gamma"),
        (dict(eta=-0.2), "eta"),
        (dict(grid_sizes=(3,)), "grid_sizes"),
        (dict(grid_sizes=()), "grid_sizes"),
        (dict(levels=1), "levels"),
        (dict(transport_grid=3), "transport_grid"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PuzzleMix(_classifier(), **kwargs)


def test_models_without_one_class_output_are_refused():
    inputs = keras.Input((SIZE, SIZE, 3))
    with pytest.raises(ValueError, match="single"):
        PuzzleMix(keras.Model(inputs, [keras.layers.Flatten()(inputs)] * 2))
    with pytest.raises(ValueError, match="single"):
        PuzzleMix(keras.Model(inputs, keras.layers.Conv2D(2, 1)(inputs)))
    with pytest.raises(ValueError, match="model"):
        PuzzleMix(lambda x: x)


@pytest.mark.slow
def test_step_overhead_returns_both_step_times(batch):
    images, _ = batch
    times = step_overhead(_classifier(), images, np.arange(4), steps=1, grid_sizes=(2,), neigh_size=2, transport_grid=4)
    assert isinstance(times, StepTimes) and times.plain > 0 and times.puzzle_mix > 0


def test_integer_non_square_images_keep_their_dtype():
    inputs = keras.Input((8, 12, 3))
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(inputs))
    trainer = PuzzleMix(keras.Model(inputs, outputs), grid_sizes=(2, 4), neigh_size=1, transport_grid=4, seed=0)
    images = np.random.default_rng(0).integers(0, 256, (3, 8, 12, 3)).astype(np.uint8)
    saliency = np.random.default_rng(1).uniform(size=(3, 8, 12)).astype(np.float32)
    mixed = trainer.mix(images, np.eye(3, 2, dtype=np.float32), saliency, tf.constant([0, 9], tf.int64))
    assert mixed.images.dtype == tf.uint8 and mixed.images.shape == (3, 8, 12, 3)
    with pytest.raises(ValueError, match="neigh_size"):
        PuzzleMix(keras.Model(inputs, outputs), grid_sizes=(4,), neigh_size=2)
