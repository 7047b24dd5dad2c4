"""ColorJitter: each op against PIL (uint8) and torchvision's tensor definitions (floats) on real photos, the
hue rotation's round trips, the per-image random order (realised and its frequencies), the factor ranges,
gray images, errors."""

import itertools

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from PIL import ImageEnhance
from scipy import stats

from tfaug.layers import ColorJitter
from tfaug.ops import jitter

SEED = tf.constant([3, 7], tf.int64)
FACTORS = np.array([0.3, 0.9, 1.2, 1.8], np.float32)
# torchvision's rgb_to_grayscale weights on tensors (PIL's "L", which tfaug uses, has 0.299 for red).
TV_LUMA = np.array([0.2989, 0.587, 0.114])


def one_op(images, op, factor, value_range=(0, 255), shift=0.0):
    """`color_jitter` with one op per image: `op` (a name) with per-image `factor` (or `shift` for hue)."""
    batch = len(images)
    order = np.full([batch, 1], jitter.JITTER_OPS.index(op), np.int32)
    factors = np.ones([batch, 3], np.float32)
    if op != "hue":
        factors[:, jitter.JITTER_OPS.index(op)] = factor
    return jitter.color_jitter(images, order, factors, np.broadcast_to(shift, [batch]), value_range).numpy()


ENHANCERS = {"brightness": ImageEnhance.Brightness, "contrast": ImageEnhance.Contrast, "saturation": ImageEnhance.Color}


@pytest.mark.parametrize("op", ["brightness", "contrast", "saturation"])
def test_uint8_ops_are_pil_image_enhance_bit_for_bit(small_photos, op):
    # torchvision's ColorJitter runs ImageEnhance on PIL images.
    out = one_op(small_photos, op, FACTORS)
    for image, factor, result in zip(small_photos, FACTORS, out):
        expected = np.asarray(ENHANCERS[op](Image.fromarray(image)).enhance(float(factor)))
        np.testing.assert_array_equal(result, expected)


def tv_blend(x, degenerate, factor):
    return np.clip(factor * x + (1.0 - factor) * degenerate, 0.0, 1.0)


def tv_gray(x):
    return (x * TV_LUMA).sum(-1, keepdims=True)


def tv_reference(op, x, factor):
    """torchvision's tensor definitions (`transforms.v2.functional`) on float images in [0, 1]."""
    if op == "brightness":
        return tv_blend(x, 0.0, factor)
    if op == "contrast":
        return tv_blend(x, tv_gray(x).mean(), factor)
    return tv_blend(x, tv_gray(x), factor)


@pytest.mark.parametrize("op", ["brightness", "contrast", "saturation"])
def test_float_ops_are_torchvisions_tensor_definitions(small_photos, op):
    x = small_photos.astype(np.float64) / 255.0
    out = one_op(x.astype(np.float32), op, FACTORS, value_range=(0, 1))
    for image, factor, result in zip(x, FACTORS, out):
        # Within the difference of the luma weights (0.0001 of red, times |1 - factor|) and float32 rounding.
        np.testing.assert_allclose(result, tv_reference(op, image, float(factor)), rtol=0, atol=1e-4)


def tv_hue(x, shift):
    """torchvision's `_rgb2hsv` -> `h = (h + shift) % 1` -> `_hsv2rgb`, on float RGB in [0, 1]."""
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    maxc, minc = x.max(-1), x.min(-1)
    eqc = maxc == minc
    cr = maxc - minc
    s = cr / np.where(eqc, 1.0, maxc)
    divisor = np.where(eqc, 1.0, cr)
    rc, gc, bc = (maxc - r) / divisor, (maxc - g) / divisor, (maxc - b) / divisor
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = np.fmod((hr + hg + hb) / 6.0 + 1.0, 1.0)
    h = np.mod(h + shift, 1.0)
    i = np.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.astype(int) % 6
    v = maxc
    p, q, t = (np.clip(v * (1.0 - s * w), 0.0, 1.0) for w in (1.0, f, 1.0 - f))
    table = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    return np.select([(i == k)[..., None] for k in range(6)], [np.stack(c, -1) for c in table])


SHIFTS = np.array([0.1, -0.3, 0.5, 0.25], np.float32)


def test_hue_is_torchvisions_hsv_rotation(small_photos):
    x = small_photos.astype(np.float64) / 255.0
    x[0, 0, :4] = [[0.5, 0.5, 0.5], [0.7, 0.7, 0.2], [0.2, 0.7, 0.7], [0.7, 0.2, 0.7]]  # gray and ties
    out = one_op(x.astype(np.float32), "hue", None, value_range=(0, 1), shift=SHIFTS)
    expected = np.stack([tv_hue(x[i], float(SHIFTS[i])) for i in range(4)])
    np.testing.assert_allclose(out, expected, rtol=0, atol=2e-6)
    # uint8: the same rotation rounded to the nearest level (one level apart only at float64 rounding ties).
    levels = one_op(small_photos, "hue", None, shift=SHIFTS).astype(np.float64)
    expected = np.stack([tv_hue(small_photos[i] / 255.0, float(SHIFTS[i])) for i in range(4)]) * 255.0
    assert np.abs(levels - expected).max() <= 0.5 + 1e-9
    # Other value ranges: the same rotation in their units.
    out = one_op((x * 2.0 - 1.0).astype(np.float32), "hue", None, value_range=(-1, 1), shift=SHIFTS)
    np.testing.assert_allclose(
        (out + 1.0) / 2.0, np.stack([tv_hue(x[i], float(SHIFTS[i])) for i in range(4)]), atol=4e-6
    )


def test_hue_round_trips(small_photos):
    x = small_photos.astype(np.float32) / 255.0
    there = jitter.adjust_hue(x, SHIFTS, (0, 1))
    back = jitter.adjust_hue(there, -SHIFTS, (0, 1)).numpy()
    np.testing.assert_allclose(back, x, atol=2e-6)
    np.testing.assert_allclose(jitter.adjust_hue(x, 1.0, (0, 1)), x, atol=2e-6)  # a full turn
    half = jitter.adjust_hue(jitter.adjust_hue(x, 0.5, (0, 1)), 0.5, (0, 1))
    np.testing.assert_allclose(half, x, atol=2e-6)
    # uint8: exact arithmetic, one rounding: a shift by 1/3 of a turn (the channels rotate) is exact.
    np.testing.assert_array_equal(jitter.adjust_hue(small_photos, 0.0), small_photos)
    np.testing.assert_array_equal(jitter.adjust_hue(small_photos, 1.0 / 3.0), small_photos[..., [2, 0, 1]])
    back = jitter.adjust_hue(jitter.adjust_hue(small_photos, SHIFTS), -SHIFTS).numpy().astype(int)
    assert np.abs(back - small_photos).max() <= 2 and np.mean(back == small_photos) > 0.8
    # Value and saturation are kept.
    turned = there.numpy()
    np.testing.assert_allclose(turned.max(-1), x.max(-1), atol=1e-6)
    np.testing.assert_allclose(turned.max(-1) - turned.min(-1), x.max(-1) - x.min(-1), atol=2e-6)


def sequential(images, order, factors, shift):
    """Image by image, op by op: `color_jitter` with one slot at a time (each op stored before the next)."""
    out = []
    for i, image in enumerate(images):
        x = image[None]
        for op in order[i]:
            x = jitter.color_jitter(x, [[op]], factors[i : i + 1], shift[i : i + 1]).numpy()
        out.append(x[0])
    return np.stack(out)


def test_each_image_runs_its_own_order(small_photos):
    orders = np.array([[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]])
    factors = np.array([[1.7, 0.4, 1.9]] * 4, np.float32)
    shift = np.full(4, 0.3, np.float32)
    out = jitter.color_jitter(small_photos, orders, factors, shift).numpy()
    np.testing.assert_array_equal(out, sequential(small_photos, orders, factors, shift))
    # The order matters: the same images, factors and shift give other pixels in the reverse order.
    reverse = jitter.color_jitter(small_photos, orders[:, ::-1], factors, shift).numpy()
    assert all(not np.array_equal(out[i], reverse[i]) for i in range(4))
    # Rows that leave ops out or repeat them (the kernel's general schedule).
    rows = np.array([[0, 0], [3, 2], [1, 3], [2, 1]])
    out = jitter.color_jitter(small_photos, rows, factors, shift).numpy()
    np.testing.assert_array_equal(out, sequential(small_photos, rows, factors, shift))
    # The layer runs the order it draws.
    layer = ColorJitter(0.5, 0.5, 0.5, 0.2)
    t = {k: v.numpy() for k, v in layer.get_random_transformation({"images": small_photos}, SEED).items()}
    out = layer.augment(small_photos, seed=SEED).numpy()
    np.testing.assert_array_equal(out, sequential(small_photos, t["order"], t["factors"], t["hue"]))


def test_orders_are_uniform_permutations_per_image():
    layer = ColorJitter(0.4, 0.4, 0.4, 0.1)
    order = layer.get_random_transformation({"images": tf.zeros([2400, 1, 1, 3])}, SEED)["order"].numpy()
    assert order.shape == (2400, 4) and (np.sort(order, axis=1) == np.arange(4)).all()
    index = {p: k for k, p in enumerate(itertools.permutations(range(4)))}
    counts = np.bincount([index[tuple(row)] for row in order], minlength=24)
    assert stats.chisquare(counts).pvalue > 1e-3
    # Only the enabled ops, in torchvision's id order.
    order = ColorJitter(contrast=0.5, hue=0.2).get_random_transformation({"images": tf.zeros([600, 1, 1, 3])}, SEED)
    order = order["order"].numpy()
    assert set(map(tuple, order)) == {(1, 3), (3, 1)} and 250 < (order[:, 0] == 1).sum() < 350


@pytest.mark.parametrize(
    ("kwargs", "ranges"),
    [
        ({"brightness": 0.4, "hue": 0.1}, {"brightness": (0.6, 1.4), "hue": (-0.1, 0.1)}),
        ({"contrast": 2.0, "saturation": (0.5, 0.75)}, {"contrast": (0.0, 3.0), "saturation": (0.5, 0.75)}),
        ({"hue": (0.2, 0.5), "brightness": (1.0, 1.0)}, {"hue": (0.2, 0.5)}),
    ],
)
def test_factors_are_uniform_on_torchvisions_ranges(kwargs, ranges):
    layer = ColorJitter(**kwargs)
    assert layer.ranges == ranges
    draws = layer.get_random_transformation({"images": tf.zeros([2000, 1, 1, 3])}, SEED)
    for name, (low, high) in ranges.items():
        values = draws["hue"].numpy() if name == "hue" else draws["factors"].numpy()[:, jitter.JITTER_OPS.index(name)]
        assert stats.kstest(values, stats.uniform(low, high - low).cdf).pvalue > 1e-3
    unused = [jitter.JITTER_OPS.index(name) for name in ("brightness", "contrast", "saturation") if name not in ranges]
    assert (draws["factors"].numpy()[:, unused] == 1.0).all()


def test_off_by_default_and_gray_images(small_photos):
    np.testing.assert_array_equal(ColorJitter(seed=0)(small_photos), small_photos)
    gray = small_photos[..., :1]
    np.testing.assert_array_equal(ColorJitter(saturation=0.9, hue=0.5, seed=0)(gray), gray)
    np.testing.assert_array_equal(ColorJitter(hue=0.5, seed=0)(gray), gray)
    out = ColorJitter(brightness=(0.5, 0.5), seed=0)(gray).numpy()
    expected = [np.asarray(ImageEnhance.Brightness(Image.fromarray(g[..., 0])).enhance(0.5)) for g in gray]
    np.testing.assert_array_equal(out[..., 0], np.stack(expected))


def test_bad_arguments_are_refused_by_name(small_photos):
    for name in ("brightness", "contrast", "saturation"):
        for value in (-0.1, (1.5, 0.5), (-0.1, 1.0), float("nan"), "0.4", (0.5,)):
            with pytest.raises(ValueError, match=f"`{name}`"):
                ColorJitter(**{name: value})
    for value in (0.6, -0.1, (-0.6, 0.1), (0.3, 0.2), float("inf")):
        with pytest.raises(ValueError, match="`hue`"):
            ColorJitter(hue=value)
    four = np.concatenate([small_photos, small_photos[..., :1]], axis=-1)
    with pytest.raises(ValueError, match=r"needs `images` with 3 \(RGB\) or 1 \(gray\) channels"):
        ColorJitter(brightness=0.2, seed=0)(four)
    with pytest.raises(ValueError, match="look like float images in"):
        ColorJitter(brightness=0.2, seed=0)(small_photos / 255.0)
