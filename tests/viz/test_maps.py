import keras
import numpy as np
import pytest
import tensorflow as tf

from tfaug.viz import class_activation_maps
from tfaug.viz import overlay
from tfaug.viz import plot_maps
from tfaug.viz import saliency_maps

SIZE = 16
# Top-left corner of each channel's bright 4x4 blob; class c weighs channel c only.
BLOBS = {0: (2, 2), 1: (10, 10), 2: (2, 10)}


def _cam_model(dropout=True, weights=None):
    """Features = the input channels at half resolution (fixed identity 1x1 conv), then GAP -> Dense."""
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.AveragePooling2D(2)(inputs)
    x = keras.layers.Conv2D(3, 1, use_bias=False, name="features")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    if dropout:
        x = keras.layers.Dropout(0.5)(x)
    outputs = keras.layers.Dense(3, name="head")(x)
    model = keras.Model(inputs, outputs)
    model.get_layer("features").set_weights([np.eye(3, dtype=np.float32).reshape(1, 1, 3, 3)])
    kernel = np.eye(3, dtype=np.float32) if weights is None else weights
    model.get_layer("head").set_weights([kernel, np.array([5.0, -3.0, 1.0], np.float32)])
    return model


def _blob_images(brightness=(1.0, 2.0, 1.5)):
    image = np.zeros((SIZE, SIZE, 3), np.float32)
    for channel, (top, left) in BLOBS.items():
        image[top : top + 4, left : left + 4, channel] = brightness[channel]
    return image[None]


def _blob_mask(channel):
    top, left = BLOBS[channel]
    mask = np.zeros((SIZE, SIZE), bool)
    mask[top : top + 4, left : left + 4] = True
    return mask


@pytest.mark.parametrize("dropout", [True, False])
def test_cam_of_each_class_peaks_at_the_blob_of_its_channel(dropout):
    model, images = _cam_model(dropout), _blob_images()
    for c in range(3):
        maps, classes = class_activation_maps(model, images, class_index=c)
        assert maps.shape == (1, SIZE, SIZE) and maps.dtype == np.float32 and classes.tolist() == [c]
        peak = np.unravel_index(np.argmax(maps[0]), maps[0].shape)
        assert _blob_mask(c)[peak], (c, peak)
        assert maps[0].max() == 1.0 and maps[0].min() == 0.0
        top, left = BLOBS[c]
        assert (maps[0][top + 1 : top + 3, left + 1 : left + 3] == 1.0).all()  # bilinear blur only at the edges
        assert maps[0][_blob_mask(c)].mean() > 0.7
        for other in set(BLOBS) - {c}:
            assert maps[0][_blob_mask(other)].max() < 0.05


def test_cam_default_class_is_the_prediction_and_weights_mix_channels():
    images = np.concatenate([_blob_images((1.0, 2.0, 1.5)), _blob_images((3.0, 1.0, 1.0))])
    model = _cam_model()
    maps, classes = class_activation_maps(model, images)
    # Logits = mean channel + bias (5, -3, 1): image 0 -> class 0 because of the bias; image 1 -> class 0.
    np.testing.assert_array_equal(classes, np.argmax(model.predict(images, verbose=0), axis=-1))
    # Class 0 weighs channel 1 by 2 and channel 2 by -1: the peak moves to channel 1's blob, channel 2's is the minimum.
    weights = np.array([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [-1.0, 0.0, 1.0]], np.float32)
    maps, classes = class_activation_maps(_cam_model(weights=weights), images, class_index=[0, 2])
    assert classes.tolist() == [0, 2]
    assert _blob_mask(1)[np.unravel_index(np.argmax(maps[0]), maps[0].shape)]
    top, left = BLOBS[2]
    assert (maps[0][top + 1 : top + 3, left + 1 : left + 3] == 0.0).all()
    assert _blob_mask(2)[np.unravel_index(np.argmax(maps[1]), maps[1].shape)]


def test_cam_equals_weighted_features_upsampled():
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(2, SIZE, SIZE, 3)).astype(np.float32)
    weights = rng.normal(size=(3, 3)).astype(np.float32)
    maps, _ = class_activation_maps(_cam_model(weights=weights), images, class_index=1)
    features = images.reshape(2, SIZE // 2, 2, SIZE // 2, 2, 3).mean(axis=(2, 4))
    cam = tf.image.resize((features @ weights[:, 1])[..., None], (SIZE, SIZE), method="bilinear")[..., 0].numpy()
    low, high = cam.min(axis=(1, 2), keepdims=True), cam.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(maps, (cam - low) / (high - low), atol=1e-5)


def test_cam_rejects_models_without_a_pooling_dense_head():
    inputs = keras.Input((SIZE, SIZE, 3))
    flat = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)))
    with pytest.raises(ValueError, match="GlobalAveragePooling2D"):
        class_activation_maps(flat, _blob_images())
    x = keras.layers.BatchNormalization()(keras.layers.GlobalAveragePooling2D()(inputs))
    normed = keras.Model(inputs, keras.layers.Dense(3)(x))
    with pytest.raises(ValueError, match="fed by BatchNormalization"):
        class_activation_maps(normed, _blob_images())
    no_dense = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs))
    with pytest.raises(ValueError, match="no Dense layer"):
        class_activation_maps(no_dense, _blob_images())
    with pytest.raises(ValueError, match="`model` must be a keras.Model"):
        class_activation_maps(lambda x: x, _blob_images())


def test_cam_rejects_bad_images_and_class_index():
    model = _cam_model()
    with pytest.raises(ValueError, match="`images` must be a 4-D batch"):
        class_activation_maps(model, _blob_images()[0])
    for bad in (3, -1, [0, 0], [5], [0.0], 1.0, True, "1"):
        with pytest.raises(ValueError, match="`class_index`"):
            class_activation_maps(model, _blob_images(), class_index=bad)


def test_saliency_of_a_linear_model_is_its_weights():
    rng = np.random.default_rng(1)
    kernel = rng.normal(size=(4 * 6 * 2, 3)).astype(np.float32)
    inputs = keras.Input((4, 6, 2))
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)))
    model.layers[-1].set_weights([kernel, np.zeros(3, np.float32)])
    images = rng.uniform(size=(3, 4, 6, 2)).astype(np.float32)
    maps, classes = saliency_maps(model, images, class_index=[0, 1, 2])
    assert maps.shape == (3, 4, 6) and maps.dtype == np.float32 and classes.tolist() == [0, 1, 2]
    for c in range(3):
        expected = np.abs(kernel[:, c].reshape(4, 6, 2)).max(axis=-1)
        np.testing.assert_allclose(maps[c], expected / expected.max(), rtol=1e-5)
    # A pixel the model ignores gets no saliency; the default class is the prediction.
    kernel[:2] = 0.0  # pixel (0, 0), both channels
    model.layers[-1].set_weights([kernel, np.zeros(3, np.float32)])
    maps, classes = saliency_maps(model, images)
    np.testing.assert_array_equal(classes, np.argmax(model.predict(images, verbose=0), axis=-1))
    assert (maps[:, 0, 0] == 0.0).all() and (maps[:, 1:, 1:] > 0).all() and (maps.max(axis=(1, 2)) == 1.0).all()


def test_saliency_rejects_bad_inputs_and_models():
    with pytest.raises(ValueError, match="`images` must be a 4-D batch"):
        saliency_maps(_cam_model(), np.zeros((SIZE, SIZE, 3)))
    with pytest.raises(ValueError, match=r"one \[batch, classes\] output"):
        saliency_maps(lambda x, training: x, _blob_images())
    with pytest.raises(ValueError, match="no gradient"):
        saliency_maps(lambda x, training: tf.stop_gradient(x[:, 0, 0, :]), _blob_images())


def test_overlay_blends_into_uint8_rgb():
    images = np.full((2, 5, 7, 3), 200, np.uint8)
    maps = np.linspace(0, 1, 70).reshape(2, 5, 7)
    out = overlay(images, maps)
    assert out.shape == (2, 5, 7, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(overlay(images, maps, alpha=0.0), images)
    import matplotlib

    jet = np.round(matplotlib.colormaps["jet"](maps)[..., :3] * 255).astype(np.uint8)
    np.testing.assert_allclose(overlay(images, maps, alpha=1.0), jet, atol=1)
    gray = overlay(np.ones((2, 5, 7, 1), np.float32), maps, alpha=0.0, value_range=(0, 1))
    assert gray.shape == (2, 5, 7, 3) and (gray == 255).all()


def test_overlay_rejects_bad_arguments():
    images, maps = np.zeros((2, 5, 7, 3), np.uint8), np.zeros((2, 5, 7))
    with pytest.raises(ValueError, match="`maps` must be"):
        overlay(images, maps[:, :4])
    with pytest.raises(ValueError, match="`images` must be"):
        overlay(images[0], maps[0])
    with pytest.raises(ValueError, match="`alpha`"):
        overlay(images, maps, alpha=1.5)
    with pytest.raises(ValueError, match="`cmap`"):
        overlay(images, maps, cmap="no-such-map")


def test_plot_maps_writes_png(tmp_path):
    images, maps = np.zeros((3, 8, 8, 3), np.uint8), np.random.default_rng(0).uniform(size=(3, 8, 8))
    path = tmp_path / "maps.png"
    plot_maps(images, {"CAM": maps, "saliency": maps}, path, titles=["a", "b", "c"])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plot_maps(images, maps, tmp_path / "one.png")
    assert (tmp_path / "one.png").exists()
    with pytest.raises(ValueError, match="`titles`"):
        plot_maps(images, maps, tmp_path / "bad.png", titles=["a"])
