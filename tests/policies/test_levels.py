"""Magnitude scales: the level -> argument tables, named per library."""

import numpy as np
import pytest
import tensorflow as tf

from tfaug.policies import levels


def arg(name, magnitude, scale, sign=1.0, height=100, width=200):
    top = levels.SCALES[scale].max_magnitude
    f = tf.constant([magnitude / top], tf.float32)
    return float(levels.argument(name, f, tf.constant([sign]), scale, height, width)[0])


def test_timm_m9_is_nine_tenths_of_each_maximum():
    assert arg("rotate", 9, "timm") == pytest.approx(27.0)
    assert arg("rotate", 9, "timm", sign=-1.0) == pytest.approx(-27.0)
    assert arg("shear_x", 9, "timm") == pytest.approx(0.27)
    assert arg("brightness", 9, "timm") == pytest.approx(1.81)
    assert arg("color", 9, "timm", sign=-1.0) == pytest.approx(0.19)
    assert arg("translate_x", 10, "timm", width=200) == pytest.approx(90.0)  # 0.45 of the width
    assert arg("translate_y", 10, "timm", height=100) == pytest.approx(45.0)  # 0.45 of the height
    assert arg("posterize", 9, "timm") == 5  # 8 - floor(3.6)
    assert arg("solarize", 9, "timm") == 26  # 256 - floor(230.4)
    assert arg("solarize", 0, "timm") == 256  # identity at magnitude 0
    assert arg("solarize_add", 10, "timm") == 110


def test_torchvision_scale_is_bins_of_thirty():
    assert arg("rotate", 9, "torchvision") == pytest.approx(9.0)
    assert arg("rotate", 30, "torchvision") == pytest.approx(30.0)
    assert arg("translate_x", 30, "torchvision", width=331) == pytest.approx(150.0)
    assert arg("posterize", 30, "torchvision") == 4


def test_autoaugment_levels_follow_torchvision():
    bits = [arg("posterize", level, "autoaugment") for level in range(10)]
    assert bits == [8, 8, 7, 7, 6, 6, 5, 5, 4, 4]
    # torchvision inverts levels >= linspace(255, 0, 10)[L]; on integer levels that keeps x < ceil(t).
    thresholds = [arg("solarize", level, "autoaugment") for level in range(10)]
    expected = [int(np.ceil(t - 1e-9)) for t in np.linspace(255, 0, 10)]
    assert thresholds == expected
    assert thresholds[0] == 255 and thresholds[-1] == 0


def test_wide_scale_of_trivial_augment():
    assert arg("rotate", 30, "wide") == pytest.approx(135.0)
    assert arg("shear_y", 30, "wide") == pytest.approx(0.99)
    assert arg("translate_x", 30, "wide", width=500) == pytest.approx(32.0)  # absolute pixels
    assert arg("contrast", 30, "wide", sign=-1.0) == pytest.approx(0.01)
    assert [arg("posterize", b, "wide") for b in (0, 15, 30)] == [8, 5, 2]


def test_magnitude_free_ops_take_no_argument():
    for name in ("identity", "auto_contrast", "equalize", "invert"):
        assert arg(name, 9, "timm") == 0.0


@pytest.mark.parametrize("scale, bad", [("timm", 10.5), ("timm", -1), ("torchvision", 31), ("timm", True)])
def test_magnitude_outside_its_scale_raises(scale, bad):
    with pytest.raises(ValueError, match="magnitude"):
        levels.check_magnitude(bad, scale)


def test_unknown_scale_and_ops_raise():
    with pytest.raises(ValueError, match="magnitude_scale"):
        levels.check_magnitude(5, "keras")
    with pytest.raises(ValueError, match="unknown op names"):
        levels.check_ops(["rotate", "twirl"])
    with pytest.raises(ValueError, match="ops"):
        levels.check_ops("rotate")
