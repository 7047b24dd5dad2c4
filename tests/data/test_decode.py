"""Per-element decoding: the random resized crop fused with JPEG decoding, other formats, the eval centre crop."""

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import tfaug
from tfaug.data import decode_center_crop
from tfaug.data import decode_random_resized_crop
from tfaug.ops import crops


@pytest.fixture(scope="module")
def pictures(photos):
    """Two photos at 48x64 and 60x44 (uint8) and their JPEG (quality 90), PNG, BMP and GIF bytes."""
    from skimage.transform import resize

    arrays = [
        np.round(resize(photos[name], shape, preserve_range=True, anti_aliasing=True)).astype(np.uint8)
        for name, shape in (("chelsea", (48, 64)), ("astronaut", (60, 44)))
    ]

    def encoded(array, fmt):
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
        return buffer.getvalue()

    return arrays, {fmt: [encoded(a, fmt) for a in arrays] for fmt in ("JPEG", "PNG", "BMP", "GIF")}


def window_for(fn, index, height, width, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    seed = fn.seed_generator.for_index(index)
    return crops.random_resized_crop_windows(seed, [height], [width], scale, ratio).numpy()[0]


def test_fused_jpeg_path_equals_decoding_then_cropping(pictures):
    arrays, encoded = pictures
    fn = decode_random_resized_crop((20, 24), seed=3)
    layer = tfaug.layers.RandomResizedCrop((20, 24), seed=3)
    differences = []
    for picture, jpeg in zip(arrays, encoded["JPEG"]):
        full = tf.io.decode_jpeg(jpeg, channels=3)
        for index in range(8):
            out = fn(tf.constant(index, tf.int64), jpeg).numpy()
            assert out.dtype == np.uint8 and out.shape == (20, 24, 3)
            top, left, h, w = window_for(fn, index, *picture.shape[:2])
            crop = tf.cast(full[top : top + h, left : left + w], tf.float32)
            decoded_then_cropped = np.clip(np.round(tf.image.resize(crop, (20, 24)).numpy()), 0, 255)
            # The same window as the layer draws for the decoded image with the element's seed.
            same_seed = layer.augment(full, seed=fn.seed_generator.for_index(index)).numpy()
            np.testing.assert_allclose(same_seed, decoded_then_cropped, atol=1)
            differences.append(np.abs(out.astype(float) - decoded_then_cropped))
    differences = np.stack(differences)
    # JPEG's tolerance: decoding a window upsamples chroma at its edges from fewer neighbours.
    assert differences.max() <= 12 and differences.mean() < 0.5, (differences.max(), differences.mean())
    assert (differences == 0).mean() > 0.8


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "GIF"])
def test_other_formats_are_decoded_whole_then_cropped(pictures, fmt):
    arrays, encoded = pictures
    fn = decode_random_resized_crop(16, interpolation="bicubic", seed=0)
    for picture, data in zip(arrays, encoded[fmt]):
        full = tf.io.decode_image(data, channels=3, expand_animations=False)
        if fmt != "GIF":  # GIF's palette is lossy; the others give the pixels back
            np.testing.assert_array_equal(full, picture)
        top, left, h, w = window_for(fn, 5, *picture.shape[:2])
        resized = tf.image.resize(tf.cast(full[top : top + h, left : left + w], tf.float32), (16, 16), "bicubic")
        expected = np.clip(np.round(np.clip(resized.numpy(), 0, 255)), 0, 255)
        np.testing.assert_array_equal(fn(tf.constant(5), data), expected)


def test_seeds_counter_index_and_pass_through(pictures):
    _, encoded = pictures
    jpeg = encoded["JPEG"][0]
    fn = decode_random_resized_crop(12, seed=1)
    first, second = fn(jpeg).numpy(), fn(jpeg).numpy()
    assert not np.array_equal(first, second)  # the counter moves on
    np.testing.assert_array_equal(decode_random_resized_crop(12, seed=1)(jpeg), first)
    image, label = fn(tf.constant(4, tf.int64), (jpeg, tf.constant(7)))
    np.testing.assert_array_equal(image, fn(tf.constant(4, tf.int64), jpeg))
    assert int(label) == 7
    image, label = fn(jpeg, tf.constant(7))
    assert image.shape == (12, 12, 3) and int(label) == 7
    with pytest.raises(ValueError, match="one encoded image"):
        fn(tf.zeros([4, 4, 3], tf.uint8))


def test_parallel_pipeline_is_reproducible_with_enumerate(pictures):
    _, encoded = pictures
    files = encoded["JPEG"] + encoded["PNG"]
    labels = np.arange(len(files))

    def run():
        dataset = tf.data.Dataset.from_tensor_slices((files, labels)).repeat(2).enumerate()
        dataset = dataset.map(decode_random_resized_crop(8, seed=2), num_parallel_calls=2, deterministic=False)
        return sorted((int(y), x.tobytes()) for x, y in dataset.as_numpy_iterator())

    batches = run()
    assert batches == run() and len(batches) == 8
    assert len({x for _, x in batches}) == 8  # every element its own window


def test_decode_center_crop_is_timm_eval_transform(pictures):
    arrays, encoded = pictures
    fn = decode_center_crop(16, crop_pct=0.875)
    # 48x64: shorter side to floor(16 / 0.875) = 18 -> 18x24; centre 16x16 at round(1.0), round(4.0).
    full = tf.cast(tf.io.decode_png(encoded["PNG"][0], channels=3), tf.float32)
    expected = np.clip(np.round(tf.image.resize(full, (18, 24)).numpy()[1:17, 4:20]), 0, 255)
    np.testing.assert_array_equal(fn(encoded["PNG"][0]), expected)
    # 60x44: 24x18 -> rows round(4.0) = 4, columns round(1.0) = 1.
    full = tf.cast(tf.io.decode_png(encoded["PNG"][1], channels=3), tf.float32)
    expected = np.clip(np.round(tf.image.resize(full, (24, 18)).numpy()[4:20, 1:17]), 0, 255)
    np.testing.assert_array_equal(fn(encoded["PNG"][1]), expected)
    # JPEG bytes and a non-square size: both sides resized to floor(side / crop_pct), as timm.
    out, label = decode_center_crop((8, 12), crop_pct=0.5)(encoded["JPEG"][0], tf.constant(1))
    assert out.shape == (8, 12, 3) and out.dtype == tf.uint8 and int(label) == 1


def test_small_and_gray_images_are_resized_up(pictures):
    gray = tf.io.encode_png(np.full([3, 5, 1], 200, np.uint8))
    for fn in (decode_center_crop(32), decode_random_resized_crop(32, seed=0)):
        out = fn(gray).numpy()
        assert out.shape == (32, 32, 3)
        np.testing.assert_array_equal(out, 200)


def test_undecodable_bytes_raise_when_the_element_runs(pictures):
    _, encoded = pictures
    truncated = encoded["JPEG"][0][: len(encoded["JPEG"][0]) // 2]
    for fn in (decode_random_resized_crop(8, seed=0), decode_center_crop(8)):
        with pytest.raises(tf.errors.InvalidArgumentError, match="Unknown image file format"):
            fn(b"not an image")
    with pytest.raises(tf.errors.InvalidArgumentError, match="Invalid JPEG data"):
        decode_random_resized_crop(8, seed=0)(truncated)
    # In a pipeline, `ignore_errors` skips them.
    dataset = tf.data.Dataset.from_tensor_slices([encoded["JPEG"][0], b"junk", encoded["PNG"][1]])
    dataset = dataset.map(decode_random_resized_crop(8, seed=0)).ignore_errors()
    assert len(list(dataset)) == 2


def test_bad_arguments_are_refused_by_name():
    bad = {
        "size": [0, (4, 0), 2.5, None, True],
        "scale": [(0.5, 0.2), (0.0, 1.0), (0.5, 1.5), 0.5],
        "ratio": [(2.0, 1.0), (0.0, 1.0), (1.0, float("nan"))],
        "interpolation": ["area"],
        "antialias": [1],
    }
    for name, values in bad.items():
        for value in values:
            with pytest.raises(ValueError, match=f"`{name}`"):
                decode_random_resized_crop(**{"size": 8, name: value})
    for name, value in [
        ("size", -1),
        ("crop_pct", 0.0),
        ("crop_pct", 1.5),
        ("crop_pct", float("nan")),
        ("crop_pct", True),
        ("interpolation", "lanczos"),
        ("antialias", "yes"),
    ]:
        with pytest.raises(ValueError, match=f"`{name}`"):
            decode_center_crop(**{"size": 8, name: value})
