"""The AdaIN encoder and decoder: architecture, published-weight loading from a fake `.npz`, `.weights.h5`.

Nothing is downloaded: `weights="imagenet"` is exercised only when asked for (`TFAUG_DOWNLOADS=1 pytest -m slow`);
the other tests use `weights=None`, fake state dicts and files saved here.
"""

import os

import keras
import numpy as np
import pytest

from recipes import style

#: The published state dicts' conv shapes, PyTorch layout `[out, in, kh, kw]`.
ENCODER_SHAPES = {
    "0": (3, 3, 1, 1),
    "2": (64, 3, 3, 3),
    "5": (64, 64, 3, 3),
    "9": (128, 64, 3, 3),
    "12": (128, 128, 3, 3),
    "16": (256, 128, 3, 3),
    "19": (256, 256, 3, 3),
    "22": (256, 256, 3, 3),
    "25": (256, 256, 3, 3),
    "29": (512, 256, 3, 3),
    "32": (512, 512, 3, 3),  # relu4_2, beyond relu4_1: present in the published file, ignored
}
DECODER_SHAPES = {
    "1": (256, 512, 3, 3),
    "5": (256, 256, 3, 3),
    "8": (256, 256, 3, 3),
    "11": (256, 256, 3, 3),
    "14": (128, 256, 3, 3),
    "18": (128, 128, 3, 3),
    "21": (64, 128, 3, 3),
    "25": (64, 64, 3, 3),
    "28": (3, 64, 3, 3),
}


def fake_state(shapes, seed=0):
    rng = np.random.default_rng(seed)
    state = {}
    for index, shape in shapes.items():
        state[f"{index}.weight"] = (rng.normal(size=shape) / np.sqrt(np.prod(shape[1:]))).astype(np.float32)
        state[f"{index}.bias"] = rng.normal(size=shape[0]).astype(np.float32) * 0.1
    return state


def np_conv(x, weight, bias, reflect):
    """PyTorch semantics in float64: optional 1-pixel reflection pad, cross-correlation with [out, in, kh, kw]."""
    if reflect:
        x = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="reflect")
    kh, kw = weight.shape[2:]
    h, w = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    out = np.zeros([x.shape[0], h, w, weight.shape[0]])
    for i in range(kh):
        for j in range(kw):
            out += np.einsum("bhwc,oc->bhwo", x[:, i : i + h, j : j + w, :], weight[:, :, i, j])
    return out + bias


@pytest.fixture(scope="module")
def encoder():
    return style.adain_encoder(weights=None)


def test_encoder_is_vgg19_to_relu4_1_and_decoder_mirrors_it(encoder):
    vgg = keras.applications.VGG19(include_top=False, weights=None)
    for name in style.ENCODER_KEYS:
        if name != "preprocess":
            assert encoder.get_layer(name).kernel.shape == vgg.get_layer(name).kernel.shape, name
    assert encoder.output.shape[-1] == 512 and encoder.layers[-1].name == "block4_conv1"
    x = np.random.default_rng(0).uniform(size=[1, 24, 40, 3]).astype(np.float32)
    features = encoder(x)
    assert features.shape == (1, 3, 5, 512) and float(np.min(features)) >= 0.0  # relu4_1
    decoder = style.adain_decoder()
    assert decoder(features).shape == (1, 24, 40, 3)
    # Odd sizes: max pools keep the last row and column (PyTorch's ceil_mode), so 21 -> 11 -> 6 -> 3.
    assert encoder(x[:, :21, :21]).shape == (1, 3, 3, 512)


def test_preprocessing_is_caffes_on_rgb_in_unit_range(encoder):
    x = np.random.default_rng(1).uniform(size=[2, 5, 6, 3]).astype(np.float32)
    preprocess = keras.Model(encoder.input, encoder.get_layer("preprocess").output)
    expected = keras.applications.vgg19.preprocess_input(x * 255.0)
    np.testing.assert_allclose(preprocess(x), expected, atol=1e-3)


def test_published_npz_encoder_computes_the_reference_first_layers(tmp_path):
    state = fake_state(ENCODER_SHAPES)
    path = tmp_path / "vgg_normalised.npz"
    np.savez(path, **state)
    encoder = style.adain_encoder(weights=str(path))
    np.testing.assert_array_equal(encoder.get_layer("block4_conv1").kernel, state["29.weight"].transpose(2, 3, 1, 0))
    x = np.random.default_rng(2).uniform(size=[2, 7, 9, 3])
    relu1_1 = keras.Model(encoder.input, encoder.get_layer("block1_conv1").output)(x.astype(np.float32))
    expected = np_conv(x, state["0.weight"].astype(np.float64), state["0.bias"], reflect=False)
    expected = np.maximum(np_conv(expected, state["2.weight"].astype(np.float64), state["2.bias"], reflect=True), 0)
    np.testing.assert_allclose(relu1_1, expected, rtol=1e-4, atol=1e-4)


def test_published_npz_decoder_last_conv_and_weights_h5_round_trip(tmp_path):
    state = fake_state(DECODER_SHAPES, seed=3)
    npz = tmp_path / "decoder.npz"
    np.savez(npz, **state)
    decoder = style.adain_decoder(weights=npz)
    last = decoder.get_layer("decoder_conv9")
    x = np.random.default_rng(4).normal(size=[1, 6, 5, 64])
    expected = np_conv(x, state["28.weight"].astype(np.float64), state["28.bias"], reflect=True)
    np.testing.assert_allclose(last(decoder.get_layer("decoder_conv9_pad")(x.astype(np.float32))), expected, atol=1e-4)
    h5 = str(tmp_path / "decoder.weights.h5")
    decoder.save_weights(h5)
    features = np.random.default_rng(5).uniform(size=[1, 2, 3, 512]).astype(np.float32)
    np.testing.assert_array_equal(style.adain_decoder(weights=h5)(features), decoder(features))
    assert style.load_adain_weights(style.adain_decoder(), h5).get_layer("decoder_conv1").kernel.shape == (
        3,
        3,
        512,
        256,
    )


def test_bad_files_are_refused_and_leave_the_model_unchanged(tmp_path, encoder):
    with pytest.raises(FileNotFoundError, match="No AdaIN weights file"):
        style.adain_decoder(weights=tmp_path / "missing.npz")
    other = tmp_path / "weights.pth"
    other.write_bytes(b"")
    with pytest.raises(ValueError, match=r"`path` must be a Keras `.weights.h5` file or an `.npz`"):
        style.load_adain_weights(encoder, other)
    state = fake_state(DECODER_SHAPES)
    state["14.weight"] = state["14.weight"][:, :128]
    bad = tmp_path / "bad.npz"
    np.savez(bad, **state)
    before = [w.copy() for w in style.adain_decoder().get_weights()]
    decoder = style.adain_decoder()
    decoder.set_weights(before)
    with pytest.raises(
        ValueError, match=r"`14.weight` gives layer `decoder_conv5` .* \(3, 3, 128, 128\).*\(3, 3, 256, 128\)"
    ):
        style.load_adain_weights(decoder, bad)
    assert all(np.array_equal(a, b) for a, b in zip(before, decoder.get_weights()))
    del state["14.weight"]
    np.savez(bad, **state)
    with pytest.raises(ValueError, match="no `14.weight` entry"):
        style.load_adain_weights(decoder, bad)
    with pytest.raises(ValueError, match="built by `adain_encoder` or `adain_decoder`"):
        style.load_adain_weights(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]), bad)
    with pytest.raises(ValueError, match="'imagenet' is for the encoder"):
        style.adain_decoder(weights="imagenet")


def test_encoder_and_decoder_save_and_load_as_keras_files(tmp_path):
    encoder = style.adain_encoder(input_shape=(16, 16, 3))
    path = str(tmp_path / "encoder.keras")
    encoder.save(path)
    x = np.random.default_rng(6).uniform(size=[1, 16, 16, 3]).astype(np.float32)
    np.testing.assert_array_equal(keras.saving.load_model(path)(x), encoder(x))


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("TFAUG_DOWNLOADS"), reason="downloads VGG19's weights: set TFAUG_DOWNLOADS=1")
def test_imagenet_weights_are_keras_vgg19s():
    encoder = style.adain_encoder(weights="imagenet")
    vgg = keras.applications.VGG19(include_top=False, weights="imagenet")
    np.testing.assert_array_equal(encoder.get_layer("block3_conv2").kernel, vgg.get_layer("block3_conv2").kernel)
