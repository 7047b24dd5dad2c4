"""The AdaIN style-transfer networks (Huang and Belongie 2017) in Keras, for `tfaug.layers.StyleAugmentation`.

`adain_encoder` is VGG-19 up to relu4_1 and `adain_decoder` its mirror, both with the published networks'
reflection padding; `load_adain_weights` reads the published PyTorch weights (`vgg_normalised.pth`,
`decoder.pth` of the paper's PyTorch port) once saved as `.npz` with NumPy, or Keras `.weights.h5` files.
Nothing is downloaded unless `adain_encoder(weights="imagenet")` is asked for (Keras's VGG19 weights).

Convert the published weights once, where PyTorch is installed:

    import numpy as np, torch
    for name in ("vgg_normalised", "decoder"):
        np.savez(f"{name}.npz", **{k: v.numpy() for k, v in torch.load(f"{name}.pth").items()})
"""

import os

import keras
import numpy as np

#: Caffe's VGG preprocessing (what Keras's VGG19 weights expect): BGR channel means on 0..255 pixels.
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)

#: Encoder layers (named as in `keras.applications.VGG19`) -> index of the conv in the published
#: `vgg_normalised.pth` (an `nn.Sequential`); "preprocess" is its first, 1x1 conv.
ENCODER_KEYS = {
    "preprocess": "0",
    "block1_conv1": "2",
    "block1_conv2": "5",
    "block2_conv1": "9",
    "block2_conv2": "12",
    "block3_conv1": "16",
    "block3_conv2": "19",
    "block3_conv3": "22",
    "block3_conv4": "25",
    "block4_conv1": "29",
}
#: Decoder layers -> index of the conv in the published `decoder.pth`.
DECODER_KEYS = {
    "decoder_conv1": "1",
    "decoder_conv2": "5",
    "decoder_conv3": "8",
    "decoder_conv4": "11",
    "decoder_conv5": "14",
    "decoder_conv6": "18",
    "decoder_conv7": "21",
    "decoder_conv8": "25",
    "decoder_conv9": "28",
}
#: (filters per conv) of each VGG-19 block up to relu4_1; a 2x2 max pool follows every block but the last.
_VGG_BLOCKS = ((64, 64), (128, 128), (256, 256, 256, 256), (512,))
#: Decoder: (filters, upsample after) per 3x3 conv; the last conv (to RGB) has no ReLU.
_DECODER = ((256, True), (256, False), (256, False), (256, False), (128, True), (128, False), (64, True), (64, False))


@keras.saving.register_keras_serializable(package="recipes")
class ReflectionPadding2D(keras.layers.Layer):
    """Pads height and width by `padding` pixels, mirroring the image without repeating its edge (PyTorch's
    `ReflectionPad2d`, TensorFlow's `"REFLECT"` mode); sides must be larger than `padding`."""

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, inputs):
        p = self.padding
        return keras.ops.pad(inputs, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        return (b, None if h is None else h + 2 * self.padding, None if w is None else w + 2 * self.padding, c)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


def _conv(x, filters, name, activation="relu"):
    x = ReflectionPadding2D(1, name=f"{name}_pad")(x)
    return keras.layers.Conv2D(filters, 3, activation=activation, name=name)(x)


def adain_encoder(weights=None, input_shape=(None, None, 3)):
    """VGG-19 up to relu4_1 (`block4_conv1`), taking RGB images in [0, 1]: `[B, H, W, 3] -> [B, H/8, W/8, 512]`.

    The first layer, `preprocess`, is a 1x1 conv doing VGG's input preprocessing (as the published network's
    first conv does): with `weights=None` or `"imagenet"` it holds Caffe's preprocessing, `255 * x` in BGR
    order minus `CAFFE_BGR_MEAN`, which Keras's VGG19 weights expect; a published `.npz` sets its own values.
    Then 3x3 convs named as in `keras.applications.VGG19`, each after a 1-pixel reflection padding (the
    published network's; Keras's VGG19 pads with zeros), and 2x2 max pools with `"same"` padding (PyTorch's
    `ceil_mode=True`: equal for every size, odd ones included).

    What equals what:
        - `weights="vgg_normalised.npz"` (the published encoder): the published encoder up to relu4_1, the same
          function up to float32 arithmetic.
        - `weights="imagenet"`: Keras's VGG19 ImageNet kernels (downloaded by Keras) with reflection padding.
          Its relu4_1 features differ from the published encoder's: the published VGG is "normalised" (each
          filter rescaled so that its mean activation over ImageNet is 1), so every channel differs by a
          positive factor, and the published decoder does not fit it. Train a decoder for it, or load the
          published `.npz`. Near the borders it also differs from Keras's own VGG19 (zero padding).
        - `weights=None`: the architecture, Keras's default initialisation (preprocessing set as above).

    Args:
        weights: None, `"imagenet"`, or a path to a `.npz` (the published state dict) or `.weights.h5` file.
        input_shape: `(height, width, 3)`, sizes may be None. Default `(None, None, 3)`.

    Returns:
        A functional `keras.Model` named `"adain_encoder"`.

    Raises:
        FileNotFoundError, ValueError: see `load_adain_weights`; ValueError for other `weights` values.
    """
    images = keras.Input(input_shape, name="images")
    x = keras.layers.Conv2D(3, 1, name="preprocess")(images)
    for block, filters in enumerate(_VGG_BLOCKS, start=1):
        for index, n in enumerate(filters, start=1):
            x = _conv(x, n, f"block{block}_conv{index}")
        if block < len(_VGG_BLOCKS):
            x = keras.layers.MaxPooling2D(2, padding="same", name=f"block{block}_pool")(x)
    model = keras.Model(images, x, name="adain_encoder")
    model.get_layer("preprocess").set_weights(_caffe_preprocessing())
    if weights == "imagenet":
        vgg = keras.applications.VGG19(include_top=False, weights="imagenet")
        copy_vgg19_weights(model, vgg)
    elif weights is not None:
        load_adain_weights(model, weights)
    return model


def adain_decoder(weights=None, channels=512):
    """The AdaIN decoder: `[B, h, w, 512]` relu4_1 features -> `[B, 8h, 8w, 3]` RGB in about [0, 1].

    The encoder's mirror: 3x3 convs (each after a 1-pixel reflection padding) 512->256, nearest 2x
    upsampling, three 256->256, 256->128, upsampling, 128->128, 128->64, upsampling, 64->64, 64->3; ReLU after
    every conv but the last (no output activation, as published: clip its output). With the published
    `decoder.npz` it is the published decoder, up to float32 arithmetic.

    Args:
        weights: None (Keras's default initialisation) or a path to a `.npz` or `.weights.h5` file.
        channels: input feature channels, default 512 (relu4_1).

    Returns:
        A functional `keras.Model` named `"adain_decoder"`.
    """
    if weights == "imagenet":
        raise ValueError("`weights`='imagenet' is for the encoder; the decoder takes None or a path to its weights.")
    features = keras.Input((None, None, channels), name="features")
    x = features
    for index, (filters, upsample) in enumerate(_DECODER, start=1):
        x = _conv(x, filters, f"decoder_conv{index}")
        if upsample:
            x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"decoder_up{index}")(x)
    x = _conv(x, 3, f"decoder_conv{len(_DECODER) + 1}", activation=None)
    model = keras.Model(features, x, name="adain_decoder")
    if weights is not None:
        load_adain_weights(model, weights)
    return model


def load_adain_weights(model, path):
    """Loads weights into an `adain_encoder` or `adain_decoder` model, in place; returns the model.

    Args:
        model: a model built by `adain_encoder` or `adain_decoder`.
        path: a Keras `.weights.h5` file (`model.save_weights`), or an `.npz` of the published PyTorch state
            dict (`vgg_normalised.pth` for the encoder: its convs up to relu4_1 are read, the deeper ones
            ignored; `decoder.pth` for the decoder), saved as in this module's docstring. PyTorch conv weights
            `[out, in, kh, kw]` become Keras kernels `[kh, kw, in, out]` (a cross-correlation in both).

    Raises:
        FileNotFoundError: no file at `path`.
        ValueError: an unknown file type, a model that is neither network, a missing key or a shape that is not
            the layer's (naming the key, the layer and both shapes).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No AdaIN weights file at {path!r}.")
    if path.endswith(".weights.h5"):
        model.load_weights(path)
        return model
    if not path.endswith(".npz"):
        raise ValueError(f"`path` must be a Keras `.weights.h5` file or an `.npz` state dict, got {path!r}.")
    names = {layer.name for layer in model.layers}
    keys = ENCODER_KEYS if set(ENCODER_KEYS) <= names else DECODER_KEYS if set(DECODER_KEYS) <= names else None
    if keys is None:
        raise ValueError(
            "`model` must be built by `adain_encoder` or `adain_decoder` (its layer names are not theirs)."
        )
    with np.load(path) as state:
        values = []
        for name, index in keys.items():
            layer = model.get_layer(name)
            kernel, bias = (_entry(state, f"{index}.{part}", path) for part in ("weight", "bias"))
            if kernel.ndim != 4:
                raise ValueError(f"{path}: `{index}.weight` must be a 4-D conv weight, got shape {kernel.shape}.")
            kernel = np.transpose(kernel, (2, 3, 1, 0))
            for got, variable, key in ((kernel, layer.kernel, "weight"), (bias, layer.bias, "bias")):
                if tuple(got.shape) != tuple(variable.shape):
                    raise ValueError(
                        f"{path}: `{index}.{key}` gives layer `{name}` a tensor of shape {tuple(got.shape)} (after "
                        f"the PyTorch-to-Keras transpose), the layer needs {tuple(variable.shape)}."
                    )
            values.append((layer, [kernel, bias]))
    for layer, weights in values:  # only once every entry is checked: a bad file changes nothing
        layer.set_weights(weights)
    return model


def copy_vgg19_weights(encoder, vgg):
    """Copies the conv kernels of a `keras.applications.VGG19` into an `adain_encoder`, by layer name."""
    for name in ENCODER_KEYS:
        if name != "preprocess":
            encoder.get_layer(name).set_weights(vgg.get_layer(name).get_weights())
    return encoder


def _caffe_preprocessing():
    """1x1 conv weights of `255 * x[..., ::-1] - CAFFE_BGR_MEAN` (RGB in [0, 1] -> Caffe BGR)."""
    kernel = np.zeros([1, 1, 3, 3], np.float32)
    for out in range(3):
        kernel[0, 0, 2 - out, out] = 255.0
    return [kernel, -np.asarray(CAFFE_BGR_MEAN, np.float32)]


def _entry(state, key, path):
    if key not in state:
        raise ValueError(f"{path}: no `{key}` entry; the `.npz` must hold the published AdaIN state dict.")
    return np.asarray(state[key], np.float32)
