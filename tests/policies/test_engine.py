"""The policy engine's shortcuts, checked against the plain computation they replace."""

import numpy as np
import pytest
import tensorflow as tf

from tests.policies.pil_reference import run_program
from tfaug import AugMix
from tfaug.policies import chains
from tfaug.policies import engine

SEED = tf.constant([7, 8], tf.int64)
# Tables before auto_contrast: increasing (posterize, brightness, contrast, equalize), decreasing (invert),
# neither (solarize, solarize_add): the monotone ones take the stored extremes, the others read every pixel.
BEFORE = ("posterize", "brightness", "contrast", "equalize", "invert", "solarize", "solarize_add", "auto_contrast")
ARGUMENTS = {"posterize": 3.0, "brightness": 1.6, "contrast": 0.4, "solarize": 100.0, "solarize_add": 60.0}


def _low_contrast(small_photos):
    # Levels squeezed into [90, 150]: auto_contrast stretches them, equalize spreads them.
    return (90 + small_photos.astype(np.int32) * 60 // 255).astype(np.uint8)


def _program(images, ids, args, ops, interpolation="nearest"):
    """`(engine.Program, engine.Settings)` of a hand-written program on `images` (chunks of 2 rows)."""
    ids, args = tf.constant(ids), tf.constant(args)
    matrices = engine.program_matrices(ids, args, ops, images.shape[1], images.shape[2])
    program = engine.Program(ids, args, tf.zeros([*ids.shape, 2], tf.int32), matrices)
    return program, engine.Settings(ops, (0.0, 255.0), 128.0, interpolation, 2, images.shape[-1])


def _copies_and_tiled(images, program, settings):
    """The levels of `program` run on 3 copies of `images` (deferred, shared where possible), and the
    result of the same program on the tiled batch."""
    result = chains.apply_chains(tf.constant(images), program, settings._replace(copies=3))
    tiled = engine.apply_program(tf.constant(np.concatenate([images] * 3)), program, settings).numpy()
    return result.current(128.0).numpy(), tiled


def _layer_program(layer, images):
    t = layer.get_random_transformation({"images": tf.constant(images)}, seed=SEED)
    return layer.program(t, images.shape[1], images.shape[2]), layer.settings(tf.constant(images))


def test_auto_contrast_after_each_point_op_matches_pil(small_photos):
    # One program: every image, once after each op of BEFORE (the last row of each: nothing before).
    images = np.concatenate([small_photos, _low_contrast(small_photos)])
    n, last = len(images), len(BEFORE) - 1
    batch = np.concatenate([images] * len(BEFORE))
    ids = np.array([[k, last] for k in range(len(BEFORE)) for _ in range(n)], np.int32)
    ids[n - 1 :: n, 0] = -1
    args = np.array([[ARGUMENTS.get(BEFORE[max(k, 0)], 0.0), 0.0] for k in ids[:, 0]], np.float32)
    out = engine.apply_program(tf.constant(batch), *_program(batch, ids, args, BEFORE)).numpy()
    np.testing.assert_array_equal(out, run_program(batch, BEFORE, ids, args))


@pytest.mark.parametrize("dtype, value_range", [("uint8", (0.0, 255.0)), ("float32", (0.0, 1.0))])
def test_deferred_copies_give_the_program_on_tiled_images(small_photos, dtype, value_range):
    images = small_photos if dtype == "uint8" else small_photos.astype(np.float32) / 255.0
    layer = AugMix(seed=0, value_range=value_range)
    program, settings = _layer_program(layer, images)
    result = chains.apply_chains(tf.constant(images), program, settings._replace(copies=3))
    tiled = engine.apply_program(tf.constant(np.concatenate([images] * 3)), program, settings._replace(copies=1))
    tiled = tiled.numpy()
    expected = tiled if dtype == "uint8" else np.round(tiled * 255.0).astype(np.uint8)
    np.testing.assert_array_equal(result.current(128.0).numpy(), expected)
    # The chains share the quantised batch: B rows of levels, an index map per chain row; some chains fill.
    assert isinstance(result, chains.SharedLevels)
    assert result.stored.shape[0] == len(images) and result.index.shape[0] == 3 * len(images)
    assert (result.index.numpy() < 0).any() and (result.index.numpy() >= 0).any()


def test_equalize_in_copies_counts_each_image_once_and_remaps(small_photos):
    # Copy 0 equalizes first, copy 1 after posterize, copy 2 after solarize and before a rotation; image 3
    # never equalizes. The shared histograms must give the per-copy result of the tiled program.
    images = np.concatenate([small_photos, _low_contrast(small_photos)])
    ops = ("equalize", "posterize", "solarize", "rotate")
    n = len(images)
    chains = np.array([[0, -1, -1], [1, 0, -1], [2, 0, 3]], np.int32)
    ids = np.repeat(chains, n, axis=0)
    ids[[3, n + 3, 2 * n + 3]] = -1
    args = np.repeat(np.array([[0.0, 3.0, 0.0], [3.0, 0.0, 0.0], [90.0, 0.0, 20.0]], np.float32), n, axis=0)
    deferred, tiled = _copies_and_tiled(images, *_program(images, ids, args, ops))
    np.testing.assert_array_equal(deferred, tiled)
    # The copies without geometry are PIL's ops in sequence.
    expected = run_program(np.concatenate([images] * 2), ops, ids[: 2 * n], args[: 2 * n])
    np.testing.assert_array_equal(tiled[: 2 * n], expected)


def test_copies_need_the_deferred_result(small_photos):
    program, settings = _program(small_photos, np.full([8, 1], -1, np.int32), np.zeros([8, 1], np.float32), ("invert",))
    with pytest.raises(ValueError, match="copies"):
        engine.apply_program(small_photos, program, settings._replace(copies=2))


@pytest.mark.parametrize(
    "all_ops, interpolation", [(True, "nearest"), pytest.param(False, "bilinear", marks=pytest.mark.slow)]
)
def test_copies_give_the_tiled_program_with_stored_levels_or_bilinear(small_photos, all_ops, interpolation):
    # all_ops: colour and sharpness store new levels, so the copies are tiled; bilinear resamples current levels,
    # so shared copies are tiled before the geometry pass.
    layer = AugMix(seed=0, all_ops=all_ops, interpolation=interpolation)
    program, settings = _layer_program(layer, small_photos)
    deferred, tiled = _copies_and_tiled(small_photos, program, settings)
    np.testing.assert_array_equal(deferred, tiled)


def test_shared_copies_read_their_image_for_auto_contrast_after_solarize(small_photos):
    # auto_contrast after solarize (a table that is not monotone) reads the current levels of each copy's
    # image (row r of the copies reads image r % B), after a monotone table only the stored extremes.
    images = np.concatenate([small_photos, _low_contrast(small_photos)])
    n, ops = len(images), ("solarize", "posterize", "auto_contrast", "translate_x")
    chains = np.array([[0, 2, -1], [1, 2, 3], [2, 0, 2]], np.int32)
    ids = np.repeat(chains, n, axis=0)
    args = np.repeat(np.array([[120.0, 0.0, 0.0], [4.0, 0.0, 5.0], [0.0, 200.0, 0.0]], np.float32), n, axis=0)
    deferred, tiled = _copies_and_tiled(images, *_program(images, ids, args, ops))
    np.testing.assert_array_equal(deferred, tiled)
    expected = run_program(
        np.concatenate([images, images]),
        ops,
        np.concatenate([ids[:n], ids[2 * n :]]),
        np.concatenate([args[:n], args[2 * n :]]),
    )
    np.testing.assert_array_equal(np.concatenate([tiled[:n], tiled[2 * n :]]), expected)
