"""AutoAugment and TrivialAugmentWide: per-sample sub-policy / op choice, probabilities, level mappings."""

import numpy as np
import pytest
import scipy.stats
import tensorflow as tf

from tests.policies.pil_reference import run_program
from tfaug import AutoAugment
from tfaug import TrivialAugmentWide
from tfaug.layers.trivial_augment_wide import OPS as TRIVIAL_OPS
from tfaug.policies.auto_augment import POLICIES
from tfaug.policies.levels import GEOMETRIC

SEED = tf.constant([11, 12], tf.int64)


def draw(layer, n, size=(4, 4)):
    return layer.get_random_transformation({"images": tf.zeros([n, *size, 3], tf.uint8)}, seed=SEED)


@pytest.mark.parametrize("policy", ["imagenet", "cifar10", "svhn"])
def test_sub_policy_is_chosen_per_image_and_ops_follow_their_probabilities(policy):
    layer = AutoAugment(policy, seed=0)
    n = 25000
    t = draw(layer, n)
    ids = t["op_ids"].numpy()
    # Expected rate of each op (by name) over both slots, from the table.
    expected = {}
    for sub in POLICIES[policy]:
        for name, p, _ in sub:
            expected[name] = expected.get(name, 0.0) + p / len(POLICIES[policy]) / 2
    for k, name in enumerate(layer.op_table):
        rate = np.mean(ids == k)
        sd = np.sqrt(expected[name] * (1 - expected[name]) / (2 * n))
        assert abs(rate - expected[name]) < 5 * sd + 1e-4, (name, rate, expected[name])


def test_imagenet_posterize_and_solarize_levels_use_the_named_mapping():
    layer = AutoAugment("imagenet", seed=0)
    t = draw(layer, 20000)
    ids, args = t["op_ids"].numpy(), t["arguments"].numpy()
    posterize = layer.op_table.index("posterize")
    # Posterize appears at levels 5..8 in the ImageNet policy: bits 8 - round(4 L / 9).
    seen = set(args[ids == posterize].astype(int))
    assert seen == {8 - round(4 * level / 9) for level in (5, 6, 7, 8)}
    solarize = layer.op_table.index("solarize")
    levels = {lv for sub in POLICIES["imagenet"] for name, _, lv in sub if name == "solarize"}
    assert set(args[ids == solarize].astype(int)) == {int(np.ceil(255 * (1 - lv / 9) - 1e-4)) for lv in levels}


def test_programs_without_geometry_match_pil(small_photos):
    images = np.concatenate([small_photos] * 6)
    layer = AutoAugment("imagenet", seed=0)
    t = layer.get_random_transformation({"images": tf.constant(images)}, seed=SEED)
    out = layer.augment(tf.constant(images), seed=SEED).numpy()
    ids, args = t["op_ids"].numpy(), t["arguments"].numpy()
    geometric = [layer.op_table.index(n) for n in layer.op_table if n in GEOMETRIC]
    plain = ~np.isin(ids, geometric).any(axis=1)
    assert plain.sum() >= 10
    expected = run_program(images[plain], layer.op_table, ids[plain], args[plain])
    np.testing.assert_array_equal(out[plain], expected)


def test_trivial_augment_draws_one_op_and_one_bin_uniformly():
    layer = TrivialAugmentWide(seed=0)
    t = draw(layer, 14000, size=(64, 64))
    ids = t["op_ids"].numpy().ravel()
    assert t["op_ids"].shape == (14000, 1)
    assert scipy.stats.chisquare(np.bincount(ids, minlength=14)).pvalue > 1e-3
    rotate = np.abs(t["arguments"].numpy().ravel()[ids == TRIVIAL_OPS.index("rotate")])
    bins = np.round(rotate / 135.0 * 30).astype(int)
    np.testing.assert_allclose(rotate, bins * 135.0 / 30, atol=1e-4)  # on the 31-bin grid
    assert scipy.stats.chisquare(np.bincount(bins, minlength=31)).pvalue > 1e-3
    assert rotate.max() == pytest.approx(135.0)  # wide range
    translate = np.abs(t["arguments"].numpy().ravel()[ids == TRIVIAL_OPS.index("translate_x")])
    assert translate.max() == pytest.approx(32.0)  # absolute pixels, whatever the size


def test_trivial_augment_programs_without_geometry_match_pil(small_photos):
    images = np.concatenate([small_photos] * 5)
    layer = TrivialAugmentWide(seed=0)
    t = layer.get_random_transformation({"images": tf.constant(images)}, seed=SEED)
    out = layer.augment(tf.constant(images), seed=SEED).numpy()
    ids, args = t["op_ids"].numpy(), t["arguments"].numpy()
    plain = ~np.isin(ids, [TRIVIAL_OPS.index(n) for n in GEOMETRIC]).any(axis=1)
    expected = run_program(images[plain], TRIVIAL_OPS, ids[plain], args[plain])
    np.testing.assert_array_equal(out[plain], expected)


def test_reproducible_per_image_and_identity_at_inference(small_photos):
    for make in (lambda: AutoAugment("svhn", seed=3), lambda: TrivialAugmentWide(seed=3)):
        a, b = make(), make()
        np.testing.assert_array_equal(a(small_photos), b(small_photos))
        np.testing.assert_array_equal(a(small_photos, training=False), small_photos)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: AutoAugment("reduced_imagenet"), "policy"),
        (lambda: AutoAugment(fill_value=-1), "fill_value"),
        (lambda: TrivialAugmentWide(num_magnitude_bins=1), "num_magnitude_bins"),
        (lambda: TrivialAugmentWide(interpolation="area"), "interpolation"),
    ],
)
def test_bad_arguments_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()
