"""`recipes.robustness`: corruption errors streamed from a dataset, and the mCE arithmetic."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from recipes import robustness

SIZE = 32
CORRUPTIONS = ("contrast", "gaussian_noise")


@pytest.fixture(scope="module")
def stripes():
    """40 images `[32, 32, 3]`: class 0 flat gray, class 1 stripes of 28 and 228 (standard deviation 87)."""
    images = np.full((40, SIZE, SIZE, 3), 128.0, np.float32)
    labels = np.arange(40) % 2
    images[1::2, ::4] = 228.0
    images[1::2, 1::4] = 28.0
    return images, labels


def contrast_classifier(images):
    """Class 1 when an image's standard deviation exceeds 20: right on the clean images; noise raises it on
    the flat ones, lost contrast lowers it on the striped ones."""
    std = tf.math.reduce_std(tf.cast(images, tf.float32), axis=[1, 2, 3])
    return tf.stack([20.0 - std, std - 20.0], axis=-1)


def dataset(stripes, batch=16):
    return tf.data.Dataset.from_tensor_slices(stripes).batch(batch)


def test_errors_for_every_corruption_and_severity(stripes):
    result = robustness.corruption_errors(contrast_classifier, dataset(stripes), corruptions=CORRUPTIONS, verbose=0)
    assert result["clean_error"] == 0.0 and result["images"] == 40
    assert set(result["errors"]) == set(CORRUPTIONS) and all(len(e) == 5 for e in result["errors"].values())
    assert all(0.0 <= e <= 1.0 for row in result["errors"].values() for e in row)
    mean = np.mean([e for row in result["errors"].values() for e in row])
    assert result["mean_error"] == pytest.approx(mean)
    assert "mce" not in result  # no baseline


def test_the_same_run_gives_the_same_errors(stripes):
    run = dict(corruptions=("gaussian_noise",), severities=(5,), verbose=0)
    model = keras.Sequential(
        [keras.Input((SIZE, SIZE, 3)), keras.layers.Conv2D(2, 3), keras.layers.GlobalMaxPooling2D()]
    )
    first = robustness.corruption_errors(model, dataset(stripes), **run)
    again = robustness.corruption_errors(model, dataset(stripes), **run)
    assert first["errors"] == again["errors"]


def test_unbatched_and_dict_datasets_and_one_hot_labels(stripes):
    images, labels = stripes
    one_hot = np.eye(2, dtype=np.float32)[labels]
    unbatched = tf.data.Dataset.from_tensor_slices((images, one_hot))
    as_dict = tf.data.Dataset.from_tensor_slices({"images": images, "labels": labels}).batch(7)
    run = dict(corruptions=("contrast",), severities=(1, 5), verbose=0)
    a = robustness.corruption_errors(contrast_classifier, unbatched, **run)
    b = robustness.corruption_errors(contrast_classifier, as_dict, **run)
    assert a["errors"] == b["errors"] and a["images"] == b["images"] == 40


def test_errors_rise_with_severity(stripes):
    result = robustness.corruption_errors(contrast_classifier, dataset(stripes), corruptions=CORRUPTIONS, verbose=0)
    for errors in result["errors"].values():
        assert errors == sorted(errors) and errors[0] < errors[-1]


def test_mce_against_a_baseline_by_hand():
    baseline = {
        "clean_error": 0.1,
        "errors": {"a": [0.2, 0.4], "b": [0.5, 0.5]},
        "corruptions": ["a", "b"],
        "severities": [1, 2],
    }
    result = dict(baseline, clean_error=0.05, errors={"a": [0.1, 0.2], "b": [0.5, 0.75]})
    out = robustness.compare(result, baseline)
    assert out["corruption_errors"] == pytest.approx({"a": 50.0, "b": 125.0})
    assert out["mce"] == pytest.approx(87.5)
    # relative: a (0.05 + 0.15) / (0.1 + 0.3) = 50; b (0.45 + 0.7) / (0.4 + 0.4) = 143.75
    assert out["relative_corruption_errors"] == pytest.approx({"a": 50.0, "b": 143.75})
    assert out["relative_mce"] == pytest.approx(96.875)


def test_a_model_against_itself_has_mce_100(stripes):
    run = dict(corruptions=CORRUPTIONS, severities=(3, 5), verbose=0)
    baseline = robustness.corruption_errors(contrast_classifier, dataset(stripes), **run)
    result = robustness.corruption_errors(contrast_classifier, dataset(stripes), baseline=baseline, **run)
    assert result["mce"] == pytest.approx(100.0)


def test_a_baseline_without_degradation_has_no_relative_ce():
    baseline = {"clean_error": 0.3, "errors": {"a": [0.3]}, "corruptions": ["a"], "severities": [1]}
    out = robustness.compare(dict(baseline), baseline)
    assert out["relative_corruption_errors"] == {"a": None} and out["relative_mce"] is None


def test_progress_bar(stripes, capsys):
    robustness.corruption_errors(contrast_classifier, dataset(stripes), corruptions=("contrast",), severities=(1,))
    assert "2/2" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(corruptions=("smoke",)), r"`corruptions` must be one of"),
        (dict(corruptions="contrast"), r"`corruptions` must be a non-empty list"),
        (dict(corruptions=("fog", "fog")), r"`corruptions` must not repeat a name"),
        (dict(severities=(0, 3)), r"`severities` must be ints in 1..5"),
        (dict(severities=(6,)), r"`severities` must be ints in 1..5"),
        (dict(table="huge"), r"`table` must be one of"),
        (dict(seed=1.5), r"`seed` must be an int"),
        (dict(baseline={"errors": {}}), r"`baseline` must be a result"),
        (
            dict(baseline={"clean_error": 0.0, "errors": {"contrast": [0.1] * 5}, "severities": [1, 2, 3, 4, 5]}),
            r"`baseline` must cover the same corruptions",
        ),
    ],
)
def test_bad_arguments_are_named(stripes, kwargs, message):
    with pytest.raises(ValueError, match=message):
        robustness.corruption_errors(contrast_classifier, dataset(stripes), verbose=0, **kwargs)


def test_bad_datasets_and_models_are_named(stripes):
    images, _ = stripes
    with pytest.raises(ValueError, match="must have labels"):
        robustness.corruption_errors(contrast_classifier, tf.data.Dataset.from_tensor_slices(images).batch(4))
    small = tf.data.Dataset.from_tensor_slices((images[:, :4, :4], stripes[1])).batch(4)
    with pytest.raises(ValueError, match="at least 8 x 8 pixels"):
        robustness.corruption_errors(contrast_classifier, small)
    with pytest.raises(ValueError, match="must be a tf.data.Dataset"):
        robustness.corruption_errors(contrast_classifier, stripes)
    with pytest.raises(ValueError, match="`model` must be a Keras model or a function"):
        robustness.corruption_errors("model", dataset(stripes))
    empty = tf.data.Dataset.from_tensor_slices(stripes).take(0).batch(4)
    with pytest.raises(ValueError, match="empty"):
        robustness.corruption_errors(contrast_classifier, empty, corruptions=("contrast",), verbose=0)


def test_a_cached_corrupted_dataset_evaluates_several_models_alike(stripes):
    run = dict(corruptions=CORRUPTIONS, severities=(2, 5))
    corrupted = robustness.CorruptedDataset(dataset(stripes), cache=True, **run)
    first = corrupted.evaluate(contrast_classifier, verbose=0)
    again = corrupted.evaluate(contrast_classifier, verbose=0)  # from the cache
    assert first == again == robustness.corruption_errors(contrast_classifier, dataset(stripes), verbose=0, **run)
