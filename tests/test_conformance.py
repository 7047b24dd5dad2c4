"""Conformance: every public layer in `tfaug.layers` keeps the same contract (README "Use": the conventions).

Layers are discovered from `tfaug.layers.__all__`, so a layer added later is covered without editing this
file; `KWARGS` holds the few constructor arguments a layer needs here, `DETERMINISTIC` the layers without
randomness and `NO_MASKS` those that refuse segmentation masks.
"""

import importlib.util
import inspect
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfaug
from tfaug.layers import BaseAugmentation

NUM_CLASSES = 5
DEFAULT_KWARGS = {"num_classes": NUM_CLASSES}


def tiny_style_networks():
    """A 2-conv encoder (stride 2 each: features at a quarter of the size) and a decoder back to RGB."""
    init = keras.initializers.HeNormal(seed=0)
    images = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", kernel_initializer=init)(images)
    features = keras.layers.Conv2D(8, 3, strides=2, padding="same", kernel_initializer=init)(x)
    inputs = keras.Input((None, None, 8))
    y = keras.layers.UpSampling2D(4)(inputs)
    y = keras.layers.Conv2D(3, 3, padding="same", activation="sigmoid", kernel_initializer=init)(y)
    return {"encoder": keras.Model(images, features), "decoder": keras.Model(inputs, y)}


#: Inner layers of the composition layers: cheap, seeded, carrying masks.
INNER = [tfaug.layers.Cutout(size=0.5, seed=0), tfaug.layers.RandomErasing(probability=1.0, seed=0)]
KWARGS = {
    "RandomErasing": {"probability": 1.0},  # so that two calls on 4 images surely differ
    "ColorJitter": {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1},  # the defaults are off
    # So that the batchwise draw at the tests' seed flips (turns gray) and two calls on 4 images differ.
    "RandomFlip": {"probability": 0.6},
    "RandomGrayscale": {"probability": 0.75},
    "Corruption": {"corruption": "gaussian_noise"},
    "RandomCorruption": {"corruptions": ["gaussian_noise", "pixelate"]},
    "StyleAugmentation": tiny_style_networks(),
    "RandomApply": {"layer": INNER[0], "probability": 0.75},  # so that a batchwise draw applies it
    "RandomChoice": {"layers": INNER},
    "RandomOrder": {"layers": INNER},
    "RandomResizedCrop": {"size": (16, 20)},  # another size and aspect than the 24x40 inputs'
}
DETERMINISTIC = {"LabelSmoothing"}
#: Layers whose every output the test model's global average pooling maps to the same value (a flip moves pixels).
POOLING_INVARIANT = {"RandomFlip"}
NO_MASKS = {"AugMix", "MixUp", "MixUpCutMix"}  # they blend pixels (MixUpCutMix with its default mixup_alpha > 0)

LAYERS = sorted(
    (
        obj
        for name in tfaug.layers.__all__
        for obj in [getattr(tfaug.layers, name)]
        if isinstance(obj, type) and issubclass(obj, BaseAugmentation) and obj is not BaseAugmentation
    ),
    key=lambda cls: cls.__name__,
)
IDS = [cls.__name__ for cls in LAYERS]
layers = pytest.mark.parametrize("cls", LAYERS, ids=IDS)
#: Layers whose every-mode checks run in the slow profile only: AutoAugment and TrivialAugmentWide run the
#: program engine RandAugment runs in the default profile (each mode compiles a program: seconds each).
SAME_ENGINE = {"AutoAugment", "TrivialAugmentWide"}
#: Layers whose every-mode checks run in the slow profile only because each mode traces the Keras models they are
#: given (seconds each); tests/layers/test_style_augmentation.py compares the modes in the default profile.
MODEL_LAYERS = {"StyleAugmentation"}
#: Layers whose every-mode checks run in the slow profile only because each mode traces and compiles the layers
#: they run (Cutout and RandomErasing here); tests/layers/test_composition.py compares the modes in the default
#: profile with tiny inner layers.
COMPOSITION_LAYERS = {"RandomApply", "RandomChoice", "RandomOrder"}


def layers_slow_for(names):
    """`@layers`, the layers in `names` marked slow."""
    marked = [
        pytest.param(cls, id=cls.__name__, marks=[pytest.mark.slow] if cls.__name__ in names else []) for cls in LAYERS
    ]
    return pytest.mark.parametrize("cls", marked)


every_mode_layers = layers_slow_for(SAME_ENGINE | MODEL_LAYERS | COMPOSITION_LAYERS)
MIXING = [cls for cls in LAYERS if cls.mixes_batch]


def kwargs_of(cls, **overrides):
    return {"seed": 0, **DEFAULT_KWARGS, **KWARGS.get(cls.__name__, {}), **overrides}


def make(cls, **overrides):
    return cls(**kwargs_of(cls, **overrides))


def needs_labels(cls):
    return cls.transforms_labels or cls.mixes_batch


def output_shape(cls, shape):
    """The images' shape after `cls` (`compute_output_shape`): the input's, except for the resizing layers."""
    return tuple(make(cls).compute_output_shape(tuple(shape)))


def resizes(cls):
    return output_shape(cls, (4, 24, 40, 3)) != (4, 24, 40, 3)


@pytest.fixture(scope="module")
def batch(small_photos):
    """Real photos `[4, 24, 40, 3]` uint8, sparse int32 labels and int32 masks."""
    labels = np.array([0, 3, 1, 4], np.int32)
    masks = (small_photos[..., :1] // 64).astype(np.int32)
    return small_photos, labels, masks


def inputs_of(cls, kind, batch, dtype=np.uint8):
    images, labels, masks = batch
    images = images.astype(dtype)
    if kind == "tensor":
        return images
    if kind == "tuple":
        return (images, labels)
    data = {"images": images, "labels": labels}
    if cls.__name__ not in NO_MASKS:
        data["segmentation_masks"] = masks
    return data


def kinds(cls):
    return ("tuple", "dict") if needs_labels(cls) else ("tensor", "tuple", "dict")


def flat(outputs):
    return [np.asarray(x) for x in tf.nest.flatten(outputs)]


def assert_same(a, b):
    a, b = flat(a), flat(b)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(x, y)


def differ(a, b):
    return any(x.shape != y.shape or not np.array_equal(x, y) for x, y in zip(flat(a), flat(b)))


def build_model(cls, layer):
    """images (+ sparse labels for label-changing layers) -> layer -> GlobalAveragePooling2D -> Dense."""
    images = keras.Input((24, 40, 3), name="images")
    head = keras.Sequential([keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3)])
    if needs_labels(cls):
        labels = keras.Input((), dtype="int32", name="labels")
        augmented, mixed = layer((images, labels))
        return keras.Model([images, labels], [head(augmented), mixed])
    return keras.Model(images, head(layer(images)))


def model_inputs(cls, batch):
    images, labels, _ = batch
    images = images.astype(np.float32)
    return [images, labels] if needs_labels(cls) else images


def normalise(value):
    if isinstance(value, (tuple, list)):
        return [normalise(v) for v in value]
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, keras.layers.Layer):  # models given to a layer (StyleAugmentation's) are serialised
        return normalise(keras.saving.serialize_keras_object(value))
    return value


def init_parameters(cls):
    """Every named `__init__` parameter of `cls` and of its bases down to `BaseAugmentation`."""
    parameters = {}
    for klass in cls.__mro__:
        if not (isinstance(klass, type) and issubclass(klass, BaseAugmentation)):
            continue
        for name, p in inspect.signature(klass.__init__).parameters.items():
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                parameters.setdefault(name, p.default)
    return parameters


def map_function(cls, **overrides):
    """The layer's named factory in `tfaug.data` if it has one, else `tfaug.data.map_fn(layer)`."""
    for name in tfaug.data.__all__:
        if name != "map_fn" and name.replace("_", "") == cls.__name__.lower():
            fn = getattr(tfaug.data, name)(**kwargs_of(cls, **overrides))
            assert type(fn.layer) is cls
            return fn
    return tfaug.data.map_fn(make(cls, **overrides))


# -- discovery and configuration ----------------------------------------------------------------------


def test_discovery_finds_the_layers():
    names = set(IDS)
    assert {"CutMix", "Cutout", "LabelSmoothing", "MixUp", "MixUpCutMix", "RandomErasing"} <= names
    assert set(KWARGS) | DETERMINISTIC | POOLING_INVARIANT | NO_MASKS <= names
    # The registries hold every layer: the command line's, map functions' and fuzz suite's, and those of the
    # layers built around user models and of the compositions (no command-line names: a name alone cannot build
    # them).
    registries = {**tfaug.layers.AUGMENTATIONS, **tfaug.layers.MODEL_AUGMENTATIONS, **tfaug.layers.COMPOSITIONS}
    assert sorted(registries.values(), key=lambda cls: cls.__name__) == LAYERS


@layers
def test_registered_for_serialisation(cls):
    assert keras.saving.get_registered_object(f"tfaug>{cls.__name__}") is cls


@layers
def test_every_init_argument_is_in_config(cls):
    parameters = init_parameters(cls)
    assert {"value_range", "num_classes", "batchwise", "seed"} <= set(parameters)
    if cls.mixes_batch:
        assert "pairing" in parameters
    layer = make(cls)
    config = layer.get_config()
    missing = sorted(set(parameters) - set(config))
    assert not missing, f"{cls.__name__}.get_config() lacks {missing}"
    passed = kwargs_of(cls)
    for name, default in parameters.items():
        expected = passed.get(name, default)
        if expected is not inspect.Parameter.empty:
            assert normalise(config[name]) == normalise(expected), name


@layers
def test_config_round_trips(cls):
    config = make(cls, batchwise=True, value_range=(0, 1), seed=7).get_config()
    assert cls.from_config(config).get_config() == config
    through_json = json.loads(json.dumps(config))
    assert cls.from_config(through_json).get_config() == config
    layer = make(cls)
    serialised = keras.saving.serialize_keras_object(layer)
    clone = keras.saving.deserialize_keras_object(json.loads(json.dumps(serialised)))
    assert type(clone) is cls and clone.get_config() == layer.get_config()


@layers
def test_keras_model_saves_and_loads(cls, batch, tmp_path):
    model = build_model(cls, make(cls))
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = model_inputs(cls, batch)
    assert_same(model(x, training=False), loaded(x, training=False))
    [layer] = [lay for lay in loaded.layers if isinstance(lay, cls)]
    assert layer.get_config() == [lay for lay in model.layers if isinstance(lay, cls)][0].get_config()
    # The seed travels with the layer: the first augmented call of both models is the same.
    first = model(x, training=True)
    assert_same(first, loaded(x, training=True))
    if cls.__name__ not in DETERMINISTIC | POOLING_INVARIANT:
        assert differ(first, model(x, training=True))


# -- calls --------------------------------------------------------------------------------------------


@layers
def test_training_false_is_identity(cls, batch):
    layer = make(cls)
    for kind in kinds(cls):
        inputs = inputs_of(cls, kind, batch)
        outputs = layer(inputs, training=False)
        if resizes(cls):
            # Inference must give the training output's size, so it resizes too (how: the layer's own tests),
            # deterministically.
            assert flat(outputs)[0].shape == output_shape(cls, batch[0].shape)
            assert_same(outputs, make(cls, seed=9)(inputs, training=False))
        else:
            assert_same(outputs, inputs)


@layers
def test_same_seed_same_output_and_calls_differ(cls, batch):
    inputs = inputs_of(cls, "tuple", batch)
    a, b = make(cls, seed=3), make(cls, seed=3)
    first = a(inputs)
    assert_same(first, b(inputs))
    if cls.__name__ not in DETERMINISTIC:
        assert differ(first, a(inputs))
        assert differ(first, make(cls, seed=4)(inputs))


# AutoAugment and TrivialAugmentWide only draw programs: PolicyLayer's run_program, which RandAugment runs by default
# with every dtype, converts them. Their float16, float64 and int32 runs (a program compiled each): slow profile.
@pytest.mark.parametrize(
    "dtype, cls",
    [
        pytest.param(
            dtype,
            cls,
            id=f"{dtype.__name__}-{cls.__name__}",
            marks=[pytest.mark.slow] if cls.__name__ in SAME_ENGINE and dtype not in (np.uint8, np.float32) else [],
        )
        for cls in LAYERS
        for dtype in (np.float16, np.float32, np.float64, np.uint8, np.int32)
    ],
)
def test_dtype_preserved(cls, batch, dtype):
    images = batch[0].astype(dtype)
    outputs = make(cls)(inputs_of(cls, "tuple", batch, dtype))
    assert outputs[0].dtype == dtype and outputs[0].shape == output_shape(cls, images.shape)
    out = np.asarray(outputs[0], np.float64)
    assert out.min() >= 0 and out.max() <= 255
    if np.issubdtype(dtype, np.integer):
        assert np.array_equal(out, np.round(out))


@layers
def test_structures_round_trip(cls, batch):
    images, labels, masks = batch
    layer = make(cls)
    for kind in kinds(cls):
        inputs = inputs_of(cls, kind, batch)
        outputs = layer(inputs)
        if kind == "tensor":
            assert isinstance(outputs, tf.Tensor)
            out_images, out_labels = outputs, None
        elif kind == "tuple":
            assert isinstance(outputs, tuple) and len(outputs) == 2
            out_images, out_labels = outputs
        else:
            assert isinstance(outputs, dict) and set(outputs) == set(inputs)
            out_images, out_labels = outputs["images"], outputs["labels"]
            if "segmentation_masks" in outputs:
                assert outputs["segmentation_masks"].dtype == tf.int32
                assert outputs["segmentation_masks"].shape == output_shape(cls, masks.shape)
        assert out_images.shape == output_shape(cls, images.shape) and out_images.dtype == tf.uint8
        if out_labels is None:
            continue
        if cls.transforms_labels:
            assert out_labels.shape == (4, NUM_CLASSES) and out_labels.dtype.is_floating
            np.testing.assert_allclose(np.sum(out_labels, -1), 1.0, rtol=1e-5)
        else:
            assert_same(out_labels, labels)


@pytest.mark.parametrize(
    "cls",
    [
        pytest.param(
            cls,
            id=cls.__name__,
            marks=[pytest.mark.slow]
            if cls.__name__ in SAME_ENGINE | MODEL_LAYERS | COMPOSITION_LAYERS | {"AugMix", "RandAugment"}
            else [],
        )
        for cls in LAYERS
    ],
)
def test_empty_and_single_image_batches_in_every_mode(cls, batch):
    images, labels, _ = batch
    layer = make(cls)
    spec = (tf.TensorSpec([None, 24, 40, 3], tf.uint8), tf.TensorSpec([None], tf.int32))

    def run(x, y):
        return layer.augment((x, y) if needs_labels(cls) else x, seed=tf.constant([1, 2], tf.int64))

    graph = tf.function(run, input_signature=spec)
    # Compiled whole: a batch of one for AugMix (the others' programs have no batch-size special case, and compiling
    # each is slow; the mixing layers' batch of one is compiled, and compared with every other mode, in
    # test_a_batch_of_one_passes_through_alike_in_every_execution_mode).
    compiled = cls is tfaug.AugMix
    for n in (0, 1):
        x, y = tf.constant(images[:n]), tf.constant(labels[:n])
        outputs = [run(x, y), graph(x, y)] + ([tf.function(run, jit_compile=True)(x, y)] if n and compiled else [])
        for out in outputs:
            out_images = out[0] if needs_labels(cls) else out
            assert out_images.shape == output_shape(cls, (n, 24, 40, 3)) and out_images.dtype == tf.uint8
        assert_same(outputs[0], outputs[1])


@layers
def test_a_list_of_images_is_refused_not_read_as_labels(cls, batch):
    images, labels, _ = batch
    layer = make(cls)
    for inputs in ([images[0], images[1]], [images[0], images[1], images[2]], [images]):
        with pytest.raises(ValueError, match=r"a list input must be \[images, labels\]"):
            layer(inputs)


@layers
def test_masks_supported_or_refused_by_name(cls, batch):
    images, labels, masks = batch
    data = {"images": images, "labels": labels, "segmentation_masks": masks}
    if cls.__name__ in NO_MASKS:
        with pytest.raises(ValueError, match="segmentation_masks"):
            make(cls)(data)
    else:
        out = make(cls)(data)
        assert out["segmentation_masks"].dtype == tf.int32
        assert set(np.unique(out["segmentation_masks"])) <= set(np.unique(masks))


@layers
def test_batchwise(cls, batch):
    inputs = inputs_of(cls, "tuple", batch)
    a, b = make(cls, batchwise=True, seed=5), make(cls, batchwise=True, seed=5)
    first = a(inputs)
    assert first[0].shape == output_shape(cls, batch[0].shape) and first[0].dtype == tf.uint8
    assert_same(first, b(inputs))
    if cls.__name__ not in DETERMINISTIC:
        assert differ(first, inputs)


def assert_close(a, b, atol):
    """Same structure, dtypes and shapes; values within `atol` (the float transforms' last bits)."""
    a, b = flat(a), flat(b)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_allclose(x, y, rtol=0, atol=atol)


#: Layers whose programs take seconds to compile. By default their XLA check compiles the fixed-seed program
#: alone (equal to the eager, graph and tf.data results); the layer's own call (a new seed per call) and a model
#: around it under XLA add the base class's seed and call machinery, which the default profile compiles through
#: the other layers (Corruption, Cutout, LabelSmoothing, MixUp, RandConv, ...). Compiled together with these
#: layers' programs: the slow profile (test_calls_and_models_draw_new_seeds_under_xla).
COMPILED_ONCE = {"AugMix", "CutMix", "MixUpCutMix", "RandAugment", "RandomCorruption", "RandomErasing", "ResizeMix"}
COMPILED_ONCE |= {"SaliencyMix"}


@every_mode_layers
def test_same_draws_eagerly_in_graphs_in_tf_data_and_under_xla(cls, batch):
    check_same_draws(cls, batch, whole=cls.__name__ not in COMPILED_ONCE)


@pytest.mark.slow
@pytest.mark.parametrize("cls", [cls for cls in LAYERS if cls.__name__ in COMPILED_ONCE], ids=lambda cls: cls.__name__)
def test_calls_and_models_draw_new_seeds_under_xla(cls, batch):
    check_same_draws(cls, batch, whole=True)


def check_same_draws(cls, batch, whole):
    """Eager, graph, tf.data and XLA results of one explicit seed are equal; with `whole`, the layer's own call
    and a model around it also run under XLA, and a second compiled call draws a new seed."""
    # One compiled function holds every compiled use: one XLA compilation per layer.
    layer, model = make(cls), build_model(cls, make(cls, seed=1))
    x = model_inputs(cls, batch)
    direct_input = tuple(x) if needs_labels(cls) else x
    seed = tf.constant([1, 2], tf.int64)

    def fixed(inputs):
        return layer.augment(inputs, seed=seed)

    @tf.function(jit_compile=True)
    def run(direct, to_model):
        if not whole:  # the fixed-seed program alone (COMPILED_ONCE)
            out = fixed(direct)
            return out, out, out
        return fixed(direct), layer(direct, training=True), model(to_model, training=True)

    compiled, direct, through_model = run(direct_input, x)
    assert flat(direct)[0].shape == output_shape(cls, batch[0].shape)
    assert all(np.isfinite(t).all() for t in flat(through_model))
    eager = fixed(direct_input)
    in_graph = tf.function(fixed)(direct_input)
    in_tf_data = next(iter(tf.data.Dataset.from_tensors((direct_input,)).map(fixed)))
    for other in (in_graph, in_tf_data, compiled):
        assert_close(other, eager, atol=1e-3)  # 0..255 pixels; labels in [0, 1]
    if cls.__name__ not in DETERMINISTIC:
        assert differ(direct, direct_input)
        if whole:
            _, again, _ = run(direct_input, x)  # a new seed per call under XLA too
            assert differ(direct, again)


# -- tf.data -------------------------------------------------------------------------------------------


# AugMix's and RandAugment's every-mode equality runs by default (above); their tf.data reproducibility in the
# slow profile (the mechanism is checked by default on the other layers).
@layers_slow_for(SAME_ENGINE | MODEL_LAYERS | COMPOSITION_LAYERS | {"AugMix", "RandAugment"})
def test_tf_data_map_after_batch_reproducible_with_enumerate(cls, batch):
    images, labels, masks = batch
    images, labels, masks = (np.concatenate([a, a[::-1]]) for a in (images, labels, masks))
    data = {"images": images, "labels": labels}
    if cls.__name__ not in NO_MASKS:
        data["segmentation_masks"] = masks
    plain = list(tf.data.Dataset.from_tensor_slices(data).batch(4).map(map_function(cls)).as_numpy_iterator())
    assert len(plain) == 2 and set(plain[0]) == set(data)
    assert plain[0]["images"].dtype == np.uint8 and plain[0]["images"].shape == output_shape(cls, (4, 24, 40, 3))
    if cls.__name__ not in DETERMINISTIC:
        assert differ(plain[0]["images"], images[:4])

    # Parallel and unordered: the element index picks the seed, so any order gives the same batches.
    indexed = tf.data.Dataset.from_tensor_slices((images, labels)).batch(4).enumerate()
    options = {"num_parallel_calls": tf.data.AUTOTUNE, "deterministic": False}
    mapped = indexed.map(map_function(cls), **options)
    first = sorted(mapped.as_numpy_iterator(), key=lambda t: t[0].tobytes())
    assert all(isinstance(t, tuple) and len(t) == 2 for t in first)
    assert_same(first, sorted(mapped.as_numpy_iterator(), key=lambda t: t[0].tobytes()))
    again = indexed.map(map_function(cls), **options)  # a new function built with the same seed
    assert_same(first, sorted(again.as_numpy_iterator(), key=lambda t: t[0].tobytes()))


@pytest.mark.parametrize("cls", MIXING, ids=[cls.__name__ for cls in MIXING])
def test_mixing_layers_reject_bad_inputs_by_name(cls, small_photos):
    layer = cls(seed=0)  # no num_classes
    images, labels = small_photos, np.eye(4, dtype=np.float32)
    with pytest.raises(ValueError, match=r"`images`.*rank 2"):
        layer((images[0, ..., 0], labels))
    with pytest.raises(ValueError, match=r"`images`.*rank 5"):
        layer((images[None], labels))
    with pytest.raises(ValueError, match="mixes images of a batch"):
        layer((images[0], labels[0]))
    with pytest.raises(ValueError, match=r"changes labels, so it needs them: pass \(images, labels\)"):
        layer(images)
    with pytest.raises(ValueError, match="`num_classes`"):
        layer((images, np.arange(4)))
    with pytest.raises(ValueError, match=r"`labels` has batch size 3"):
        layer((images, labels[:3]))
    with pytest.raises(ValueError, match=r"sparse `labels` must lie in \[0, num_classes=3\)"):
        cls(num_classes=3, seed=0)((images, np.arange(4)))
    boxes = {"boxes": np.zeros([4, 1, 4], np.float32), "labels": np.ones([4, 1], np.int32)}
    data = {"images": images, "labels": labels, "bounding_boxes": boxes}
    if cls.moves_bounding_boxes:  # CutMix, ResizeMix, SaliencyMix: carry boxes, given their format
        with pytest.raises(ValueError, match=f"{cls.__name__} moves `bounding_boxes`.*`bounding_box_format`"):
            layer(data)
        assert cls(bounding_box_format="xyxy", seed=0)(data)["bounding_boxes"]["labels"].shape == (4, 2)
    else:
        with pytest.raises(ValueError, match=f"{cls.__name__} does not support `bounding_boxes`"):
            cls(bounding_box_format="xyxy", seed=0)(data)
    with pytest.raises(TypeError, match="`images` must have a float or integer dtype"):
        layer((images > 100, labels))


@pytest.mark.parametrize("cls", MIXING, ids=[cls.__name__ for cls in MIXING])
def test_a_batch_of_one_passes_through_alike_in_every_execution_mode(cls, small_photos):
    layer = make(cls)
    images, labels = tf.constant(small_photos[:1]), tf.constant([3])
    seed = tf.constant([1, 2], tf.int64)

    def run(images, labels):
        return layer.augment((images, labels), seed=seed)

    eager = run(images, labels)
    graph = tf.function(run)(images, labels)
    jit = tf.function(run, jit_compile=True)(images, labels)
    unknown_batch = [tf.TensorSpec([None, 24, 40, 3], tf.uint8), tf.TensorSpec([None], tf.int32)]
    unknown = tf.function(run, input_signature=unknown_batch)(images, labels)
    dataset = next(iter(tf.data.Dataset.from_tensors((images, labels)).map(run)))
    np.testing.assert_array_equal(eager[0], small_photos[:1])
    assert eager[1].shape == (1, NUM_CLASSES) and abs(float(tf.reduce_sum(eager[1])) - 1) < 1e-6
    for other in (graph, jit, unknown, dataset):
        assert_same(other, eager)


# A fit of a model with layers inside: the slow profile (the layers' modes are checked above).
@pytest.mark.slow
def test_model_with_erasing_layers_fits_on_a_mixing_pipeline(small_photos):
    # 17 images in batches of 4: the last batch holds one image, which the mixers must pass through.
    images = np.resize(small_photos, [17, 24, 40, 3])
    labels = np.arange(17, dtype=np.int32) % NUM_CLASSES
    dataset = (
        tf.data.Dataset.from_tensor_slices((images, labels))
        .batch(4)
        .map(tfaug.data.cutmix(num_classes=NUM_CLASSES, probability=0.5, seed=0))
        .enumerate()
        .map(tfaug.data.mixup_cutmix(seed=1), num_parallel_calls=2)
        .map(lambda x, y: (tf.cast(x, tf.float32), y))
    )
    for _, y in dataset.take(1):
        assert y.shape == (4, NUM_CLASSES) and y.dtype == tf.float32
    model = keras.Sequential(
        [
            keras.Input((24, 40, 3)),
            tfaug.layers.Cutout(size=0.25, seed=2),
            tfaug.layers.RandomErasing(probability=1.0, fill="pixel", seed=3),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(4, 3),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(NUM_CLASSES, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(dataset, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert model.predict(images[:2].astype(np.float32), verbose=0).shape == (2, NUM_CLASSES)


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="Keras's numpy backend imports jax (for its fft)")
def test_layers_run_in_tf_data_under_the_numpy_backend(tmp_path):
    script = textwrap.dedent(
        """
        import numpy as np
        import keras
        import tensorflow as tf
        import tfaug

        assert keras.backend.backend() == "numpy", keras.backend.backend()
        images = np.full([6, 24, 40, 3], 100, np.uint8)
        labels = np.arange(6, dtype=np.int32) % 3
        erase = tfaug.layers.RandomErasing(probability=1.0, seed=0)
        dataset = (
            tf.data.Dataset.from_tensor_slices((images, labels))
            .batch(3)
            .map(lambda x, y: (erase(x), y))
            .map(tfaug.data.cutmix(num_classes=3, seed=0))
            .enumerate()
            .map(tfaug.data.cutout(seed=1), num_parallel_calls=2)
        )
        batches = list(dataset.as_numpy_iterator())
        assert len(batches) == 2
        for x, y in batches:
            assert x.dtype == np.uint8 and x.shape == (3, 24, 40, 3), (x.dtype, x.shape)
            assert y.shape == (3, 3) and np.allclose(y.sum(-1), 1.0)
            assert (x != 100).any(axis=(1, 2, 3)).all()
        print("numpy backend ok")
        """
    )
    env = dict(os.environ, KERAS_BACKEND="numpy", TF_CPP_MIN_LOG_LEVEL="3")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    env["KERAS_HOME"] = str(tmp_path)  # keep the backend choice out of the user's keras.json
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300, cwd=str(tmp_path)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "numpy backend ok" in result.stdout


def test_symbolic_outputs_describe_what_a_call_returns():
    """In a functional model, outputs keep the images' dtype and labels become dense float32 [B, K]."""
    images = keras.Input((8, 12, 3), dtype="uint8")
    sparse = keras.Input((), dtype="int32")
    mixed_images, mixed_labels = tfaug.layers.MixUpCutMix(num_classes=5, seed=0)((images, sparse))
    assert mixed_images.dtype == "uint8" and tuple(mixed_images.shape) == (None, 8, 12, 3)
    assert mixed_labels.dtype == "float32" and tuple(mixed_labels.shape) == (None, 5)
    out = tfaug.layers.CutMix(num_classes=5, seed=0)({"images": images, "labels": sparse})
    assert tuple(out["labels"].shape) == (None, 5)
    assert tfaug.layers.RandAugment(seed=0)(images).dtype == "uint8"
