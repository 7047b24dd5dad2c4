"""Property-based tests (hypothesis) of every public layer and every `tfaug.data` map function.

Layers come from the registry `tfaug.layers.AUGMENTATIONS` and map functions from `tfaug.data.__all__`, so a layer
added later is fuzzed without editing this file (its numeric constructor arguments get generic invalid
values; `ARGUMENTS` holds the known layers' valid and invalid argument values). Hypothesis draws shapes
(batch 0..3 or one unbatched image, height and width 1..12, 1 or 3 channels), dtypes, value ranges,
input structures, constructor arguments and seeds. Properties:

- an input the README's contract refuses (a list of images, no labels for a label-changing layer, masks
  or boxes a layer cannot carry, float images in [0, 1] under the default range, ...) raises a
  `ValueError` / `TypeError` that says why; any other input gives the same structure, dtype and shape
  back, image values inside `value_range`, dense labels with non-negative rows summing to 1, masks with
  their own class ids, boxes inside the image;
- invalid constructor arguments raise a `ValueError` / `TypeError` naming the argument in backticks;
  valid ones build a layer whose config round-trips and whose output keeps the contract;
- one explicit seed gives the same result eagerly, in `tf.function`, in `tf.data` and under
  `tf.function(jit_compile=True)`;
- the map functions run their layer: in `tf.data` with `enumerate()`, element i gets `seed_for_index(i)`.

Profiles (deterministic: `derandomize=True`, no example database):

- default (`fuzz`): 2 to 16 examples per test and layer (the first is always hypothesis's simplest: an
  empty batch), layers cached per class and value range, images at most 12x12; `jit_compile` compared
  only for the `CHEAP` layers (the policy layers' XLA compilation is slow, and they skip
  `tf.function` too: `tf.data` runs their graph):
  `python -m pytest -q tests/test_fuzz.py`
- `nightly`: 200 examples per test and every mode (`jit_compile` too) for every layer (a long run):
  `HYPOTHESIS_PROFILE=nightly python -m pytest -q tests/test_fuzz.py`

The profile applies to this file's tests only (`settings(PROFILE)` on each test, no global `load_profile`,
which would change the other hypothesis tests of a run).
"""

import dataclasses
import functools
import inspect
import math
import os
import zlib

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck
from hypothesis import assume
from hypothesis import given
from hypothesis import seed as fixed_seed
from hypothesis import settings
from hypothesis import strategies as st

import tfaug
from tfaug.layers import BaseAugmentation
from tfaug.layers._policy import PolicyLayer
from tfaug.ops.bounding_boxes import FORMATS
from tfaug.policies.levels import OP_NAMES

# -- profiles -------------------------------------------------------------------------------------------

settings.register_profile(
    "fuzz",
    max_examples=4,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
settings.register_profile("nightly", settings.get_profile("fuzz"), max_examples=200)
PROFILE_NAME = os.environ.get("HYPOTHESIS_PROFILE", "fuzz")
# Applied to this file's tests only (a global `load_profile` would also change the other hypothesis tests).
PROFILE = settings.get_profile(PROFILE_NAME)
NIGHTLY = PROFILE_NAME == "nightly"


def examples(cls, factor=1.0):
    """Examples per test for `cls`: policy layers compile XLA programs per shape, so fewer by default. At
    least 2: hypothesis's first example is the simplest one (an empty batch of 1x1 images), so the second
    is the first to run a real program."""
    n = PROFILE.max_examples * factor
    if issubclass(cls, PolicyLayer) and not NIGHTLY:
        n = n / 2
    return max(2, round(n))


def fuzz(cls, factor=1.0):
    """The profile's settings for a test of `cls`; derandomized per layer (each layer gets its own draws)."""

    def decorate(test):
        test = settings(PROFILE, max_examples=examples(cls, factor))(test)
        return (
            fixed_seed(zlib.crc32(f"{test.__qualname__}/{cls.__name__}".encode()))(test)
            if PROFILE.derandomize
            else test
        )

    return decorate


# -- discovery --------------------------------------------------------------------------------------------

# The registry: tests/test_conformance.py checks that it holds every layer of `tfaug.layers.__all__`.
LAYERS = sorted(tfaug.layers.AUGMENTATIONS.values(), key=lambda cls: cls.__name__)
IDS = [cls.__name__ for cls in LAYERS]
layers = pytest.mark.parametrize("cls", LAYERS, ids=IDS)
MAP_FUNCTIONS = sorted(name for name in tfaug.data.__all__ if name not in ("map_fn", *tfaug.data.PIPELINE_FUNCTIONS))

NUM_CLASSES = 5
#: Arguments a layer cannot do without, passed wherever the suite builds one.
REQUIRED = {
    "Corruption": {"corruption": "gaussian_noise"},
    # Two corruptions, elastic_transform among them (masks and boxes refused), not all nineteen to trace.
    "RandomCorruption": {"corruptions": ["gaussian_noise", "elastic_transform"]},
    "RandomResizedCrop": {"size": (5, 7)},
}
#: Smallest image side a layer takes (the corruptions' `tfaug.corruptions.MIN_SIDE`; they also need static image
#: sizes); others take any.
MIN_SIDES = {"Corruption": tfaug.corruptions.MIN_SIDE, "RandomCorruption": tfaug.corruptions.MIN_SIDE}
NO_MASKS = {"AugMix", "MixUp", "MixUpCutMix"}  # they blend pixels (MixUpCutMix with its default mixup_alpha > 0)
DTYPES = [np.uint8, np.float32, np.float16, np.float64, np.int32]
RANGES = [None, (0.0, 255.0), (0.0, 1.0), (-1.0, 1.0)]  # None: the default, (0, 255)
ANY_RANGE = st.sampled_from(RANGES)
INT64 = st.integers(-(2**63), 2**63 - 1)
SEED = st.tuples(INT64, INT64)  # explicit [2] seeds; `seed_for_index` gives negative second words


def needs_labels(cls):
    return cls.transforms_labels or cls.mixes_batch


#: Layers whose arguments here refuse masks and boxes: RandomCorruption's corruptions include
#: elastic_transform, which moves pixels.
ELASTIC = {"RandomCorruption"}
#: Colour layers that take RGB or gray images only.
RGB_OR_GRAY = {"ColorJitter", "RandomGrayscale"}


def carries_boxes(cls):
    return (cls.keeps_bounding_boxes or cls.moves_bounding_boxes) and cls.__name__ not in ELASTIC


#: Compared under `jit_compile` in the default profile too: the layers without a policy program, whose XLA
#: compilation is quick. A layer added later is compared under `jit_compile` nightly only.
#: (ColorJitter and GaussianNoise are compared under XLA in test_conformance.py.)
CHEAP = {"Cutout", "RandomErasing", "CutMix", "MixUp", "MixUpCutMix", "LabelSmoothing", "RandomFlip", "RandomGrayscale"}


def cheap(cls):
    """Whether the profile compares `cls` under `jit_compile`: nightly every layer, by default `CHEAP`."""
    return NIGHTLY or cls.__name__ in CHEAP


FACTORIES = {cls: getattr(tfaug.data, name) for name, cls in tfaug.layers.AUGMENTATIONS.items()}


def map_function(cls, **kwargs):
    """`cls(**kwargs)` as a `tf.data` map function, built by its `tfaug.data` factory (`fn.layer` is the layer);
    `tfaug.data.map_fn` for a layer without one."""
    kwargs = {**REQUIRED.get(cls.__name__, {}), **kwargs}
    fn = FACTORIES[cls](**kwargs) if cls in FACTORIES else tfaug.data.map_fn(cls(**kwargs))
    assert type(fn.layer) is cls
    return fn


def heavy(cls):
    """Policy layers compile an XLA program for every shape and mode (slow to compile): by default they skip
    `tf.function` (`tf.data` runs their graph) and their valid arguments run on empty batches."""
    return issubclass(cls, PolicyLayer) and not NIGHTLY


@functools.cache
def map_function_of(cls, value_range=None):
    """One map function (and layer) per class and value range, reused across examples with its traces."""
    return map_function(cls, num_classes=NUM_CLASSES, bounding_box_format="xyxy", value_range=value_range, seed=0)


def layer_of(cls, value_range=None):
    return map_function_of(cls, value_range).layer


# -- inputs -----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    """One drawn input; `arrays()` builds it (numpy, from `data_seed`), so failures print small."""

    batch: int | None  # None: one unbatched [H, W, C] image
    height: int
    width: int
    channels: int
    dtype: type
    value_range: tuple | None
    pattern: str
    structure: str  # "tensor", "tuple", "dict" or "list"
    labels: str | None  # "dense", "sparse" ([B]), "sparse1" ([B, 1]) or None
    label_dtype: str  # float dtypes or int32 (one-hot) for dense labels, int dtypes for sparse ones
    masks: str | None  # mask dtype name or None
    boxes: int | None  # boxes per image or None
    data_seed: int
    seed: tuple
    index: int = 0  # element index for the map function (`enumerate(index)`)
    classes: int = NUM_CLASSES

    @property
    def declared_range(self):
        return self.value_range or (0.0, 255.0)

    def images(self):
        rng = np.random.default_rng(self.data_seed)
        low, high = self.declared_range
        if np.issubdtype(self.dtype, np.integer):
            info = np.iinfo(self.dtype)
            low, high = max(math.ceil(low), info.min), min(math.floor(high), info.max)
        shape = [self.height, self.width, self.channels]
        shape = shape if self.batch is None else [self.batch, *shape]
        if self.pattern == "extremes":
            x = rng.choice([low, high], shape)
        elif self.pattern == "constant":
            x = np.full(shape, rng.uniform(low, high))
        elif self.pattern == "levels":  # the 256 levels the policies quantise to
            x = low + rng.integers(0, 256, shape) * (high - low) / 255.0
        else:
            x = rng.uniform(low, high, shape)
        if np.issubdtype(self.dtype, np.integer):
            x = np.round(x)
        elif self.value_range is None and x.size and 0.0 < x.max() <= 1.0:
            x.flat[0] = high  # float images that look like [0, 1] ones under the default range are refused
        return np.clip(x.astype(self.dtype), low, high)

    def arrays(self):
        """The inputs in their structure: a tensor, (images, labels), a dict or a list of images."""
        images = self.images()
        rng = np.random.default_rng(self.data_seed + 1)
        batch = 1 if self.batch is None else self.batch
        unbatch = (lambda a: a[0]) if self.batch is None else (lambda a: a)
        if self.structure == "tensor":
            return images
        if self.structure == "list":
            return [images] if self.batch in (None, 0) else list(images)
        data = {"images": images}
        if self.labels == "dense":
            one_hot = np.eye(self.classes)[rng.integers(0, self.classes, batch)]
            soft = one_hot if "int" in self.label_dtype else rng.dirichlet(np.ones(self.classes), batch)
            labels = np.where(rng.uniform(size=(batch, 1)) < 0.5, one_hot, soft)
            data["labels"] = unbatch(labels.astype(self.label_dtype))
        elif self.labels:
            ids = rng.integers(0, self.classes, [batch] + ([1] if self.labels == "sparse1" else []))
            data["labels"] = unbatch(ids.astype(self.label_dtype))
        if self.masks:
            masks = rng.integers(0, 4, [batch, self.height, self.width, 1][: 3 + (self.masks == "int32")])
            data["segmentation_masks"] = unbatch(masks.astype(self.masks))
        if self.boxes is not None:
            data["bounding_boxes"] = {k: unbatch(v) for k, v in boxes(rng, batch, self.boxes, self).items()}
        if self.structure == "tuple":
            return (images, data["labels"])
        return data


def boxes(rng, batch, count, case):
    """Keras's box dict in "xyxy" pixels, inside the image; labels 0..K-1 and some -1 (padding)."""
    x = np.sort(rng.uniform(0, case.width, [batch, count, 2]), axis=-1)
    y = np.sort(rng.uniform(0, case.height, [batch, count, 2]), axis=-1)
    coordinates = np.stack([x[..., 0], y[..., 0], x[..., 1], y[..., 1]], axis=-1).astype(np.float32)
    return {"boxes": coordinates, "labels": rng.integers(-1, case.classes, [batch, count]).astype(np.int32)}


@st.composite
def cases(draw, cls, accepted=True, value_range=ANY_RANGE, classes=NUM_CLASSES):
    """Inputs for `cls`: with `accepted`, only what its contract accepts; else anything (refusals too)."""
    structures = ["tuple", "dict"] if accepted and needs_labels(cls) else ["tensor", "tuple", "dict"]
    structure = draw(st.sampled_from(structures + ([] if accepted else ["list"])))
    batch = draw(st.sampled_from([0, 1, 2, 3, None] if not (accepted and cls.mixes_batch) else [0, 1, 2, 3]))
    labels = draw(st.sampled_from(["dense", "sparse", "sparse1"]))
    dense_dtypes = ["float32", "float16", "float64"] + (["int32"] if classes > 1 else [])  # int [B, 1]: sparse ids
    label_dtype = draw(st.sampled_from(dense_dtypes if labels == "dense" else ["int32", "int64", "uint8"]))
    masks = boxes_ = None
    if structure == "dict":
        if not (accepted and needs_labels(cls)) and draw(st.booleans()):
            labels = None
        if not (accepted and cls.__name__ in NO_MASKS | ELASTIC) and draw(st.booleans()):
            masks = draw(st.sampled_from(["int32", "uint8"]))
        if not (accepted and not carries_boxes(cls)) and draw(st.booleans()):
            boxes_ = draw(st.integers(0, 2))
    smallest = MIN_SIDES.get(cls.__name__, 1) if accepted else 1
    return Case(
        batch=batch,
        height=draw(st.integers(smallest, 12)),
        width=draw(st.integers(smallest, 12)),
        channels=draw(st.sampled_from([1, 3] if accepted else [1, 2, 3, 4])),
        dtype=draw(st.sampled_from(DTYPES)),
        value_range=draw(value_range),
        pattern=draw(st.sampled_from(["uniform", "extremes", "constant", "levels"])),
        structure=structure,
        labels=labels if structure != "tensor" else None,
        label_dtype=label_dtype,
        masks=masks,
        boxes=boxes_,
        data_seed=draw(st.integers(0, 2**32 - 2)),
        seed=draw(SEED),
        index=draw(st.integers(0, 2**62)),
        classes=classes,
    )


def refusal(cls, case):
    """The errors (a regex) the contract gives for `case`, or None where it must be accepted."""
    name, reasons = cls.__name__, []
    if case.channels not in (1, 3) and "color" in getattr(layer_of(cls, case.value_range), "op_table", ()):
        reasons.append(r"the `color` op needs RGB \(3 channels\) or gray \(1 channel\) `images`")
    if case.structure == "list":
        reasons.append(r"a list input must be \[images, labels\]")
    if needs_labels(cls) and case.labels is None:
        reasons.append(r"changes labels, so it needs them")
    if cls.mixes_batch and case.batch is None:
        reasons.append(r"mixes images of a batch")
    if case.boxes is not None and not carries_boxes(cls):
        reasons.append(rf"{name} does not support `bounding_boxes`|moves pixels but not bounding boxes")
    if case.masks and name in ELASTIC:
        reasons.append(r"moves pixels but not segmentation masks")
    if min(case.height, case.width) < MIN_SIDES.get(name, 1):
        reasons.append(r"needs images of at least \d+ x \d+ pixels")
    if case.channels not in (1, 3) and name in RGB_OR_GRAY:
        reasons.append(r"needs `images` with 3 \(RGB\) or 1 \(gray\) channels")
    if case.channels not in (1, 3) and name in MIN_SIDES:
        reasons.append(r"needs images with 1 \(gray\) or 3 \(RGB\) channels")
    if case.masks and name in NO_MASKS:
        reasons.append(r"cannot (blend|carry) `segmentation_masks`")
    return "|".join(reasons) or None


# -- checks -------------------------------------------------------------------------------------------------


def as_numpy(tree):
    return tf.nest.map_structure(lambda t: np.asarray(t), tree)


def parts(outputs):
    """`outputs` as a dict keyed like a dict input (a tensor is "images", a tuple images and labels)."""
    if isinstance(outputs, dict):
        return outputs
    if isinstance(outputs, tuple):
        assert len(outputs) == 2
        return {"images": outputs[0], "labels": outputs[1]}
    return {"images": outputs}


def check_contract(cls, layer, case, inputs, outputs):
    """The output keeps the input's structure, dtype and shape (the resizing layers' `compute_output_shape`:
    their height and width); values, labels, masks and boxes are valid."""
    assert type(outputs) is type(inputs) or (isinstance(inputs, np.ndarray) and isinstance(outputs, tf.Tensor))
    given, out = parts(inputs), as_numpy(parts(outputs))
    assert set(out) == set(given)
    images = out["images"]
    expected = tuple(layer.compute_output_shape(np.shape(given["images"])))
    assert images.dtype == given["images"].dtype and images.shape == expected
    first = images.ndim - 3  # the axis of the height, in the masks too
    case = dataclasses.replace(case, height=images.shape[first], width=images.shape[first + 1])
    check_values(images, case)
    if "labels" in given:
        check_labels(cls, given["labels"], out["labels"], case)
    if "segmentation_masks" in given:
        masks, before = out["segmentation_masks"], given["segmentation_masks"]
        size = images.shape[first : first + 2]
        assert masks.dtype == before.dtype and masks.shape == (*before.shape[:first], *size, *before.shape[first + 2 :])
        fill = getattr(layer, "mask_fill_value", 0)
        assert set(np.unique(masks)) <= set(np.unique(before)) | {fill}
    if "bounding_boxes" in given:
        check_boxes(cls, given["bounding_boxes"], out["bounding_boxes"], case)


def check_values(images, case):
    low, high = case.declared_range
    values = images.astype(np.float64)
    assert np.isfinite(values).all()
    assert values.size == 0 or (values.min() >= low and values.max() <= high), (values.min(), values.max())


def check_labels(cls, before, after, case):
    if not cls.transforms_labels:
        np.testing.assert_array_equal(after, before)
        assert after.dtype == before.dtype
        return
    rows = after.reshape(-1, case.classes) if case.batch is not None else after[None]
    assert after.dtype == (before.dtype if before.dtype.kind == "f" else np.float32)
    assert after.shape == ((case.classes,) if case.batch is None else (case.batch, case.classes))
    assert (rows >= 0).all() and np.allclose(rows.sum(-1), 1.0, rtol=0, atol=label_tolerance(after.dtype)), rows


def label_tolerance(dtype):
    """1e-5, or a few units of the last place of a label dtype coarser than float32 (float16 labels sum to 1 in
    float16 only)."""
    return max(1e-5, 8 * float(np.finfo(dtype).eps))


def check_boxes(cls, before, after, case):
    assert set(after) == {"boxes", "labels"}
    for key in after:
        assert after[key].dtype == before[key].dtype
        assert after[key].shape[: -2 if key == "boxes" else -1] == before[key].shape[: -2 if key == "boxes" else -1]
    if not cls.moves_bounding_boxes:
        for key in after:
            np.testing.assert_array_equal(after[key], before[key])
        return
    coordinates, labels = after["boxes"].reshape(-1, 4), after["labels"].reshape(-1)
    kept = coordinates[labels != -1]
    assert (kept[:, 0] <= kept[:, 2]).all() and (kept[:, 1] <= kept[:, 3]).all(), kept
    eps = 1e-3 * max(case.height, case.width)
    assert (kept >= -eps).all() and (kept[:, [0, 2]] <= case.width + eps).all(), kept
    assert (kept[:, [1, 3]] <= case.height + eps).all(), kept


def flat_with_paths(tree, prefix=""):
    if isinstance(tree, dict):
        return [item for key in sorted(tree) for item in flat_with_paths(tree[key], f"{prefix}{key}/")]
    return [(prefix.rstrip("/"), tree)]


def assert_close(reference, other, case, mode):
    """Same result in another execution mode: integers exact, floats within 1e-3 of the range width."""
    assert type(other) is type(reference) or all(isinstance(x, tf.Tensor) for x in (reference, other)), mode
    a, b = parts(as_numpy(reference)), parts(as_numpy(other))
    assert set(a) == set(b), mode
    low, high = case.declared_range
    for (path, x), (_, y) in zip(flat_with_paths(a), flat_with_paths(b)):
        assert x.dtype == y.dtype and x.shape == y.shape, (mode, path)
        if path == "images" and x.dtype.kind == "f":
            atol = 1e-3 * (high - low)
        elif path.startswith("bounding_boxes/boxes") and x.dtype.kind == "f":
            atol = 1e-3 * max(case.height, case.width)
        else:
            atol = label_tolerance(x.dtype) if x.dtype.kind == "f" else 0
        np.testing.assert_allclose(
            x.astype(np.float64), y.astype(np.float64), rtol=0, atol=atol, err_msg=f"{mode}: {path}"
        )


# -- execution modes ----------------------------------------------------------------------------------------


def structure_key(inputs, static=False):
    """Traced functions are reused for inputs of one structure, dtypes, ranks and channel count (and image
    shape, for the layers that need static image sizes)."""
    spec = tf.nest.map_structure(lambda a: (np.asarray(a).dtype.name, np.ndim(a)), parts(inputs))
    images = np.shape(parts(inputs)["images"])
    return repr((type(inputs).__name__, spec, images if static else images[-1]))


@functools.cache
def traced(layer, key, jit_compile, static=False):
    """`layer.augment` as a `tf.function` (relaxing shapes after the first retrace unless the layer needs
    static image sizes), one per input kind."""
    del key
    augment = lambda x, seed: layer.augment(x, seed=seed)  # noqa: E731
    return tf.function(augment, reduce_retracing=not static, jit_compile=jit_compile)


def run_in_modes(cls, inputs, case):
    """{mode: (outputs, expected)}: every mode's result and the eager result it must equal.

    Eager, `tf.function` and `jit_compile` get the drawn seed; `tf.data` runs the layer's map function on
    `Dataset.from_tensors(inputs).enumerate(case.index)`, whose explicit seed is `seed_for_index(case.index)`.
    By default the policy layers skip `tf.function` (`tf.data` runs their graph) and `jit_compile`."""
    fn = map_function_of(cls, case.value_range)
    static = cls.__name__ in MIN_SIDES
    layer, seed, key = fn.layer, tf.constant(case.seed, tf.int64), structure_key(inputs, static)
    eager = layer.augment(inputs, seed=seed)
    runs = {"eager": (eager, eager)}
    if not heavy(cls):
        runs["tf.function"] = (traced(layer, key, False, static)(inputs, seed), eager)
    if cheap(cls):
        runs["jit_compile"] = (traced(layer, key, True, static)(inputs, seed), eager)
    indexed = next(iter(tf.data.Dataset.from_tensors(inputs).enumerate(case.index).map(fn)))
    runs["tf.data"] = (indexed, layer.augment(inputs, seed=layer.seed_for_index(case.index)))
    return runs


# -- properties: inputs ----------------------------------------------------------------------------------------


# AugMix and AutoAugment compile their programs in every mode for each example: the slow profile runs them
# (RandAugment runs the same program engine by default; AugMix's every-mode equality is in test_conformance.py).
# So do the layers built on another layer's machinery, which the default profile fuzzes through that layer:
# MixUpCutMix (CutMix and MixUp), ResizeMix and SaliencyMix (CutMix's box pasting), RandomCorruption
# (Corruption).
EVERY_MODE_SLOW = {"AugMix", "AutoAugment", "MixUpCutMix", "ResizeMix", "SaliencyMix", "RandomCorruption"}


@pytest.mark.parametrize(
    "cls",
    [
        pytest.param(cls, id=cls.__name__, marks=[pytest.mark.slow] if cls.__name__ in EVERY_MODE_SLOW else [])
        for cls in LAYERS
    ],
)
def test_accepted_inputs_keep_the_contract_alike_in_every_mode(cls):
    @fuzz(cls, factor=0.5)
    @given(case=cases(cls))
    def check(case):
        inputs = case.arrays()
        runs = run_in_modes(cls, inputs, case)
        layer = layer_of(cls, case.value_range)
        check_contract(cls, layer, case, inputs, runs["eager"][0])
        # [images, labels], as Keras passes a tuple on, reads as the tuple (one image's label may be a scalar).
        if case.structure == "tuple":
            paired = layer.augment(list(inputs), seed=tf.constant(case.seed, tf.int64))
            assert_close(runs["eager"][0], tuple(paired), case, "[images, labels]")
        for mode, (outputs, expected) in runs.items():
            assert_close(expected, outputs, case, mode)

    check()


@layers
def test_other_inputs_are_refused_with_a_clear_error(cls):
    @fuzz(cls, factor=2)
    @given(case=cases(cls, accepted=False))
    def check(case):
        expected = refusal(cls, case)
        assume(expected is not None)
        layer, inputs, seed = layer_of(cls, case.value_range), case.arrays(), tf.constant(case.seed, tf.int64)
        with pytest.raises((ValueError, TypeError), match=expected):
            layer.augment(inputs, seed=seed)
        with pytest.raises((ValueError, TypeError), match=expected):  # when tf.function traces it
            tf.function(lambda x, s: layer.augment(x, seed=s))(inputs, seed)

    check()


@pytest.mark.parametrize("cls", [cls for cls in LAYERS if cls.uses_value_range], ids=lambda cls: cls.__name__)
def test_float_images_in_unit_range_are_refused_under_the_default_range(cls):
    """Float images with values in (0, 1] look like [0, 1] images: the default (0, 255) range refuses them."""

    @fuzz(cls, factor=2)
    @given(case=cases(cls, value_range=st.just((0.0, 1.0))), dtype=st.sampled_from([np.float16, np.float32]))
    def check(case, dtype):
        case = dataclasses.replace(case, dtype=dtype, batch=case.batch or 1)
        inputs = case.arrays()
        assume(parts(inputs)["images"].max() > 0)
        with pytest.raises(ValueError, match=r"look like float images in \[0, 1\]"):
            layer_of(cls).augment(inputs, seed=tf.constant(case.seed, tf.int64))

    check()


# -- properties: constructor arguments ---------------------------------------------------------------------------

INF, NAN, HUGE = math.inf, math.nan, 10**400  # HUGE: an int beyond the float range
WRONG = ("1", b"1", 1j, {})  # wrong types, refused by every argument


def floats(low=None, high=None):
    return st.floats(low, high, allow_nan=False)


def below(x):
    return st.floats(max_value=x, exclude_max=True, allow_nan=False)


def above(x):
    return st.floats(min_value=x, exclude_min=True, allow_nan=False)


def numpy_too(strategy, dtype):
    """Valid values also as NumPy scalars (numbers everywhere, see test_arguments)."""
    return st.one_of(strategy, strategy.map(dtype))


@dataclasses.dataclass(frozen=True)
class Arg:
    """An argument's valid values (a strategy; None: a fill value inside the drawn `value_range`), invalid
    values tested one by one (`fixed`, plus `WRONG`) and invalid values drawn by hypothesis (`drawn`)."""

    valid: st.SearchStrategy | None
    fixed: tuple = ()
    drawn: st.SearchStrategy | None = None


def choice(*valid, invalid=()):
    return Arg(st.sampled_from(valid), (*invalid, None, 1, [valid[0]]))


PROBABILITY = Arg(numpy_too(floats(0, 1), np.float32), (NAN, HUGE, None, True), st.one_of(below(0), above(1)))
ALPHA = Arg(numpy_too(floats(0.05, 10), np.float32), (NAN, HUGE, None), floats(None, 0))
LEVEL = Arg(floats(0, 255), (NAN, HUGE, None), st.one_of(below(0), above(255)))
SMOOTHING = Arg(floats(0, 0.99), (NAN, None), st.one_of(below(0), floats(1)))
INTERPOLATION = choice("nearest", "bilinear", invalid=("cubic",))
INT32_LIMIT = 2**31  # ints from here on overflow the int32 tensors they become


def count(low, high, invalid_below):
    """An int argument in [low, high] (valid draws); floats, ints < `invalid_below` and huge ints are invalid."""
    drawn = st.one_of(st.integers(max_value=invalid_below - 1), above(low).filter(lambda x: x % 1 != 0))
    return Arg(numpy_too(st.integers(low, high), np.int64), (NAN, None, True, INT32_LIMIT), drawn)


MASK_FILL = Arg(st.integers(-1, 255), (1.5, NAN, None, True, 2**40), floats().filter(lambda x: x % 1 != 0))
POLICY = {"fill_value": LEVEL, "interpolation": INTERPOLATION, "mask_fill_value": MASK_FILL}
MIXING = {"probability": PROBABILITY, "pairing": choice("permute", "flip", "roll", invalid=("shuffle",))}
FRACTIONS = st.tuples(floats(0.01, 1), floats(0.01, 1)).map(sorted).map(tuple)
FILL_VALUE = Arg(None, (INF, NAN, HUGE, -1000.0, 1000.0, None))
JITTER_FACTOR = Arg(
    st.one_of(floats(0, 2), st.tuples(floats(0, 1), floats(1, 3))),
    ((1.5, 0.5), (-0.1, 1), (0, INF), (NAN, 1), INF, NAN, None, [1]),
    below(0),
)
SEVERITY = Arg(
    st.one_of(st.integers(1, 5), st.tuples(st.integers(1, 3), st.integers(3, 5))),
    (0, 6, (4, 2), (0, 3), 2.5, NAN, None, True, [1, 2, 3]),
    st.integers(max_value=0),
)

#: Per layer: argument -> `Arg`. `COMMON` holds BaseAugmentation's; `arguments(cls)` adds generic invalid
#: values for the numeric arguments of a layer (or of an argument) that is not listed here.
COMMON = {
    "num_classes": count(1, 10, 1),
    "batchwise": Arg(st.booleans(), (1, "yes", None)),
    "value_range": Arg(st.sampled_from(RANGES), ((1, 0), (0, 0), (0, INF), (NAN, 1), (0, HUGE), (0,), "0-1", 255)),
    "bounding_box_format": Arg(st.sampled_from([None, *FORMATS]), ("XYXY", "xyz", 1, ["xyxy"])),
    "seed": Arg(st.one_of(st.none(), st.integers(0, 2**63 - 1)), (-1, 2**63, 1.5), below(0)),
}
COMMON["num_classes"] = dataclasses.replace(COMMON["num_classes"], fixed=(NAN, True, INT32_LIMIT))
ARGUMENTS = {
    "CutMix": {"alpha": ALPHA, **MIXING},
    "MixUp": {"alpha": ALPHA, **MIXING},
    "ResizeMix": {"side_scale": Arg(FRACTIONS, ((0, 0.5), (0.5, 0.2), (0.1, 1.5), (NAN, 0.5), 0.5, None)), **MIXING},
    "SaliencyMix": {"alpha": ALPHA, **MIXING},
    "MixUpCutMix": {
        "mixup_alpha": Arg(floats(0, 5), (INF, NAN, None), below(0)),
        "cutmix_alpha": Arg(floats(0, 5), (INF, NAN, None), below(0)),
        "cutmix_minmax": Arg(st.one_of(st.none(), FRACTIONS), ((0.5, 0.2), (-0.1, 0.5), (0.2, 1.5), (NAN, 0.5), 0.5)),
        "switch_prob": PROBABILITY,
        "label_smoothing": SMOOTHING,
        **MIXING,
    },
    "Cutout": {
        "size": Arg(
            st.one_of(numpy_too(st.integers(1, 16), np.int64), numpy_too(floats(0.01, 1), np.float32)),
            (INF, NAN, True, None),
            st.one_of(st.integers(max_value=0), above(1).filter(lambda x: x % 1 != 0), floats(None, 0)),
        ),
        "probability": PROBABILITY,
        "fill_value": FILL_VALUE,
    },
    "RandomErasing": {
        "probability": PROBABILITY,
        "scale": Arg(FRACTIONS, ((0, 0.5), (0.5, 0.2), (0.1, 1.5), (NAN, 0.5), 0.5, None)),
        "ratio": Arg(st.tuples(floats(0.1, 1), floats(1, 10)), ((0, 1), (2, 1), (-1, 1), (1, INF), 1.0, None)),
        "fill": choice("const", "random", "pixel", invalid=("zero",)),
        "fill_value": FILL_VALUE,
        "count": dataclasses.replace(
            count(1, 3, 1),
            valid=st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 2), st.integers(2, 3))),
            fixed=((0, 2), (2, 1), (1.5, 2), NAN, None, True, INT32_LIMIT),
        ),
        "max_attempts": count(1, 20, 1),
    },
    "LabelSmoothing": {"label_smoothing": SMOOTHING},
    "RandomResizedCrop": {
        "size": Arg(
            st.one_of(st.integers(1, 12), st.tuples(st.integers(1, 12), st.integers(1, 12))),
            (0, -1, (0, 4), (4, 0), (4,), (1, 2, 3), 1.5, (2.0, 3), NAN, None, True, INT32_LIMIT),
            st.integers(max_value=0),
        ),
        "scale": Arg(FRACTIONS, ((0, 0.5), (0.5, 0.2), (0.1, 1.5), (NAN, 0.5), 0.5, None)),
        "ratio": Arg(st.tuples(floats(0.1, 1), floats(1, 10)), ((0, 1), (2, 1), (-1, 1), (1, INF), 1.0, None)),
        "interpolation": choice("bilinear", "bicubic", "nearest", invalid=("cubic",)),
        "antialias": Arg(st.booleans(), (1, "yes", None)),
    },
    "RandomFlip": {"mode": choice("horizontal", "vertical", "horizontal_and_vertical", invalid=("diagonal",))},
    "ColorJitter": {
        **dict.fromkeys(("brightness", "contrast", "saturation"), JITTER_FACTOR),
        "hue": Arg(
            st.one_of(floats(0, 0.5), st.tuples(floats(-0.5, 0), floats(0, 0.5))),
            (0.6, -0.1, (0.2, 0.1), (-0.6, 0.1), (0, 0.7), (NAN, 0.1), INF, NAN, None),
            st.one_of(below(0), above(0.5)),
        ),
    },
    "GaussianNoise": {
        "stddev": Arg(
            st.one_of(floats(0, 1), FRACTIONS),
            ((0.2, 0.1), (-0.1, 0.1), (0, 1.5), (NAN, 0.1), INF, NAN, None, [0.1]),
            st.one_of(below(0), above(1)),
        )
    },
    "RandomGrayscale": {"probability": PROBABILITY},
    "RandAugment": {
        "num_ops": count(0, 3, 0),
        "magnitude": Arg(numpy_too(floats(0, 10), np.float32), (INF, NAN, None), st.one_of(below(0), above(10))),
        "magnitude_std": Arg(numpy_too(st.one_of(floats(0, 2), st.just(INF)), np.float32), (NAN, HUGE, None), below(0)),
        "ops": Arg(
            st.lists(st.sampled_from(OP_NAMES), min_size=1, max_size=4), ([], "rotate", ["spin"], ["rotate", {}])
        ),
        "probability": PROBABILITY,
        "magnitude_scale": choice("timm", "torchvision", invalid=("pil",)),
        **POLICY,
    },
    "AutoAugment": {"policy": choice("imagenet", "cifar10", "svhn", invalid=("imagenet2",)), **POLICY},
    "TrivialAugmentWide": {"num_magnitude_bins": count(2, 50, 2), **POLICY},
    "Corruption": {
        "corruption": choice(*tfaug.corruptions.CORRUPTIONS, invalid=("smog",)),
        "severity": SEVERITY,
        "table": choice("auto", *tfaug.corruptions.TABLES, invalid=("huge",)),
    },
    "RandomCorruption": {
        "corruptions": Arg(
            st.lists(st.sampled_from(list(tfaug.corruptions.CORRUPTIONS)), min_size=1, max_size=3, unique=True),
            ([], "fog", ["smog"], ["fog", "fog"], [1]),
        ),
        "severity": SEVERITY,
        "table": choice("auto", *tfaug.corruptions.TABLES, invalid=("huge",)),
    },
    "RandConv": {
        "kernel_sizes": Arg(
            st.lists(st.sampled_from([1, 3, 5, 7]), min_size=1, max_size=3, unique=True),
            ([], [2], [3, 3], [33], [-1], [1.5], [True], 3, None, "3"),
        ),
        "mix": Arg(st.booleans(), (1, "yes", None)),
        "probability": PROBABILITY,
    },
    "AugMix": {
        "severity": Arg(numpy_too(floats(0.1, 10), np.float32), (INF, NAN, None), st.one_of(below(0.1), above(10))),
        "width": count(1, 4, 1),
        "depth": Arg(st.sampled_from([-1, 1, 2, 3]), (0, 4, -2, 1.5, NAN, None)),
        "alpha": ALPHA,
        "all_ops": Arg(st.booleans(), (1, "yes", None)),
        "fill_value": LEVEL,
        "interpolation": INTERPOLATION,
    },
}


def own_parameters(cls):
    """`__init__` parameters of `cls` and its bases (BaseAugmentation's excluded) with their defaults."""
    found = {}
    for klass in cls.__mro__:
        if isinstance(klass, type) and issubclass(klass, BaseAugmentation) and klass is not BaseAugmentation:
            for name, p in inspect.signature(klass.__init__).parameters.items():
                if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                    found.setdefault(name, p.default)
    return found


def arguments(cls):
    """The argument table of `cls`: its entry in `ARGUMENTS`, plus generic invalid values (NaN, None) for
    every numeric argument that has none, so that a new layer or argument is fuzzed too."""
    table = {**COMMON, **ARGUMENTS.get(cls.__name__, {})}
    for name, default in own_parameters(cls).items():
        numeric = isinstance(default, (int, float)) and not isinstance(default, bool)
        if name not in table and numeric:
            table[name] = Arg(st.just(default), (NAN, None))
    return table


def test_every_known_argument_is_a_parameter():
    for cls in LAYERS:
        unknown = set(ARGUMENTS.get(cls.__name__, {})) - set(own_parameters(cls))
        assert not unknown, f"{cls.__name__}: {sorted(unknown)} in ARGUMENTS but not in __init__"


def assert_refused_by_name(cls, name, value):
    try:
        cls(**{**REQUIRED.get(cls.__name__, {}), "num_classes": NUM_CLASSES, name: value})
    except (ValueError, TypeError) as error:
        assert f"`{name}`" in str(error), f"{cls.__name__}({name}={value!r}): {error}"
    else:
        pytest.fail(f"{cls.__name__}({name}={value!r}) was accepted")


@layers
def test_invalid_arguments_are_refused_by_name(cls):
    """Every listed invalid value, one argument at a time, then drawn ones (out of range, infinite)."""
    table = arguments(cls)
    for name, arg in table.items():
        for value in (*arg.fixed, *WRONG):
            assert_refused_by_name(cls, name, value)

    @fuzz(cls, factor=4)
    @given(data=st.data())
    def check(data):
        name = data.draw(st.sampled_from(sorted(n for n in table if table[n].drawn is not None)), label="argument")
        assert_refused_by_name(cls, name, data.draw(table[name].drawn, label=name))

    check()


@st.composite
def valid_arguments(draw, cls):
    """A few of `cls`'s arguments with valid values (fill values inside the drawn `value_range`)."""
    table = arguments(cls)
    names = draw(st.lists(st.sampled_from(sorted(table)), unique=True, max_size=4))
    kwargs = {**REQUIRED.get(cls.__name__, {}), "num_classes": NUM_CLASSES, "bounding_box_format": "xyxy", "seed": 0}
    for name in sorted(names, key=lambda n: n != "value_range"):  # value_range first: fill values lie in it
        valid = table[name].valid
        if valid is None:  # a fill value inside the value range
            low, high = kwargs.get("value_range") or (0.0, 255.0)
            valid = numpy_too(floats(low, high), np.float64)
        kwargs[name] = draw(valid)
    if cls.__name__ == "MixUpCutMix":  # one of the two mixers must stay enabled
        enabled = kwargs.get("mixup_alpha", 0.8) or kwargs.get("cutmix_alpha", 1.0) or kwargs.get("cutmix_minmax")
        assume(enabled)
    return kwargs


def fits(value, dtype):
    return dtype is None or np.iinfo(dtype).min <= value <= np.iinfo(dtype).max


@layers
def test_valid_arguments_build_a_layer_that_keeps_the_contract(cls):
    """Also the map function's counter: its first call in `tf.data` is a fresh layer's first eager call."""

    @fuzz(cls, factor=0.75)
    @given(kwargs=valid_arguments(cls), data=st.data())
    def check(kwargs, data):
        layer = cls(**kwargs)
        config = layer.get_config()
        assert cls.from_config(config).get_config() == config
        case = data.draw(cases(cls, value_range=st.just(kwargs.get("value_range")), classes=kwargs["num_classes"]))
        if kwargs["bounding_box_format"] != "xyxy":
            case = dataclasses.replace(case, boxes=None)
        if heavy(cls):
            case = dataclasses.replace(case, batch=0)
        inputs = case.arrays()
        try:
            outputs = layer.augment(inputs)
        except ValueError as error:  # a mask fill the masks' dtype cannot hold (-1 for uint8 masks) is refused
            assert "`mask_fill_value`" in str(error) and not fits(layer.mask_fill_value, case.masks), error
            return
        check_contract(cls, layer, case, inputs, outputs)
        if kwargs.get("seed") is not None and not heavy(cls):
            counted = next(iter(tf.data.Dataset.from_tensors(inputs).map(map_function(cls, **kwargs))))
            assert_close(outputs, counted, case, "tf.data, counted")
        if NIGHTLY:  # these arguments in every mode too
            seed = tf.constant(case.seed, tf.int64)
            eager = layer.augment(inputs, seed=seed)
            for jit_compile in (False, True):
                graph = tf.function(lambda x, s: layer.augment(x, seed=s), jit_compile=jit_compile)
                assert_close(eager, graph(inputs, seed), case, f"tf.function(jit_compile={jit_compile})")

    check()


def test_every_augmentation_has_a_map_function():
    # The layers built around user models (MODEL_AUGMENTATIONS: StyleAugmentation) and the compositions
    # (COMPOSITIONS: RandomApply) have map functions too, and are not fuzzed here: their output depends on the
    # models or layers they are given.
    registries = (tfaug.layers.AUGMENTATIONS, tfaug.layers.MODEL_AUGMENTATIONS, tfaug.layers.COMPOSITIONS)
    assert set(MAP_FUNCTIONS) == set().union(*registries)
