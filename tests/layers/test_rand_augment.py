"""RandAugment: per-sample op choice, magnitudes, PIL-exact programs, configuration strings."""

import numpy as np
import pytest
import scipy.stats
import tensorflow as tf
from PIL import Image

from tests.policies.pil_reference import run_program
from tfaug import RandAugment
from tfaug.layers.rand_augment import DEFAULT_OPS

PIXEL_OPS = (
    "identity",
    "auto_contrast",
    "equalize",
    "invert",
    "posterize",
    "solarize",
    "solarize_add",
    "color",
    "contrast",
    "brightness",
    "sharpness",
)
SEED = tf.constant([3, 4], tf.int64)


def draw(layer, n, size=(4, 4)):
    return layer.get_random_transformation({"images": tf.zeros([n, *size, 3], tf.uint8)}, seed=SEED)


def test_program_of_pixel_ops_matches_pil_applied_in_sequence(small_photos):
    images = np.concatenate([small_photos] * 4)  # 16 images, uint8 24x40
    layer = RandAugment(num_ops=3, magnitude=7, magnitude_std=2.0, ops=PIXEL_OPS, seed=0)
    t = layer.get_random_transformation({"images": tf.constant(images)}, seed=SEED)
    out = layer.augment(tf.constant(images), seed=SEED).numpy()
    expected = run_program(images, PIXEL_OPS, t["op_ids"].numpy(), t["arguments"].numpy())
    assert len(set(t["op_ids"].numpy().ravel())) >= 8  # many different ops were exercised
    np.testing.assert_array_equal(out, expected)


def test_geometric_ops_of_an_image_compose_into_one_exact_translation(small_photos):
    images = np.stack([np.asarray(Image.fromarray(p).resize((40, 20))) for p in small_photos] * 3)
    layer = RandAugment(num_ops=2, magnitude=10, ops=("translate_x", "translate_y"), seed=0)
    t = layer.get_random_transformation({"images": tf.constant(images)}, seed=SEED)
    out = layer.augment(tf.constant(images), seed=SEED).numpy()
    ids, args = t["op_ids"].numpy(), t["arguments"].numpy()
    for image, result, i, a in zip(images, out, ids, args):
        tx = sum(v for k, v in zip(i, a) if k == 0)
        ty = sum(v for k, v in zip(i, a) if k == 1)
        assert tx == int(tx) and ty == int(ty)  # 0.45 of 40 and of 20 pixels
        coefficients = (1, 0, int(tx), 0, 1, int(ty))
        expected = Image.fromarray(image).transform((40, 20), Image.AFFINE, coefficients, fillcolor=(128,) * 3)
        np.testing.assert_array_equal(result, np.asarray(expected))


def test_op_choice_is_uniform_per_image_and_slot():
    t = draw(RandAugment(num_ops=2, seed=0), 2800)
    counts = np.bincount(t["op_ids"].numpy().ravel(), minlength=len(DEFAULT_OPS))
    assert scipy.stats.chisquare(counts).pvalue > 1e-3
    # Slots are independent: the pair (slot 0, slot 1) is uniform over 14 x 14.
    pairs = t["op_ids"].numpy() @ np.array([len(DEFAULT_OPS), 1])
    assert scipy.stats.chisquare(np.bincount(pairs, minlength=len(DEFAULT_OPS) ** 2)).pvalue > 1e-3


def test_signs_are_fair_and_magnitude_is_shared():
    layer = RandAugment(num_ops=1, magnitude=9, ops=("rotate",), seed=0)
    angles = draw(layer, 4000)["arguments"].numpy().ravel()
    np.testing.assert_allclose(np.abs(angles), 27.0, rtol=1e-6)
    assert abs((angles > 0).mean() - 0.5) < 0.03


def test_magnitude_noise_statistics():
    layer = RandAugment(num_ops=1, magnitude=5, magnitude_std=1.0, ops=("rotate",), seed=0)
    magnitude = np.abs(draw(layer, 20000)["arguments"].numpy().ravel()) / 3.0  # rotate = 3 degrees per unit
    assert magnitude.mean() == pytest.approx(5.0, abs=0.03)
    assert magnitude.std() == pytest.approx(1.0, abs=0.03)
    clipped = RandAugment(num_ops=1, magnitude=9.5, magnitude_std=2.0, ops=("rotate",), seed=0)
    m = np.abs(draw(clipped, 20000)["arguments"].numpy().ravel()) / 3.0
    assert m.max() <= 10.0 + 1e-5
    assert np.mean(m > 10.0 - 1e-4) == pytest.approx(scipy.stats.norm.sf(0.25), abs=0.02)
    uniform = RandAugment(num_ops=1, magnitude=8, magnitude_std=float("inf"), ops=("rotate",), seed=0)
    u = np.abs(draw(uniform, 20000)["arguments"].numpy().ravel()) / 3.0
    assert scipy.stats.kstest(u, scipy.stats.uniform(0, 8).cdf).pvalue > 1e-3


def test_probability_skips_slots():
    t = draw(RandAugment(num_ops=2, probability=0.3, seed=0), 5000)
    assert np.mean(t["op_ids"].numpy() >= 0) == pytest.approx(0.3, abs=0.015)
    assert np.all(draw(RandAugment(probability=0.0, seed=0), 50)["op_ids"].numpy() == -1)


def test_every_image_gets_its_own_ops(photos):
    image = np.asarray(Image.fromarray(photos["coffee"]).resize((48, 32)))
    # With noisy magnitudes and no magnitude-free op, equal outputs would mean shared draws.
    ops = tuple(op for op in DEFAULT_OPS if op not in ("identity", "auto_contrast", "equalize"))
    layer = RandAugment(num_ops=2, magnitude=9, magnitude_std=1.0, ops=ops, seed=1)
    out = layer(np.stack([image] * 16)).numpy()
    assert len({row.tobytes() for row in out.reshape(16, -1)}) == 16


def test_batchwise_gives_every_image_the_same_program(small_photos):
    images = np.stack([small_photos[0]] * 6)
    out = RandAugment(num_ops=2, magnitude=9, batchwise=True, seed=2)(images).numpy()
    assert all(np.array_equal(out[0], o) for o in out[1:])


def test_float_input_gives_the_uint8_result_on_its_levels(small_photos):
    layer_u8 = RandAugment(num_ops=2, magnitude=9, seed=5)
    layer_f = RandAugment(num_ops=2, magnitude=9, value_range=(0, 1), seed=5)
    out_u8 = layer_u8(small_photos).numpy()
    out_f = layer_f(small_photos.astype(np.float32) / 255.0).numpy()
    assert out_f.dtype == np.float32
    np.testing.assert_array_equal(np.round(out_f * 255.0).astype(np.uint8), out_u8)


def test_seed_reproducibility_and_inference_identity(small_photos):
    a = RandAugment(seed=7)(small_photos).numpy()
    b_layer = RandAugment(seed=7)
    b = b_layer(small_photos).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, b_layer(small_photos).numpy())
    np.testing.assert_array_equal(RandAugment(seed=7)(small_photos, training=False), small_photos)


def test_config_string_is_parsed_strictly():
    layer = RandAugment.from_string("rand-n3-m7-mstd0.5-p0.8", seed=0)
    assert (layer.num_ops, layer.magnitude, layer.magnitude_std, layer.probability) == (3, 7.0, 0.5, 0.8)
    assert RandAugment.from_string("rand-m9-mstdinf").magnitude_std == float("inf")
    assert RandAugment.from_string("rand-m9", magnitude_scale="timm").num_ops == 2
    for bad, match in [
        ("rand-n2-m9-x1", "cannot parse"),
        ("rand-m9-m8", "twice"),
        ("randaug-m9", "start with"),
        ("rand-n2.5", "int"),
        ("rand-minf", "inf"),
        ("rand-m11", "magnitude"),
        ("rand-m9-", "cannot parse"),
        ("auto-m9", "config"),
        (9, "config"),
    ]:
        with pytest.raises(ValueError, match=match):
            RandAugment.from_string(bad)
    with pytest.raises(ValueError, match="both set"):
        RandAugment.from_string("rand-m9", magnitude=5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"ops": ["rotate", "swirl"]}, "unknown op names"),
        ({"ops": []}, "ops"),
        ({"magnitude": 11}, "magnitude"),
        ({"magnitude": 31, "magnitude_scale": "torchvision"}, "magnitude"),
        ({"magnitude_scale": "keras"}, "magnitude_scale"),
        ({"magnitude_std": -1}, "magnitude_std"),
        ({"num_ops": -1}, "num_ops"),
        ({"probability": 1.5}, "probability"),
        ({"fill_value": 300}, "fill_value"),
        ({"interpolation": "cubic"}, "interpolation"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RandAugment(**kwargs)


def test_colour_op_on_images_neither_rgb_nor_gray_raises():
    with pytest.raises(ValueError, match=r"RGB \(3 channels\) or gray \(1 channel\)"):
        RandAugment(seed=0)(np.zeros((2, 8, 8, 4), np.uint8))
    # Without the colour op, any channel count works.
    out = RandAugment(ops=("rotate", "equalize", "solarize"), seed=0)(np.zeros((2, 8, 8, 4), np.uint8))
    assert out.shape == (2, 8, 8, 4)


def test_values_outside_value_range_raise_in_eager_mode():
    with pytest.raises(ValueError, match="value_range"):
        RandAugment(value_range=(0, 1), seed=0)(np.full((2, 8, 8, 3), 3.0, np.float32))


# Traces the program for two image shapes: the slow profile.
@pytest.mark.slow
def test_gray_images_get_the_program_of_their_rgb_copy(small_photos):
    # PIL's mode "L": colour is the identity, and every other op acts on the one channel as it acts on each
    # channel of an RGB image whose channels are equal (its gray is that channel).
    gray = small_photos[..., :1]
    layer = RandAugment(num_ops=3, magnitude=7, magnitude_std=2.0, ops=PIXEL_OPS + ("rotate", "cutout"), seed=0)
    out_gray = layer.augment(tf.constant(gray), seed=SEED).numpy()
    out_rgb = layer.augment(tf.constant(np.repeat(gray, 3, axis=-1)), seed=SEED).numpy()
    assert out_gray.shape == gray.shape
    np.testing.assert_array_equal(out_gray[..., 0], out_rgb[..., 0])
    np.testing.assert_array_equal(out_rgb[..., 0], out_rgb[..., 2])
