"""The op registry: every record is complete and runs, and a new op is one record away."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

import tfaug
from tfaug.policies import levels
from tfaug.policies import registry
from tfaug.policies.auto_augment import POLICIES
from tfaug.policies.tables import level_grid

OPS = list(registry.OPS.values())
BATCH, HEIGHT, WIDTH = 3, 12, 20


@pytest.mark.parametrize("op", OPS, ids=[op.name for op in OPS])
def test_every_op_has_what_its_kind_needs_and_runs(op, small_photos):
    levels_ = tf.constant(small_photos[:BATCH, :HEIGHT, :WIDTH])
    for scale in levels.SCALES:
        fraction = tf.constant([0.0, 0.5, 1.0])
        args = levels.argument(op.name, fraction, tf.constant([1.0, -1.0, 1.0]), scale, HEIGHT, WIDTH)
        assert args.shape == (BATCH,) and args.dtype == tf.float32 and np.isfinite(args.numpy()).all()
    if op.kind == "point":
        table = tf.cast(op.table(level_grid(BATCH, 3), args), tf.int32)[..., 0].numpy()
        assert table.shape == (BATCH, 3, 256) and table.min() >= 0 and table.max() <= 255
    elif op.kind == "statistic":
        table = op.table(levels_, args).numpy()
        assert table.shape == (BATCH, 3, 256) and table.dtype == np.int32 and 0 <= table.min() <= table.max() <= 255
    elif op.kind == "pixel":
        centers = tf.constant([[6, 10]] * BATCH)
        out = op.kernel(levels_, args, centers, 128.0)
        assert out.shape == levels_.shape and out.dtype == tf.uint8
    elif op.kind == "geometric":
        assert op.signed and op.matrix(args, HEIGHT, WIDTH).shape == (BATCH, 3, 3)
    out = tfaug.RandAugment(num_ops=1, ops=[op.name], seed=0)(levels_)
    assert out.shape == levels_.shape


def test_policies_name_registered_ops_only():
    names = {name for policy in POLICIES.values() for pair in policy for name, _, _ in pair}
    assert names <= set(registry.OPS)
    assert set(levels.OP_NAMES) == set(registry.OPS) and set(levels.GEOMETRIC) == set(registry.of_kind("geometric"))


def test_a_record_without_its_kernel_is_refused():
    with pytest.raises(ValueError, match="have its table"):
        registry.Op(name="broken", kind="point")
    with pytest.raises(ValueError, match="kind 'blur' must be one of"):
        registry.Op(name="broken", kind="blur", kernel=lambda *a: a[0])


def threshold_table(grid, args):
    """The worked example of docs/adding_an_op.md: levels at or above `args` become 255, the others 0."""
    return tf.where(tf.cast(grid, tf.float32) >= args[:, None, None, None], 255, 0)


def threshold_level(scale, fraction, signed, height, width):
    return 256.0 - 128.0 * fraction


def test_a_new_op_is_one_record(monkeypatch, small_photos):
    op = registry.Op(name="threshold", kind="point", argument=threshold_level, table=threshold_table)
    monkeypatch.setitem(registry.OPS, "threshold", op)
    layer = tfaug.RandAugment(num_ops=1, magnitude=10, ops=["threshold", "rotate"], seed=0)
    out = layer.augment(small_photos, seed=tf.constant([1, 2])).numpy()
    t = layer.get_random_transformation({"images": tf.constant(small_photos)}, seed=tf.constant([1, 2]))
    chose = t["op_ids"].numpy()[:, 0] == 0
    assert chose.any() and (~chose).any()
    np.testing.assert_array_equal(out[chose], np.where(small_photos[chose] >= 128, 255, 0))
    assert dataclasses.replace(op, name="copy").kind == "point"
