"""Pixelate and JPEG compression against `imagecorruptions` and PIL on scikit-image photos.

Tolerances (uint8 photos through `corrupt`, every severity of every table):
- pixelate equals the reference exactly (max abs difference 0): `imagecorruptions` for ImageNet-C's
  scales, and PIL's BOX-then-BOX resize of the CIFAR-10-C and Tiny-ImageNet-C scripts for theirs at
  32 and 64 pixels;
- JPEG equals PIL's round trip (libjpeg-turbo, `save(quality=q)` then `open`) exactly (max abs difference
  0, so mean 0) at every quality of the three tables (80, 65, 58, 50, 40, 25, 18, 15, 10, 7), on photos
  of even and odd sizes, and on noise images at qualities 1 to 100; gray images equal the reference's RGB
  round trip of the gray image.
Both are deterministic: the seed changes nothing.
"""

import io

import imagecorruptions
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfaug.corruptions import compression
from tfaug.corruptions import corrupt
from tfaug.corruptions import jpeg

NAMES = ("pixelate", "jpeg_compression")
SEVERITIES = [1, 2, 3, 4, 5]


def seed(a, b=0):
    return tf.constant([a, b], tf.int64)


def resized(shape):
    """astronaut, chelsea, coffee, astronaut, chelsea resized to `shape`: a uint8 batch of 5."""
    from skimage import data
    from skimage.transform import resize

    images = [
        resize(f(), shape, anti_aliasing=True, preserve_range=True) for f in (data.astronaut, data.chelsea, data.coffee)
    ]
    return np.round(np.stack(images + images[:2])).astype(np.uint8)


@pytest.fixture(scope="module")
def photos():
    """Two batches of 5 uint8 photos, one per severity: 64 x 96 and an odd 45 x 71."""
    return [resized((64, 96)), resized((45, 71))]


def pil_jpeg(image, quality):
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=quality)
    return np.array(Image.open(buffer))


def script_pixelate(image, scale):
    """The CIFAR-10-C / Tiny-ImageNet-C scripts' pixelate: BOX down, BOX back up."""
    side = image.shape[0]
    small = Image.fromarray(image).resize((int(side * scale), int(side * scale)), Image.BOX)
    return np.array(small.resize((side, side), Image.BOX))


# -- against the reference ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_equals_the_reference_on_photos(photos, name):
    for batch in photos:
        ours = corrupt(batch, name, SEVERITIES, seed=0, table="imagenet").numpy()
        want = [imagecorruptions.corrupt(x, corruption_name=name, severity=s) for x, s in zip(batch, SEVERITIES)]
        np.testing.assert_array_equal(ours, np.stack(want))


@pytest.mark.parametrize("name", NAMES)
def test_gray_equals_the_reference_on_the_gray_image(photos, name):
    """The reference corrupts a gray image as RGB (and returns RGB, R = G = B here); tfaug returns gray."""
    gray = np.array([np.array(Image.fromarray(x).convert("L")) for x in photos[1]])
    ours = corrupt(gray[..., None], name, SEVERITIES, seed=0, table="imagenet").numpy()
    want = np.stack([imagecorruptions.corrupt(x, corruption_name=name, severity=s) for x, s in zip(gray, SEVERITIES)])
    np.testing.assert_array_equal(want, np.repeat(want[..., :1], 3, axis=-1))
    np.testing.assert_array_equal(ours, want[..., :1])


@pytest.mark.parametrize("table, side", [("cifar", 32), ("tiny_imagenet", 64)])
def test_pixelate_small_tables_equal_their_scripts(table, side):
    batch = resized((side, side))
    ours = corrupt(batch, "pixelate", SEVERITIES, seed=0, table=table).numpy()
    scales = compression.PIXELATE_SCALES[table]
    np.testing.assert_array_equal(ours, np.stack([script_pixelate(x, c) for x, c in zip(batch, scales)]))


@pytest.mark.parametrize("table", ["tiny_imagenet", "cifar"])
def test_jpeg_small_tables_equal_pil(photos, table):
    batch = photos[1]
    ours = corrupt(batch, "jpeg_compression", SEVERITIES, seed=0, table=table).numpy()
    qualities = compression.JPEG_QUALITIES[table]
    np.testing.assert_array_equal(ours, np.stack([pil_jpeg(x, q) for x, q in zip(batch, qualities)]))


def test_jpeg_round_trip_equals_pil_on_noise_at_every_quality():
    """Uniform noise (the largest coefficients) at small, odd sizes, qualities 1..100 (clamped tables
    included)."""
    rng = np.random.default_rng(0)
    qualities = np.arange(1, 101)
    for shape in [(9, 17), (24, 40)]:
        noise = rng.integers(0, 256, (len(qualities),) + shape + (3,), dtype=np.uint8)
        tables = np.array([jpeg.quantization_tables(q) for q in qualities], np.float32)
        ours = jpeg.round_trip(tf.constant(noise / 255.0, tf.float32), tables[:, 0], tables[:, 1]).numpy()
        want = np.stack([pil_jpeg(x, int(q)) for x, q in zip(noise, qualities)])
        np.testing.assert_array_equal(np.round(ours * 255.0), want)


def test_quantization_tables_are_libjpegs():
    for quality in [1, 7, 10, 15, 18, 25, 40, 49, 50, 51, 58, 65, 80, 99, 100]:
        buffer = io.BytesIO()
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buffer, "JPEG", quality=quality)
        luminance, chrominance = Image.open(buffer).quantization.values()
        ours = jpeg.quantization_tables(quality)
        assert list(ours[0].ravel()) == list(luminance) and list(ours[1].ravel()) == list(chrominance)


def test_pil_resize_rules():
    """The BOX weights and NEAREST indices are PIL's, on a ramp, for sizes with exact ties included."""
    for size_in, size_out in [(33, 8), (36, 24), (45, 13), (64, 38)]:
        ramp = np.arange(size_in, dtype=np.int32)[None]
        nearest = np.array(Image.fromarray(ramp[:, :size_out], "I").resize((size_in, 1), Image.NEAREST))[0]
        np.testing.assert_array_equal(compression.nearest_index(size_out, size_in), nearest)
        levels = np.random.default_rng(size_in).integers(0, 256, (1, size_in), dtype=np.uint8)
        box = np.array(Image.fromarray(levels).resize((size_out, 1), Image.BOX))[0]
        windows, weights = compression.box_windows(size_in, size_out)
        np.testing.assert_array_equal(np.floor(windows @ levels[0] * weights + 0.5), box)


# -- batch behaviour ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("channels", [1, 3])
def test_every_severity_runs(photos, name, channels):
    images = tf.constant(photos[1][..., :channels], tf.float32) / 255.0
    out = getattr(compression, name)(images, tf.constant(SEVERITIES), seed(0), "imagenet").numpy()
    assert out.shape == images.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    changes = np.abs(out - images.numpy()).mean(axis=(1, 2, 3))
    assert np.all(changes > 0)


@pytest.mark.parametrize("name", NAMES)
def test_severity_per_image_and_seed(photos, name):
    batch = photos[0][:2]
    both = corrupt(batch, name, [1, 5], seed=0).numpy()
    np.testing.assert_array_equal(both[0], corrupt(batch[:1], name, 1, seed=7).numpy()[0])
    np.testing.assert_array_equal(both[1], corrupt(batch[1:], name, 5, seed=0).numpy()[0])
    np.testing.assert_array_equal(both, corrupt(batch, name, [1, 5], seed=123).numpy())


@pytest.mark.parametrize("name, channels", [("pixelate", 3), ("jpeg_compression", 3), ("jpeg_compression", 1)])
def test_jit_compile_equals_eager(photos, name, channels):
    images = tf.constant(photos[1][:3, ..., :channels], tf.float32) / 255.0
    severity = tf.constant([1, 3, 5])
    fn = getattr(compression, name)
    spec = [tf.TensorSpec([None, *images.shape[1:]]), tf.TensorSpec([None], tf.int32)]
    compiled = tf.function(lambda x, s: fn(x, s, seed(0), "imagenet"), jit_compile=True, input_signature=spec)
    np.testing.assert_allclose(compiled(images, severity), fn(images, severity, seed(0), "imagenet"), atol=1e-6)
