"""Every numeric argument is finite and in range, or refused at construction with its name."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import recipes
import tfaug

INF, NAN = math.inf, math.nan

CASES = [
    (lambda x: tfaug.MixUp(alpha=x), "alpha"),
    (lambda x: tfaug.CutMix(alpha=x), "alpha"),
    (lambda x: tfaug.MixUpCutMix(mixup_alpha=x), "mixup_alpha"),
    (lambda x: tfaug.AugMix(alpha=x), "alpha"),
    (lambda x: tfaug.AugMix(severity=x), "severity"),
    (lambda x: tfaug.Cutout(fill_value=x), "fill_value"),
    (lambda x: tfaug.Cutout(size=x), "size"),
    (lambda x: tfaug.RandomErasing(scale=(0.02, x)), "scale"),
    (lambda x: tfaug.RandomErasing(probability=x), "probability"),
    (lambda x: tfaug.LabelSmoothing(label_smoothing=x), "label_smoothing"),
    (lambda x: tfaug.RandAugment(magnitude=x), "magnitude"),
    (lambda x: tfaug.RandAugment(value_range=(0, x)), "value_range"),
    (lambda x: tfaug.TrivialAugmentWide(fill_value=x), "fill_value"),
    (lambda x: recipes.losses.DistillationKL(temperature=x), "temperature"),
]


@pytest.fixture(scope="module")
def models():
    def tiny():
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])

    return tiny(), tiny()


@pytest.mark.parametrize("value", [INF, -INF, NAN], ids=["inf", "-inf", "nan"])
@pytest.mark.parametrize("make, name", CASES, ids=[f"{i}-{name}" for i, (_, name) in enumerate(CASES)])
def test_non_finite_numbers_are_refused_by_name(make, name, value):
    with pytest.raises(ValueError, match=f"`{name}`"):
        make(value)


@pytest.mark.parametrize("value", [INF, NAN, 0.0], ids=["inf", "nan", "zero"])
def test_distiller_temperature_is_finite_and_positive(models, value):
    teacher, student = models
    with pytest.raises(ValueError, match="`temperature`"):
        recipes.Distiller(teacher=teacher, student=student, temperature=value)


def test_numpy_scalars_are_numbers():
    layer = tfaug.MixUp(alpha=np.float32(0.4), num_classes=np.int64(3))
    assert layer.alpha == pytest.approx(0.4) and layer.num_classes == 3


def test_seeds_are_any_int_that_fits_the_generator():
    assert tfaug.RandAugment(seed=np.int64(3)).seed == 3
    for seed in (-1, 2**70):
        with pytest.raises(ValueError, match=r"`seed` must be an int in \[0, 2\*\*63\)"):
            tfaug.CutMix(seed=seed)
    with pytest.raises(TypeError, match="`seed` must be an int or None"):
        tfaug.CutMix(seed=1.5)


def test_rand_augment_with_no_ops_is_the_identity():
    images = np.random.default_rng(0).integers(0, 256, (3, 8, 10, 3)).astype(np.uint8)
    np.testing.assert_array_equal(tfaug.RandAugment(num_ops=0, seed=0)(images), images)


@pytest.mark.parametrize("make", [tfaug.CutMix, tfaug.MixUpCutMix, tfaug.MixUp], ids=["CutMix", "MixUpCutMix", "MixUp"])
def test_images_without_pixels_keep_finite_labels(make):
    labels = np.eye(4, dtype=np.float32)
    _, mixed = make(seed=0)((np.zeros((4, 0, 0, 3), np.float32), labels))
    assert np.isfinite(mixed).all()
    np.testing.assert_allclose(np.sum(mixed, axis=-1), 1.0, rtol=1e-6)


def test_ragged_images_get_a_clear_error():
    ragged = tf.ragged.constant([[[1, 2]], [[3, 4], [5, 6]]])
    with pytest.raises(TypeError, match="must be a dense tensor, got a RaggedTensor"):
        tfaug.RandAugment(seed=0)(ragged)
