"""Test-time augmentation: identity equals the model, flip averaging, exact crop pixels, one stacked call."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from recipes.tta import TTAClassifier
from recipes.tta import view_names
from recipes.tta import views

NUM_CLASSES = 5


def _classifier(shape=(24, 40, 3), logits=False, seed=0):
    """A small non-flip-invariant classifier: Flatten sees every pixel position."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input(shape),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Flatten(),
            keras.layers.Dense(NUM_CLASSES, activation=None if logits else "softmax"),
        ]
    )


def _flip_invariant_classifier(shape=(24, 40, 3)):
    """Global average pooling first: the output depends on the channel means only, so flips change nothing."""
    keras.utils.set_random_seed(1)
    return keras.Sequential(
        [
            keras.Input(shape),
            keras.layers.Rescaling(1 / 255),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(NUM_CLASSES, activation="softmax"),
        ]
    )


class CountingModel(keras.Model):
    """Records the batch size of every call of the wrapped model."""

    def __init__(self, model):
        super().__init__()
        self.inner = model
        self.batch_sizes = []

    def call(self, images, training=False):
        self.batch_sizes.append(int(images.shape[0]))
        return self.inner(images, training=training)


@pytest.fixture
def images(rng):
    return rng.integers(0, 256, size=(3, 24, 40, 3), dtype=np.uint8)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_identity_view_equals_model(images, batch, dtype):
    model = _classifier()
    x = images[:batch].astype(dtype)
    out = TTAClassifier(model, views=["identity"])(x).numpy()
    np.testing.assert_allclose(out, model(x).numpy(), rtol=1e-6, atol=1e-7)


def test_identity_view_from_logits_is_softmax_of_model(images):
    model = _classifier(logits=True)
    out = TTAClassifier(model, views="identity", from_logits=True)(images).numpy()
    np.testing.assert_allclose(out, tf.nn.softmax(model(images)).numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-6)


def test_flip_on_flip_invariant_model_equals_model(images):
    model = _flip_invariant_classifier()
    np.testing.assert_allclose(model(images).numpy(), model(images[:, :, ::-1]).numpy(), atol=1e-6)
    out = TTAClassifier(model, views=("identity", "flip"))(images).numpy()
    np.testing.assert_allclose(out, model(images).numpy(), atol=1e-6)


def test_flip_is_mean_over_image_and_hand_flipped_copy(images):
    model = _classifier()
    plain, flipped = model(images).numpy(), model(np.ascontiguousarray(images[:, :, ::-1])).numpy()
    assert np.abs(plain - flipped).max() > 1e-3  # the model is not flip-invariant
    out = TTAClassifier(model, views=("identity", "flip"))(images).numpy()
    np.testing.assert_allclose(out, (plain + flipped) / 2, rtol=1e-5, atol=1e-7)
    only_flip = TTAClassifier(model, views="flip")(images).numpy()
    np.testing.assert_allclose(only_flip, flipped, rtol=1e-5, atol=1e-7)


def _numpy_five_crops(images, crop_h, crop_w):
    height, width = images.shape[1:3]
    bottom, right = height - crop_h, width - crop_w
    offsets = [(0, 0), (0, right), (bottom, 0), (bottom, right), (bottom // 2, right // 2)]
    return [images[:, top : top + crop_h, left : left + crop_w] for top, left in offsets]


@pytest.mark.parametrize("crop_fraction, crop", [(0.5, (12, 20)), (0.875, (21, 35))])
def test_ten_crop_views_are_exact_crops_and_flips(images, crop_fraction, crop):
    out = views(images, views="ten_crop", crop_fraction=crop_fraction, size=crop).numpy()
    crops = _numpy_five_crops(images, *crop)
    expected = np.stack(crops + [c[:, :, ::-1] for c in crops]).astype(np.float32)
    assert out.shape == (10, 3, crop[0], crop[1], 3)
    np.testing.assert_array_equal(out, expected)
    # Hand-checked corners of the non-square image: 24x40 with 0.875 crops of 21x35 at offsets 3 and 5.
    if crop_fraction == 0.875:
        np.testing.assert_array_equal(out[1, :, 0, 0], images[:, 0, 5])  # top-right crop's first pixel
        np.testing.assert_array_equal(out[3, :, -1, -1], images[:, -1, -1])  # bottom-right's last pixel
        np.testing.assert_array_equal(out[4, :, 0, 0], images[:, 1, 2])  # centre crop starts at (1, 2)


def test_crops_are_resized_back_to_the_image_size(images):
    out = views(images, views="five_crop", crop_fraction=0.5).numpy()
    assert out.shape == (5, 3, 24, 40, 3)
    for view, crop in zip(out, _numpy_five_crops(images, 12, 20)):
        expected = tf.image.resize(crop.astype(np.float32), (24, 40), antialias=True).numpy()
        np.testing.assert_allclose(view, expected, atol=1e-4)


def test_ten_crop_from_larger_input_averages_model_on_exact_crops(images):
    model = _classifier(shape=(12, 20, 3))
    tta = TTAClassifier(model, views="ten_crop", crop_fraction=0.5)
    assert tta.size == (12, 20)  # taken from the model's input
    crops = _numpy_five_crops(images, 12, 20)
    crops += [np.ascontiguousarray(c[:, :, ::-1]) for c in crops]
    expected = np.mean([model(c).numpy() for c in crops], axis=0)
    np.testing.assert_allclose(tta(images).numpy(), expected, rtol=1e-5, atol=1e-7)


def test_scale_views_resize_then_centre_crop_or_pad(images):
    x = images.astype(np.float32)
    out = views(x, views="identity", scales=(1.0, 2.0, 0.5)).numpy()
    np.testing.assert_array_equal(out[1], x)  # scale 1 is the identity
    larger = tf.image.resize(x, (48, 80), antialias=True).numpy()
    np.testing.assert_allclose(out[2], larger[:, 12:36, 20:60], atol=1e-4)
    smaller = tf.image.resize(x, (12, 20), antialias=True).numpy()
    np.testing.assert_allclose(out[3, :, 6:18, 10:30], smaller, atol=1e-4)
    assert (out[3, :, :6] == 0).all() and (out[3, :, :, :10] == 0).all()  # zero padding around


def test_all_views_go_through_the_model_in_one_stacked_call(images):
    counting = CountingModel(_classifier())
    tta = TTAClassifier(counting, views=("identity", "flip", "ten_crop"), scales=(0.9, 1.1), size=(24, 40))
    assert len(tta.view_names) == 16
    out = tta(images).numpy()
    assert counting.batch_sizes == [16 * 3]
    stacked = views(images, ("identity", "flip", "ten_crop"), scales=(0.9, 1.1)).numpy()
    per_view = np.stack([counting.inner(v).numpy() for v in stacked])
    np.testing.assert_allclose(out, per_view.mean(axis=0), rtol=1e-5, atol=1e-7)


def test_predict_and_save_load_round_trip(images, tmp_path):
    model = _classifier()
    tta = TTAClassifier(model, views=("identity", "flip", "five_crop"), crop_fraction=0.75, scales=(1.2,))
    expected = tta(images).numpy()
    np.testing.assert_allclose(tta.predict(images, batch_size=2, verbose=0), expected, rtol=1e-5, atol=1e-7)
    path = str(tmp_path / "tta.keras")
    tta.save(path)
    restored = keras.saving.load_model(path)
    assert restored.view_names == tta.view_names
    np.testing.assert_allclose(restored(images).numpy(), expected, rtol=1e-5, atol=1e-7)


def test_view_names_order():
    assert view_names(("flip", "five_crop"), scales=(0.5,)) == [
        "flip",
        "crop_top_left",
        "crop_top_right",
        "crop_bottom_left",
        "crop_bottom_right",
        "crop_center",
        "scale_0.5",
        "scale_0.5_flip",
    ]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"views": ("identity", "rotate")}, "views"),
        ({"views": ()}, "views"),
        ({"views": ("flip", "flip")}, "views"),
        ({"crop_fraction": 0.0}, "crop_fraction"),
        ({"crop_fraction": 1.5}, "crop_fraction"),
        ({"crop_fraction": True}, "crop_fraction"),
        ({"scales": (1.0, -0.5)}, "scales"),
        ({"size": (24,)}, "size"),
    ],
)
def test_invalid_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TTAClassifier(_classifier(), **kwargs)
    with pytest.raises(ValueError, match=match):
        views(np.zeros((1, 24, 40, 3), np.float32), **kwargs)


def test_non_4d_input_raises():
    tta = TTAClassifier(_classifier())
    with pytest.raises(ValueError, match="images"):
        tta(np.zeros((24, 40, 3), np.float32))
    with pytest.raises(ValueError, match="images"):
        views(np.zeros((24, 40, 3), np.float32))
