"""Weather corruptions and spatter against the `imagecorruptions` package (ImageNet parameters).

Brightness is deterministic and must equal the reference within one level. The others draw random
layers, so they are compared by statistics over fixed seeds (the reference seeded with `np.random.seed`),
and their deterministic stages exactly: the plasma fractal given the same uniforms, spatter's water
shading (OpenCV's Canny, distance transform, equalisation, emboss) and its mud cover given the same liquid
layer. Frost's texture is synthetic (the reference's photographs are not shipped); its statistics are
compared with crops of the photographs, which the test reads from the installed reference package.
"""

import cv2
import numpy as np
import pytest
import skimage.data
import skimage.transform
import tensorflow as tf
from imagecorruptions import corrupt as reference
from imagecorruptions import corruptions as reference_module
from skimage.filters import gaussian

from tfaug.corruptions import TABLES
from tfaug.corruptions import corrupt
from tfaug.corruptions import textures
from tfaug.corruptions import weather

NAMES = ("brightness", "fog", "frost", "snow", "spatter")
SHAPE = (72, 96)
LUMA = np.array([0.2989, 0.5870, 0.1140])


@pytest.fixture(scope="module")
def photos():
    """Three uint8 RGB photographs, 72 x 96."""
    images = [skimage.data.astronaut(), skimage.data.chelsea(), skimage.data.coffee()]
    resized = [skimage.transform.resize(image, SHAPE, anti_aliasing=True) for image in images]
    return np.stack([np.round(image * 255).astype(np.uint8) for image in resized])


def ours(images, name, severity, seed=0, table="imagenet"):
    return corrupt(images, name, severity=severity, seed=seed, table=table).numpy().astype(np.float64)


def theirs(images, name, severity, draws, seed=0):
    """The reference on each image, `draws` times over (a new draw each time), `[draws * B, H, W, C]`."""
    np.random.seed(seed)
    out = [reference(image, corruption_name=name, severity=severity) for _ in range(draws) for image in images]
    return np.stack(out).astype(np.float64)


def repeated(images, draws):
    return np.concatenate([images] * draws)


def change_and_contrast(out, images):
    """Mean change per channel (levels) and the mean standard deviation of an image's pixels."""
    images = images.astype(np.float64)
    return (out - images).mean(axis=(0, 1, 2)), out.std(axis=(1, 2, 3)).mean()


# --- brightness ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
def test_brightness_matches_reference(photos, severity):
    """Max abs difference 1 level (the reference truncates to uint8, tfaug rounds); mean below 0.7."""
    expected = np.stack([reference(image, corruption_name="brightness", severity=severity) for image in photos])
    diff = np.abs(ours(photos, "brightness", severity) - np.uint8(expected))
    assert diff.max() <= 1 and diff.mean() < 0.7
    gray = photos[..., :1]
    expected_gray = np.stack(
        [reference(image[..., 0], corruption_name="brightness", severity=severity) for image in gray]
    )
    assert np.abs(ours(gray, "brightness", severity)[..., 0] - np.uint8(expected_gray)[..., 0]).max() <= 1


def test_brightness_of_black_is_gray():
    black = tf.zeros([1, 32, 32, 3])
    out = weather.brightness(black, tf.constant([3]), tf.constant([0, 0], tf.int64), "imagenet")
    np.testing.assert_allclose(out.numpy(), 0.3, atol=1e-7)


# --- fog ----------------------------------------------------------------------------------------------


def test_plasma_fractal_equals_reference_given_the_same_draws(monkeypatch):
    """Same uniforms, same diamond-square: equal within float32 round-off (1e-6)."""
    size, decay = 64, 1.7
    flat = np.random.default_rng(0).random((1, size * size - 1)).astype(np.float32)
    monkeypatch.setattr(textures.tfr, "uniform", lambda seed, shape, low, high: low + (high - low) * flat)
    fractal = textures.plasma_fractal(tf.constant([0, 0], tf.int64), 1, size, tf.constant([decay]))[0].numpy()
    # The reference draws, per level, the centres, the top and the left midpoints in turn.
    queue = []
    for level in range(6):
        n = 1 << level
        queue += list(flat[0, n * n - 1 : 4 * n * n - 1].astype(np.float64).reshape(3, n, n))
    draws = iter(queue)
    monkeypatch.setattr(
        reference_module.np.random, "uniform", lambda low, high, shape: low + (high - low) * next(draws)
    )
    np.testing.assert_allclose(fractal, reference_module.plasma_fractal(size, decay), atol=1e-6)


def test_plasma_fractal_statistics():
    """Range exactly [0, 1] per map; mean, spread of means, contrast and roughness of 128 maps within
    0.03, 0.03, 0.015 and 15 % of 128 reference maps (measured: 0.013, 0.007, 0.004 and 5 %)."""
    count, size = 128, 64
    np.random.seed(0)
    for decay in (1.4, 3.0):
        maps = textures.plasma_fractal(tf.constant([5, 6], tf.int64), count, size, tf.fill([count], decay)).numpy()
        assert (maps.min(axis=(1, 2)) == 0).all() and (maps.max(axis=(1, 2)) == 1).all()
        expected = np.stack([reference_module.plasma_fractal(size, decay) for _ in range(count)])
        for got, want in [(maps, expected)]:
            assert abs(got.mean() - want.mean()) < 0.03
            assert abs(got.mean(axis=(1, 2)).std() - want.mean(axis=(1, 2)).std()) < 0.03
            assert abs(got.std(axis=(1, 2)).mean() - want.std(axis=(1, 2)).mean()) < 0.015
            roughness = [np.abs(np.diff(m, axis=2)).mean() for m in (got, want)]
            assert roughness[0] == pytest.approx(roughness[1], rel=0.15)


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_fog_statistics(photos, severity):
    """Over 3 photographs x 16 draws: mean change per channel within 10 levels of the reference's (the
    fractal's mean varies from draw to draw, 3 levels of standard error at severity 3: measured up to 5)
    and the images' contrast within 3 levels (measured up to 2.1)."""
    draws = 16
    change, contrast = change_and_contrast(ours(repeated(photos, draws), "fog", severity), repeated(photos, draws))
    want_change, want_contrast = change_and_contrast(theirs(photos, "fog", severity, draws), repeated(photos, draws))
    assert np.abs(change - want_change).max() < 10
    assert abs(contrast - want_contrast) < 3
    # Fog brightens the dark channels and flattens the images.
    assert change[2] > 10 and contrast < photos.astype(np.float64).std(axis=(1, 2, 3)).mean() - 10


# --- frost --------------------------------------------------------------------------------------------


def texture_statistics(textures_):
    """Mean per channel, mean standard deviation within an image per channel, spread of image means."""
    return (
        textures_.mean(axis=(0, 1, 2)),
        textures_.std(axis=(1, 2)).mean(axis=0),
        textures_.mean(axis=(1, 2)).std(axis=0),
    )


def test_frost_texture_resembles_the_reference_photographs():
    """The texture alone (frost on black, over its weight) on 64 x 64 images, 96 draws each: mean per
    channel within 0.05, within-image standard deviation within 0.02 and spread of image means within 0.05
    of the reference's crops of its photographs (measured: 0.01, 0.007, 0.03)."""
    count, weight = 96, 0.75
    black = np.zeros((count, 64, 64, 3), np.uint8)
    got = texture_statistics(ours(black, "frost", 5) / 255 / weight)
    np.random.seed(0)
    want = texture_statistics(
        np.stack([reference(image, corruption_name="frost", severity=5) for image in black]) / 255 / weight
    )
    for g, w, tolerance in zip(got, want, (0.05, 0.02, 0.05)):
        assert np.abs(g - w).max() < tolerance, (g, w)
    # Bright and slightly blue, as frost.
    assert got[0][2] > got[0][1] > got[0][0] > 0.4


def test_frost_blend_equals_reference_given_its_texture(photos, monkeypatch):
    """With the reference's own frost crop as the texture, frost equals the reference within 2 levels (the
    crop is recovered from the reference on a black image, truncated to uint8 there, and truncated again).
    The reference's crop depends only on its random state, so the same seed gives the same crop."""
    for severity in (1, 5):
        weight = weather.FROST["imagenet"][severity - 1][1]
        np.random.seed(severity)
        crops = [reference(np.zeros_like(image), corruption_name="frost", severity=severity) for image in photos]
        texture = tf.constant(np.stack(crops) / 255 / weight, tf.float32)
        monkeypatch.setattr(textures, "frost_texture", lambda seed, batch, height, width, scale: texture)
        np.random.seed(severity)
        expected = np.stack([reference(image, corruption_name="frost", severity=severity) for image in photos])
        assert np.abs(ours(photos, "frost", severity) - np.uint8(expected)).max() <= 2


def test_frost_statistics(photos):
    """Severity 5 over 3 photographs x 16 draws: the images' contrast within 4 levels of the reference's
    (measured 1), and mean change per channel within 24 levels (3 standard errors: the reference's
    photographs, and the texture's ground, differ in brightness by 0.2 from one draw to the next; measured 7)."""
    draws = 16
    change, contrast = change_and_contrast(ours(repeated(photos, draws), "frost", 5), repeated(photos, draws))
    want_change, want_contrast = change_and_contrast(theirs(photos, "frost", 5, draws), repeated(photos, draws))
    assert np.abs(change - want_change).max() < 24
    assert abs(contrast - want_contrast) < 4


# --- snow ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_snow_statistics(photos, severity):
    """Over 3 photographs x 4 draws: mean change per channel within 3 levels of the reference's and
    contrast within 2 levels (measured: up to 1.1 and 0.4)."""
    draws = 4
    images = repeated(photos, draws)
    change, contrast = change_and_contrast(ours(images, "snow", severity), images)
    want_change, want_contrast = change_and_contrast(theirs(photos, "snow", severity, draws), images)
    assert np.abs(change - want_change).max() < 3
    assert abs(contrast - want_contrast) < 2


@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
def test_snow_layer_statistics(severity):
    """On black images the output is the snow layer (plus its turn by 180 degrees) over a constant gray.
    Over 24 draws: the layer's mean within 5 levels of the reference's, its standard deviation within 5
    and the share of pixels it brightens by more than 8 levels within 0.05 (standard errors about 1.5,
    1.5 and 0.01: a zoomed layer has few independent values)."""
    black = np.zeros((24, *SHAPE, 3), np.uint8)
    base = (1 - weather.SNOW["imagenet"][severity - 1][6]) * 0.5 * 255

    def layer(out):
        layer = out[..., 0] - base
        return np.array([layer.mean(), layer.std(), (layer > 8).mean()])

    np.random.seed(severity)
    want = layer(np.stack([reference(image, corruption_name="snow", severity=severity) for image in black]) * 1.0)
    assert np.all(np.abs(layer(ours(black, "snow", severity)) - want) < [5, 5, 0.05])


# --- spatter ------------------------------------------------------------------------------------------


def reference_liquid(seed, severity, shape, table="imagenet"):
    """The reference's thresholded liquid layer for one severity."""
    c = weather.SPATTER[table][severity - 1]
    liquid = gaussian(np.random.default_rng(seed).normal(c[0], c[1], shape), sigma=c[2])
    liquid[liquid < c[3]] = 0
    return liquid


def reference_shading(levels):
    """The reference's OpenCV steps on a uint8 liquid layer."""
    distance = cv2.distanceTransform(255 - cv2.Canny(levels, 50, 150), cv2.DIST_L2, 5)
    _, distance = cv2.threshold(distance, 20, 20, cv2.THRESH_TRUNC)
    distance = cv2.equalizeHist(cv2.blur(distance, (3, 3)).astype(np.uint8))
    embossed = cv2.filter2D(distance, cv2.CV_8U, np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]))
    return cv2.blur(embossed, (3, 3)).astype(np.float32)


@pytest.mark.parametrize("table,shape", [("imagenet", SHAPE), ("cifar", (32, 32))])
def test_water_shading_equals_opencv(table, shape):
    """Given the same liquid layer, Canny's edges and the shading equal OpenCV's exactly."""
    layers = [reference_liquid(seed, severity, shape, table) for seed in range(2) for severity in (1, 2, 3)]
    levels = np.stack([(layer * 255).astype(np.uint8) for layer in layers])
    tensor = tf.constant(levels[..., None], tf.float32)
    edges = np.stack([cv2.Canny(level, 50, 150) > 0 for level in levels])
    np.testing.assert_array_equal(textures.canny(tensor).numpy()[..., 0], edges)
    np.testing.assert_array_equal(
        textures.water_shading(tensor).numpy()[..., 0], np.stack([reference_shading(x) for x in levels])
    )


def test_mud_cover_equals_reference():
    """Given the same liquid layer, the mud cover equals the reference's within 1e-5."""
    for severity in (4, 5):
        c = weather.SPATTER["imagenet"][severity - 1]
        liquid = reference_liquid(severity, severity, SHAPE)
        expected = gaussian(np.where(liquid > c[3], 1, 0).astype(np.float32), sigma=c[4])
        expected[expected < 0.8] = 0
        got = weather.mud_layer(tf.constant(liquid[None, ..., None], tf.float32), c[3], tf.constant([c[4]]), 1.5)
        np.testing.assert_allclose(got.numpy()[0, ..., 0], expected, atol=1e-5)


@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
def test_spatter_statistics(photos, severity):
    """Over 3 photographs x 4 draws: share of pixels changed by more than 2 levels within 0.03 of the
    reference's, mean change per channel within 1.5 levels or 15 % (measured: up to 0.02 and 1.1 levels)."""
    draws = 4
    images = repeated(photos, draws)
    got, want = ours(images, "spatter", severity), theirs(photos, "spatter", severity, draws)
    changed = [(np.abs(out - images) > 2).any(axis=-1).mean() for out in (got, want)]
    assert abs(changed[0] - changed[1]) < 0.03
    change, _ = change_and_contrast(got, images)
    want_change, _ = change_and_contrast(want, images)
    assert (np.abs(change - want_change) < np.maximum(1.5, 0.15 * np.abs(want_change))).all(), (change, want_change)
    # Water is pale turquoise (green and blue gain more than red); mud darkens.
    assert change[2] > change[0] > 0 if severity <= 3 else change.mean() < 0


# --- the contract -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small():
    """Five 32 x 40 RGB images in [0, 1] (float32), one per severity, and their gray."""
    rgb = skimage.transform.resize(skimage.data.astronaut(), (32, 40), anti_aliasing=True).astype(np.float32)
    rgb = np.stack([rgb, rgb[::-1], rgb[:, ::-1], rgb * 0.5, rgb**2])
    return tf.constant(rgb), tf.constant(rgb @ LUMA.astype(np.float32))[..., None]


SEVERITIES = tf.constant([1, 2, 3, 4, 5])
SEED = tf.constant([7, 11], tf.int64)


@pytest.mark.parametrize("table", TABLES[1:])
@pytest.mark.parametrize("name", NAMES)
def test_every_severity_runs(small, name, table):
    """The small-image tables, RGB and gray (`test_gray_is_the_gray_of_rgb` runs ImageNet's)."""
    for images in small:
        out = getattr(weather, name)(images, SEVERITIES, SEED, table).numpy()
        assert out.shape == images.shape and np.isfinite(out).all()


@pytest.mark.parametrize("name", NAMES)
def test_gray_is_the_gray_of_rgb(small, name):
    """A gray image gets what its RGB copy gets, reduced to gray (then clipped): the same value for the
    corruptions that add no colour, the luminance for frost and spatter (within 2e-4: the reference's
    luminance weights sum to 0.9999)."""
    _, gray = small
    rgb = tf.repeat(gray, 3, axis=-1)
    fn = getattr(weather, name)
    got, want = fn(gray, SEVERITIES, SEED, "imagenet").numpy(), fn(rgb, SEVERITIES, SEED, "imagenet").numpy()
    reduced = want @ LUMA if name in ("frost", "spatter") else want[..., 0]
    np.testing.assert_allclose(np.clip(got[..., 0], 0, 1), np.clip(reduced, 0, 1), atol=2e-4)


@pytest.mark.parametrize("name", NAMES)
def test_severity_per_image(small, name):
    """A batch with severities [1, 5] gives each image what it gets when the batch has its severity."""
    images = small[0][:2]
    fn = getattr(weather, name)
    mixed = fn(images, tf.constant([1, 5]), SEED, "imagenet").numpy()
    for index, severity in enumerate((1, 5)):
        alone = fn(images, tf.constant([severity, severity]), SEED, "imagenet").numpy()
        np.testing.assert_allclose(mixed[index], alone[index], atol=1e-5)


@pytest.mark.parametrize("name", NAMES[1:])
def test_seeds(small, name):
    """The same seed gives the same images, another seed other images."""
    images, severity = small[0][:2], tf.constant([2, 4])
    fn = getattr(weather, name)
    first = fn(images, severity, SEED, "imagenet").numpy()
    np.testing.assert_array_equal(first, fn(images, severity, SEED, "imagenet").numpy())
    other = fn(images, severity, tf.constant([7, 12], tf.int64), "imagenet").numpy()
    assert np.abs(first - other).mean() > 1e-3


@pytest.mark.parametrize(
    "name", [pytest.param(name, marks=pytest.mark.slow) if name == "snow" else name for name in NAMES]
)
def test_jit_compile_matches_eager(small, name):
    """Eager and `tf.function(jit_compile=True)` agree within 1e-4 (float32 round-off, XLA's elementary
    functions), on a batch of mixed severities and an unknown batch size. Snow's, whose compiled stages
    are the shared filters' (tested with them), takes longest to compile and runs with `-m slow`."""
    images = small[0][:3]
    severity = tf.constant([1, 3, 5])
    fn = getattr(weather, name)
    compiled = tf.function(
        lambda x, s, seed: fn(x, s, seed, "tiny_imagenet"),
        jit_compile=True,
        autograph=False,
        input_signature=[
            tf.TensorSpec([None, 32, 40, 3], tf.float32),
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([2], tf.int64),
        ],
    )
    eager = fn(images, severity, SEED, "tiny_imagenet").numpy()
    np.testing.assert_allclose(compiled(images, severity, SEED).numpy(), eager, atol=1e-4)
