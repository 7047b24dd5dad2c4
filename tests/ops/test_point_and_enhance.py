"""The point and colour ops against PIL: `max|diff| == 0` on uint8, within a level on floats.

References are `PIL.ImageOps`, `PIL.ImageEnhance` and `Image.convert("L")` applied image by image; tfaug
applies a different parameter to every image of one batch, which also proves the ops vectorise.
"""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from PIL import ImageEnhance
from PIL import ImageOps

from tfaug import ops
from tfaug.ops import _xla
from tfaug.ops import enhance
from tfaug.ops import histogram as histogram_module

FACTORS = ([0.0, 0.1, 1.9, 2.5], [0.5, 1.0, 0.3, 1.5], [-0.5, 3.0, 0.9, 1.1])


def _solarize_add_reference(image, params):
    addition, threshold = params
    x = np.asarray(image).astype(np.int64)
    return np.where(x < threshold, np.clip(x + addition, 0, 255), x).astype(np.uint8)


def _posterize_reference(image, bits):
    # Pillow 13 raises for bits=0; tfaug defines it as keeping no bit.
    return np.zeros_like(np.asarray(image)) if bits == 0 else ImageOps.posterize(image, bits)


def _enhance(cls):
    return lambda image, factor: cls(image).enhance(factor)


# name -> (tfaug call (images, per-image params, value_range), PIL call (image, param), parameter sets).
# Every parameter set holds one value per image of the 4-photo batch.
CASES = {
    "identity": (lambda x, p, vr: ops.identity(x, vr), lambda im, p: im, [[0] * 4]),
    "invert": (lambda x, p, vr: ops.invert(x, vr), lambda im, p: ImageOps.invert(im), [[0] * 4]),
    "posterize": (
        lambda x, p, vr: ops.posterize(x, p, vr),
        _posterize_reference,
        [[1, 2, 3, 4], [5, 6, 7, 8], [0, 8, 4, 1]],
    ),
    "solarize": (
        lambda x, p, vr: ops.solarize(x, p, vr),
        ImageOps.solarize,
        [[0, 1, 128, 256], [64, 200, 255, 100]],
    ),
    "solarize_add": (
        lambda x, p, vr: ops.solarize_add(x, p[:, 0], p[:, 1], vr),
        _solarize_add_reference,
        [[(0, 128), (30, 128), (110, 200), (-40, 256)], [(255, 0), (77, 255), (10, 1), (-255, 128)]],
    ),
    "auto_contrast": (lambda x, p, vr: ops.auto_contrast(x, vr), lambda im, p: ImageOps.autocontrast(im), [[0] * 4]),
    "equalize": (lambda x, p, vr: ops.equalize(x, vr), lambda im, p: ImageOps.equalize(im), [[0] * 4]),
    "grayscale": (
        lambda x, p, vr: ops.grayscale(x, vr),
        lambda im, p: im.convert("L").convert("RGB"),
        [[0] * 4],
    ),
    "brightness": (lambda x, p, vr: ops.brightness(x, p, vr), _enhance(ImageEnhance.Brightness), FACTORS),
    "color": (lambda x, p, vr: ops.color(x, p, vr), _enhance(ImageEnhance.Color), FACTORS),
    "contrast": (lambda x, p, vr: ops.contrast(x, p, vr), _enhance(ImageEnhance.Contrast), FACTORS),
    "sharpness": (lambda x, p, vr: ops.sharpness(x, p, vr), _enhance(ImageEnhance.Sharpness), FACTORS),
}


def pil_reference(name, images, params):
    _, pil_call, _ = CASES[name]
    return np.stack([np.asarray(pil_call(Image.fromarray(image), p)) for image, p in zip(images, params)])


def run(name, images, params, value_range=(0, 255), mode="fused"):
    """Calls the op: `fused` (default XLA kernels), `plain` (TFAUG_XLA=0) or `jit` (inside jit_compile)."""
    call, _, _ = CASES[name]
    params = np.asarray(params)
    if mode == "jit":
        key = (name, value_range)
        if key not in _JIT:
            _JIT[key] = tf.function(lambda x, p: call(x, p, value_range), jit_compile=True)
        return _JIT[key](tf.constant(images), tf.constant(params)).numpy()
    if mode == "plain":
        enabled, _xla.ENABLED = _xla.ENABLED, False
        try:
            return call(images, params, value_range).numpy()
        finally:
            _xla.ENABLED = enabled
    return call(images, params, value_range).numpy()


_JIT = {}  # one compiled function per op and value range: parameters are tensor arguments, no retracing


def max_diff(a, b):
    return int(np.max(np.abs(np.asarray(a, np.int64) - np.asarray(b, np.int64)))) if np.size(a) else 0


@pytest.fixture(scope="module")
def batch(photos):
    """The four photos resized with PIL to a non-square uint8 batch `[4, 64, 96, 3]`."""
    return np.stack([np.asarray(Image.fromarray(p).resize((96, 64), Image.BILINEAR)) for p in photos.values()])


@pytest.mark.parametrize("mode", ["fused", "plain", "jit"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_pil_on_photos(name, mode, batch):
    for params in CASES[name][2]:
        out = run(name, batch, params, mode=mode)
        assert out.dtype == np.uint8 and out.shape == batch.shape
        assert max_diff(out, pil_reference(name, batch, params)) == 0, params


@pytest.mark.parametrize("name", ["auto_contrast", "equalize", "sharpness"])
def test_matches_pil_on_a_full_size_photo(name, photos):
    image = photos["astronaut"][None]  # 512x512, batch of one
    params = [0.3] if name == "sharpness" else [0]
    assert max_diff(run(name, image, params), pil_reference(name, image, params)) == 0


def _edge_batches():
    rng = np.random.default_rng(0)
    shape = (3, 24, 40, 3)  # odd batch, non-square
    constant = np.empty(shape, np.uint8)
    constant[..., 0], constant[..., 1], constant[..., 2] = 7, 0, 255
    constant[1] = 128
    low_contrast = rng.integers(100, 105, shape).astype(np.uint8)
    single_bin = rng.integers(0, 256, shape).astype(np.uint8)
    single_bin[..., 1] = 42
    single_bin[2, ..., 0] = 200
    # Few levels with skewed weights: equalize's step is 1 to 3 and its LUT exceeds 255 (clipped by PIL).
    levels = rng.integers(0, 256, (3, 4))
    weights = [0.7, 0.2, 0.07, 0.03]
    skewed = np.stack([rng.choice(levels[i], size=shape[1:], p=weights) for i in range(3)]).astype(np.uint8)
    # At most 254 of 960 pixels below the top level: equalize's step is 0 (identity).
    mostly_top = np.where(rng.random(shape) < 0.2, rng.integers(0, 256, shape), 255).astype(np.uint8)
    return {
        "constant, low contrast, single bin, skewed, mostly top": np.concatenate(
            [constant, low_contrast, single_bin, skewed, mostly_top]
        ),
        "2x9: no pixel to smooth": rng.integers(0, 256, (3, 2, 9, 3)).astype(np.uint8),
    }


EDGE = _edge_batches()


@pytest.mark.parametrize("case", sorted(EDGE))
def test_matches_pil_on_edge_cases(case):
    images = EDGE[case]
    names = ["sharpness", "contrast"] if case.startswith("2x9") else CASES
    for name in names:
        param_sets = CASES[name][2]
        for params in param_sets[:2]:
            params = (list(params) * len(images))[: len(images)]
            assert max_diff(run(name, images, params), pil_reference(name, images, params)) == 0, (name, params)


def test_equalize_clips_lut_entries_above_255():
    # 300 pixels at 10 and 100 at 200: step = 300 // 255 = 1, PIL's LUT gives 300 for level 200.
    image = np.full((1, 20, 20, 1), 10, np.uint8)
    image[0, :5] = 200
    reference = np.asarray(ImageOps.equalize(Image.fromarray(image[0, ..., 0])))
    assert reference.max() == 255
    np.testing.assert_array_equal(ops.equalize(image).numpy()[0, ..., 0], reference)


def test_auto_contrast_lut_is_pils_float64_lut_for_every_range():
    lo, hi = np.nonzero(np.arange(256)[:, None] < np.arange(256)[None, :])  # all 32640 pairs lo < hi
    levels = np.arange(256)
    scale = 255.0 / (hi - lo)  # numpy, like Python, rounds each float64 operation (no fused multiply-add)
    expected = np.clip(levels[None, :] * scale[:, None] + (-lo * scale)[:, None], 0, 255).astype(np.int32)
    exact = np.clip(255 * (levels[None, :] - lo[:, None]) // (hi - lo)[:, None], 0, 255)
    assert (expected != exact).sum() == 12094  # PIL's float64 truncation is one level below the exact ratio
    # hi <= lo: identity.
    lo, hi = np.concatenate([lo, [0, 7, 255, 200]]), np.concatenate([hi, [0, 7, 255, 3]])
    expected = np.concatenate([expected, np.tile(levels, (4, 1))])
    lut = tf.function(histogram_module.auto_contrast_lut, jit_compile=True)(lo, hi).numpy()
    np.testing.assert_array_equal(lut, expected)
    sample = slice(None, None, 31)  # the plain TensorFlow kernels, on a subset
    np.testing.assert_array_equal(histogram_module.auto_contrast_lut(lo[sample], hi[sample]).numpy(), expected[sample])


def test_auto_contrast_keeps_pils_254_for_range_0_to_25(monkeypatch):
    monkeypatch.setattr(_xla, "ENABLED", False)
    image = np.array([[0, 0], [12, 25]], np.uint8)
    reference = np.asarray(ImageOps.autocontrast(Image.fromarray(image)))
    assert reference.max() == 254  # 25 * (255 / 25) + 0 truncates to 254 in float64
    np.testing.assert_array_equal(ops.auto_contrast(image[None, ..., None]).numpy()[0, ..., 0], reference)


@pytest.mark.parametrize("mode", ["fused", "plain"])
def test_blend_matches_pil_for_every_pair_of_levels(mode):
    degenerate, image = np.meshgrid(np.arange(256, dtype=np.uint8), np.arange(256, dtype=np.uint8), indexing="ij")
    factors = np.concatenate([np.linspace(-3.0, 3.0, 41), [0.1, 0.19, 1 / 3, 0.7, 0.99, 1.01, 1.81, 1.9, 2.5]])
    factors = factors.astype(np.float32)
    expected = np.stack(
        [np.asarray(Image.blend(Image.fromarray(degenerate), Image.fromarray(image), float(f))) for f in factors]
    )
    images = np.broadcast_to(image[None, ..., None], (len(factors), 256, 256, 1))
    degenerates = np.broadcast_to(degenerate[None, ..., None], images.shape)
    enabled, _xla.ENABLED = _xla.ENABLED, mode == "fused"
    try:
        out = ops.blend_degenerate(images, degenerates, factors).numpy()[..., 0]
    finally:
        _xla.ENABLED = enabled
    assert max_diff(out, expected) == 0


@pytest.mark.parametrize("value_range", [(0, 1), (-1, 1)])
@pytest.mark.parametrize("name", sorted(CASES))
def test_float_input_is_within_one_level_of_uint8(name, value_range, batch):
    low, high = value_range
    images = (batch.astype(np.float32) / 255.0 * (high - low) + low).astype(np.float32)
    for params in CASES[name][2]:
        out = run(name, images, params, value_range)
        assert out.dtype == np.float32
        levels = np.round((out.astype(np.float64) - low) * 255.0 / (high - low))
        assert max_diff(levels, run(name, batch, params)) <= 1, params


@pytest.mark.parametrize("dtype", ["int32", "uint16", "float16", "bfloat16", "float64"])
def test_dtype_is_preserved(dtype, batch, monkeypatch):
    monkeypatch.setattr(_xla, "ENABLED", False)  # XLA is covered above; this checks the dtype plumbing
    small = batch[:, :16, :24]
    images, value_range = tf.constant(small, tf.int32), (0, 255)
    if dtype == "uint16":
        images, value_range = tf.constant(small, tf.uint16) * 257, (0, 65535)
    elif dtype != "int32":
        images, value_range = tf.cast(small, dtype) / tf.cast(255, dtype), (0, 1)
    for name, (call, _, param_sets) in CASES.items():
        params = np.asarray(param_sets[0])
        out = call(images, params, value_range)
        assert out.dtype == images.dtype and out.shape == images.shape, name
        reference = run(name, small, params)
        if dtype == "int32":  # integers holding levels take the exact path
            assert max_diff(out.numpy(), reference) == 0, name
        elif dtype in ("uint16", "float64"):
            levels = np.round(tf.cast(out, tf.float64).numpy() * 255.0 / value_range[1])
            assert max_diff(levels, reference) <= 1, name


def test_scalar_parameters_broadcast_over_the_batch(batch):
    np.testing.assert_array_equal(ops.contrast(batch, 0.4).numpy(), ops.contrast(batch, [0.4] * 4).numpy())
    np.testing.assert_array_equal(ops.posterize(batch, tf.constant(3)).numpy(), ops.posterize(batch, [3] * 4).numpy())


def test_tensor_parameters_out_of_range_are_documented_behaviour(batch):
    np.testing.assert_array_equal(ops.posterize(batch, tf.constant([9, 12, -1, 8])).numpy()[:2], batch[:2])
    assert not ops.posterize(batch, tf.constant([-1] * 4)).numpy().any()
    np.testing.assert_array_equal(ops.solarize(batch, tf.constant([300.0] * 4)).numpy(), batch)
    np.testing.assert_array_equal(ops.solarize(batch, tf.constant([-5.0] * 4)).numpy(), 255 - batch)


@pytest.mark.parametrize("value_range", [(0, 1), (-1, 1)])
def test_enhancers_at_factor_one_return_float_images_exactly(value_range, batch):
    images = batch.astype(np.float32) / 255.0 * (value_range[1] - value_range[0]) + value_range[0]
    for name in ("brightness", "color", "contrast", "sharpness"):
        np.testing.assert_array_equal(CASES[name][0](images, [1.0] * 4, value_range).numpy(), images)


def test_sharpness_keeps_float_borders_exactly(batch):
    images = batch.astype(np.float32) / 255.0 * 2.0 - 1.0
    out = ops.sharpness(images, [0.0, 0.5, 2.0, 3.0], value_range=(-1, 1)).numpy()
    for border in (np.s_[:, 0], np.s_[:, -1], np.s_[:, :, 0], np.s_[:, :, -1]):
        np.testing.assert_array_equal(out[border], images[border])


def test_blend_on_floats_with_broadcast_degenerate(batch):
    images = batch.astype(np.float32) / 255.0
    out = ops.blend_degenerate(images, tf.zeros([4, 1, 1, 1]), [0.5, 1.0, 2.0, 0.0], value_range=(0, 1)).numpy()
    np.testing.assert_allclose(out[0], images[0] * 0.5, atol=1e-6)
    np.testing.assert_array_equal(out[1], images[1])
    np.testing.assert_allclose(out[2], np.minimum(images[2] * 2.0, 1.0), atol=1e-6)
    assert not out[3].any()


@pytest.mark.parametrize("name", ["color", "grayscale", "contrast"])
@pytest.mark.parametrize("channels", [2, 4])
def test_colour_ops_reject_non_rgb(name, channels):
    call, _, param_sets = CASES[name]
    with pytest.raises(ValueError, match=r"`images` with 3 \(RGB\)"):
        call(np.zeros((2, 8, 8, channels), np.uint8), param_sets[0][:2], (0, 255))


def test_contrast_and_color_on_one_channel_are_pils_mode_l(batch):
    gray = np.asarray(Image.fromarray(batch[0]).convert("L"))
    expected = np.asarray(ImageEnhance.Contrast(Image.fromarray(gray)).enhance(1.7))
    np.testing.assert_array_equal(ops.contrast(gray[None, ..., None], 1.7).numpy()[0, ..., 0], expected)
    expected = np.asarray(ImageEnhance.Color(Image.fromarray(gray)).enhance(0.5))
    np.testing.assert_array_equal(ops.color(gray[None, ..., None], 0.5).numpy()[0, ..., 0], expected)
    np.testing.assert_array_equal(ops.grayscale(batch[:1], num_channels=1).numpy()[0, ..., 0], gray)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda x: ops.posterize(x, 9), "`bits` must be an int in \\[0, 8\\].*9"),
        (lambda x: ops.posterize(x, 2.5), "`bits`"),
        (lambda x: ops.posterize(x, [1, 2, -1, 4]), "`bits`"),
        (lambda x: ops.solarize(x, 300), "`threshold` must be .* in \\[0, 256\\].*300"),
        (lambda x: ops.solarize_add(x, 30, threshold=-1), "`threshold`"),
        (lambda x: ops.solarize_add(x, 300), "`addition`"),
        (lambda x: ops.brightness(x, float("nan")), "`factor` must be a finite number"),
        (lambda x: ops.sharpness(x, "2"), "`factor`"),
        (lambda x: ops.color(x, [0.5, 1.5, 2.0]), "`factor` must have one value per image \\(4\\), got 3"),
        (lambda x: ops.grayscale(x, num_channels=2), "`num_channels`"),
        (lambda x: ops.equalize(x, value_range=(1, 0)), "`value_range`"),
        (lambda x: ops.invert(x[0]), "`images` of shape \\[batch, height, width, channels\\]"),
    ],
)
def test_invalid_arguments_raise(call, match, batch):
    with pytest.raises(ValueError, match=match):
        call(batch)


def test_ops_are_exported():
    for name in CASES:
        assert name in ops.__all__
    assert "blend_degenerate" in ops.__all__
    assert enhance.blend is ops.blend_degenerate
