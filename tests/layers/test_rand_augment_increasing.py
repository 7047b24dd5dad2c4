"""RandAugment's `inc1`: timm's increasing op set, each op's argument against timm's level functions and PIL."""

import numpy as np
import pytest
import tensorflow as tf

from tests.policies.pil_reference import apply_op
from tests.policies.pil_reference import run_program
from tfaug import RandAugment
from tfaug.layers.rand_augment import DEFAULT_OPS
from tfaug.layers.rand_augment import INCREASING_OPS
from tfaug.policies import levels

SEED = tf.constant([5, 6], tf.int64)
ENHANCERS = ("color", "contrast", "brightness", "sharpness")


def timm_argument(name, magnitude, sign, height, width):
    """timm's `LEVEL_TO_ARG` of the increasing set, written out (level / 10 is the fraction)."""
    f = magnitude / 10.0
    if name == "rotate":
        return sign * 30.0 * f
    if name in ("shear_x", "shear_y"):
        return sign * 0.3 * f
    if name == "translate_x":
        return sign * 0.45 * f * width
    if name == "translate_y":
        return sign * 0.45 * f * height
    if name == "posterize_increasing":
        return 4 - int(f * 4)
    if name == "solarize":
        return 256 - min(256, int(f * 256))
    if name == "solarize_add":
        return min(128, int(f * 110))
    if name in ENHANCERS:
        return max(0.1, 1.0 + sign * 0.9 * f)
    return 0.0  # auto_contrast, equalize, invert


def test_inc1_selects_timms_increasing_set():
    layer = RandAugment.from_string("rand-m9-mstd0.5-inc1", seed=0)
    assert layer.ops == INCREASING_OPS and len(INCREASING_OPS) == 15
    assert (layer.num_ops, layer.magnitude, layer.magnitude_std, layer.magnitude_scale) == (2, 9.0, 0.5, "timm")
    assert "identity" not in INCREASING_OPS and {"invert", "solarize_add"} <= set(INCREASING_OPS)
    assert RandAugment.from_string("rand-m9-inc0").ops == DEFAULT_OPS
    assert RandAugment.from_config(layer.get_config()).ops == INCREASING_OPS
    for bad, match in [("rand-m9-inc2", "inc0 or inc1"), ("rand-inc1-m9-inc1", "twice"), ("rand-inc1.5", "inc")]:
        with pytest.raises(ValueError, match=match):
            RandAugment.from_string(bad)
    with pytest.raises(ValueError, match="both set"):
        RandAugment.from_string("rand-m9-inc1", ops=["rotate"])


@pytest.mark.parametrize("name", INCREASING_OPS)
def test_every_increasing_op_argument_is_timms(name):
    height, width = 30, 50
    magnitudes = np.arange(0, 10.25, 0.25)
    for sign in (1.0, -1.0):
        got = levels.argument(
            name,
            tf.constant(magnitudes / 10.0, tf.float32),
            tf.fill([len(magnitudes)], sign),
            "timm",
            height,
            width,
        ).numpy()
        expected = [timm_argument(name, m, sign, height, width) for m in magnitudes]
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-5)


def test_posterize_increasing_is_stronger_than_posterize_at_m9():
    f = tf.constant([0.9])
    one = tf.constant([1.0])
    assert levels.argument("posterize_increasing", f, one, "timm", 8, 8).numpy()[0] == 1  # 4 - floor(3.6)
    assert levels.argument("posterize", f, one, "timm", 8, 8).numpy()[0] == 5  # 8 - floor(3.6)


# The new op in the default run; the ops tfaug had before, already checked against PIL, in the slow one.
@pytest.mark.parametrize(
    "name",
    ["posterize_increasing"]
    + [pytest.param(name, marks=pytest.mark.slow) for name in ("solarize", "solarize_add", *ENHANCERS)],
)
def test_increasing_ops_equal_pil_and_grow_with_the_magnitude(name, small_photos):
    images = small_photos  # 4 photos, 24x40
    change = []
    for magnitude in (0, 3, 6, 9, 10):
        layer = RandAugment(num_ops=1, magnitude=magnitude, ops=(name,), seed=0)
        t = layer.get_random_transformation({"images": tf.constant(images)}, seed=SEED)
        out = layer.augment(tf.constant(images), seed=SEED).numpy()
        arguments = t["arguments"].numpy()[:, 0]
        for image, result, argument in zip(images, out, arguments):
            sign = 1.0 if argument >= 1.0 else -1.0  # the enhancers' drawn sign (the others ignore it)
            expected = timm_argument(name, magnitude, sign, *image.shape[:2])
            assert argument == pytest.approx(expected, abs=1e-5)
            # Bit-exact with PIL at the layer's float32 argument; timm's float64 factor can round a level apart.
            np.testing.assert_array_equal(result, apply_op(image, name, argument))
            assert np.abs(result.astype(int) - apply_op(image, name, expected)).max() <= 1
        change.append(np.abs(out.astype(int) - images).mean(axis=(1, 2, 3)))
    change = np.array(change)  # [magnitude, image]
    if name != "posterize_increasing":  # which keeps 4 bits at magnitude 0, as timm's does
        np.testing.assert_array_equal(change[0], 0)  # magnitude 0 is the identity
    assert np.all(np.diff(change, axis=0) >= 0) and np.all(change[-1] > change[1])


@pytest.mark.slow
def test_inc1_program_of_pixel_ops_matches_pil_in_sequence(small_photos):
    images = np.concatenate([small_photos] * 4)
    pixel_ops = tuple(op for op in INCREASING_OPS if op not in levels.GEOMETRIC)
    layer = RandAugment(num_ops=3, magnitude=9, magnitude_std=0.5, ops=pixel_ops, seed=1)
    t = layer.get_random_transformation({"images": tf.constant(images)}, seed=SEED)
    out = layer.augment(tf.constant(images), seed=SEED).numpy()
    expected = run_program(images, pixel_ops, t["op_ids"].numpy(), t["arguments"].numpy())
    assert "posterize_increasing" in {pixel_ops[i] for i in t["op_ids"].numpy().ravel() if i >= 0}
    np.testing.assert_array_equal(out, expected)
