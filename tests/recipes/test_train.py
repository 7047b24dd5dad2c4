"""Tests of `recipes.train` (what `tfaug train` runs) and `recipes.report` (its pictures).

End-to-end runs of the three recipes are in tests/test_cli.py; these test the parts.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import tfaug
from recipes import report
from recipes import train as recipe


@pytest.fixture(scope="module")
def digits():
    return recipe.load_data("digits", labeled_fraction=0.1, seed=0)


def test_load_data_splits_digits_into_labeled_unlabeled_and_test(digits):
    assert digits.image_shape == (16, 16, 1) and digits.x_test.dtype == np.uint8
    assert (len(digits.x_labeled), len(digits.x_unlabeled), len(digits.x_test)) == (143, 1294, 360)
    assert np.bincount(digits.y_labeled).min() >= 14  # stratified: every class labeled
    assert digits.info.num_classes == 10 and digits.y_test.dtype == np.int64
    everything = recipe.load_data("digits", size=8, labeled_fraction=1.0)
    assert everything.x_unlabeled is None and len(everything.x_labeled) == 1437
    assert everything.image_shape == (8, 8, 1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(size=4), "`size` must be an int >= 8"),
        (dict(labeled_fraction=0.0), r"`labeled_fraction` must be in \(0, 1\]"),
        (dict(labeled_fraction=1.2), r"`labeled_fraction` must be in \(0, 1\]"),
    ],
)
def test_load_data_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        recipe.load_data("digits", **kwargs)


def test_small_cnn_ends_in_global_average_pooling_and_dense_logits():
    model = recipe.small_cnn((16, 16, 1), 10, width=4)
    kinds = [type(layer) for layer in model.layers[-3:]]
    assert kinds == [keras.layers.GlobalAveragePooling2D, keras.layers.Dropout, keras.layers.Dense]
    assert model.output_shape == (None, 10)
    teacher = recipe.wide_cnn((16, 16, 1), 10, width=4)
    assert teacher.count_params() > 5 * model.count_params()


def test_augmenter_is_seeded_by_batch_index_and_returns_float_images():
    layer = tfaug.CutMix(num_classes=3, seed=0)
    augment = recipe.augmenter([layer])
    images = tf.constant(np.random.default_rng(0).integers(0, 256, (6, 12, 10, 1)), tf.uint8)
    labels = tf.one_hot([0, 1, 2, 0, 1, 2], 3)
    first = augment(tf.constant(5, tf.int64), (images, labels))
    again = augment(tf.constant(5, tf.int64), (images, labels))
    other = augment(tf.constant(6, tf.int64), (images, labels))
    assert first[0].dtype == tf.float32 and first[0].shape == (6, 12, 10, 1)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])
    np.testing.assert_allclose(tf.reduce_sum(first[1], -1), 1.0, rtol=1e-6)


def test_policy_layers_get_gray_images_as_they_are():
    # RandAugment's "color" op is the identity on one channel (PIL's mode "L"): the layer sees the gray
    # batch itself, and its result is channel 0 of what it does to the batch's RGB copy.
    channels = []

    class Recording(tfaug.RandAugment):
        def augment(self, inputs, seed=None):
            channels.append(inputs[0].shape[-1])
            return super().augment(inputs, seed=seed)

    layer = Recording(num_ops=2, magnitude=9, ops=("color", "contrast"), seed=3)
    gray = tf.constant(np.random.default_rng(1).integers(0, 256, (4, 8, 8, 1)), tf.float32)
    labels = tf.zeros([4, 2])
    index = tf.constant(2, tf.int64)
    images, _ = recipe.augmenter([layer])(index, (gray, labels))
    assert channels == [1] and images.shape == (4, 8, 8, 1)
    rgb, _ = layer.augment((tf.image.grayscale_to_rgb(gray), labels), seed=layer.seed_for_index(index))
    np.testing.assert_array_equal(images, rgb[..., :1])
    assert not np.array_equal(images, gray)


def test_pipeline_yields_augmented_float_batches_with_one_hot_labels():
    x = np.random.default_rng(0).integers(0, 256, (10, 8, 8, 1), dtype=np.uint8)
    y = np.arange(10) % 3
    ds, steps = recipe.pipeline(x, y, 3, [tfaug.Cutout(size=0.5, seed=0)], batch_size=4, seed=0)
    assert steps == 2  # the last partial batch of a pass is dropped
    images, labels = next(iter(ds))
    assert images.dtype == tf.float32 and images.shape == (4, 8, 8, 1)
    assert labels.shape == (4, 3) and set(np.asarray(labels).sum(-1)) == {1.0}


def test_train_runs_the_recipe_registered_under_its_name(tmp_path, monkeypatch):
    calls = []

    def untrained(data, layers, *, epochs, batch_size, width, seed, verbose=0):
        calls.append((epochs, batch_size, width, seed))
        return recipe.small_cnn(data.image_shape, data.info.num_classes, width=1), {"loss": [1.0]}, {"note": "ok"}

    monkeypatch.setitem(recipe.RECIPES, "untrained", untrained)
    data = recipe.load_data("digits", size=8)
    metrics = recipe.train(data, tmp_path, recipe="untrained", epochs=2, batch_size=8, width=3, seed=5, verbose=0)
    assert calls == [(2, 8, 3, 5)]
    assert metrics["settings"]["recipe"] == "untrained" and metrics["note"] == "ok"
    assert metrics["history"] == {"loss": [1.0]}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(recipe="fixmatch"), "`recipe` must be one of plain, distill, noisy-student"),
        (dict(epochs=0), "`epochs` must be an int >= 1"),
        (dict(batch_size=1), "`batch_size` must be an int >= 2"),
        (dict(recipe="noisy-student", augment=[tfaug.MixUp(seed=0)]), "MixUp change labels"),
    ],
)
def test_train_rejects_bad_arguments_before_training(digits, tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        recipe.train(digits, tmp_path / "run", **kwargs)
    assert not (tmp_path / "run").exists()


def test_noisy_student_needs_unlabeled_images(tmp_path):
    data = recipe.load_data("digits", size=8)
    with pytest.raises(ValueError, match="needs unlabeled images"):
        recipe.train(data, tmp_path / "run", recipe="noisy-student", epochs=1, width=1, verbose=0)


def test_report_pictures(tmp_path):
    history = {"loss": [2.0, 1.0, 0.5], "accuracy": [0.3, 0.6, 0.8], "val_loss": [2.1, 1.2, 0.7]}
    report.plot_curves(history, tmp_path / "curves.png", title="run")
    matrix = np.array([[5, 1, 0], [0, 6, 0], [2, 0, 4]])
    report.plot_confusion_matrix(matrix, ["a", "b", "c"], tmp_path / "cm.png")
    for name in ("curves.png", "cm.png"):
        with Image.open(tmp_path / name) as image:
            assert image.format == "PNG" and min(image.size) > 100


def test_pick_examples_takes_one_image_per_class_first():
    labels = np.array([2, 2, 0, 1, 0, 2, 1])
    assert report.pick_examples(labels, count=3) == [2, 3, 0]
    assert report.pick_examples(labels, count=5) == [2, 3, 0, 1, 4]
    assert report.pick_examples(labels, count=20) == [2, 3, 0, 1, 4, 5, 6]


def test_load_data_reads_tfds_train_and_test_splits(monkeypatch):
    import tensorflow_datasets as tfds

    splits, load = [], recipe.recipe_data.load

    def spy(name, split, **kwargs):
        splits.append(split)
        return load(name, split, **kwargs)

    monkeypatch.setattr(recipe.recipe_data, "load", spy)
    with tfds.testing.mock_data(num_examples=20):  # the mock yields 20 examples for any split or slice
        data = recipe.load_data("tfds:mnist", size=8, labeled_fraction=0.25)
        everything = recipe.load_data("tfds:mnist")
    assert splits == ["train[:25%]", "test", "train[25%:]", "train", "test"]
    assert data.image_shape == (8, 8, 1) and data.info.num_classes == 10
    assert data.x_unlabeled.shape == (20, 8, 8, 1) and data.y_labeled.shape == (20,)
    assert everything.image_shape == (32, 32, 1) and everything.x_unlabeled is None
    with pytest.raises(ValueError, match="between 0.01 and 0.99 for TFDS"):
        recipe.load_data("tfds:mnist", labeled_fraction=0.001)
