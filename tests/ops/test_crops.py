"""Crop windows (torchvision's random resized crop sampling, the centre crops) and the batched crop-and-resize."""

import math

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from tfaug.ops import crops
from tfaug.ops.resize import resized_crop

# -- torchvision's sampling, written out in NumPy ----------------------------------------------------------


def torchvision_window(height, width, scale, ratio, area_draws, ratio_draws, top_draw, left_draw):
    """`RandomResizedCrop.get_params` for one image, its uniforms given: 10 tries, then the central fallback.

    `top_draw` / `left_draw` in [0, 1) stand for `torch.randint(0, H - h + 1)` as `floor(u * (H - h + 1))`.
    """
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for u, v in zip(area_draws, ratio_draws):
        target_area = area * (scale[0] + float(u) * (scale[1] - scale[0]))
        aspect = math.exp(log_ratio[0] + float(v) * (log_ratio[1] - log_ratio[0]))
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = min(int(math.floor(top_draw * (height - h + 1))), height - h)
            left = min(int(math.floor(left_draw * (width - w + 1))), width - w)
            return top, left, h, w
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        h, w = height, int(round(height * max(ratio)))
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def numpy_windows(rng, n, height, width, scale, ratio):
    """`n` windows of torchvision's sampling on NumPy's generator."""
    draws = rng.uniform(size=(n, 22))
    return np.array(
        [torchvision_window(height, width, scale, ratio, d[:10], d[10:20], d[20], d[21]) for d in draws], np.int64
    )


# -- sizes from given uniforms: equal to torchvision's -----------------------------------------------------

SIDES = [(40, 64), (64, 40), (4, 64), (64, 4), (1, 1), (3, 50)]  # tall and wide images reach the fallback


@pytest.mark.parametrize(
    "scale, ratio", [((0.08, 1.0), (3 / 4, 4 / 3)), ((0.5, 1.0), (0.2, 5.0)), ((0.9, 1.0), (1.0, 1.0))]
)
def test_sizes_equal_torchvision_with_the_same_uniforms(scale, ratio):
    rng = np.random.default_rng(1)
    heights, widths = np.repeat(np.array(SIDES), 50, axis=0).T
    area_draws = rng.uniform(size=(heights.size, 10)).astype(np.float32)
    ratio_draws = rng.uniform(size=(heights.size, 10)).astype(np.float32)
    crop_h, crop_w, fits = crops.resized_crop_sizes(area_draws, ratio_draws, heights, widths, scale, ratio)
    expected = [
        torchvision_window(h, w, scale, ratio, a, r, 0.0, 0.0)
        for h, w, a, r in zip(heights, widths, area_draws, ratio_draws)
    ]
    expected = np.array(expected)
    np.testing.assert_array_equal(crop_h, expected[:, 2])
    np.testing.assert_array_equal(crop_w, expected[:, 3])
    assert 0 < np.mean(fits) < 1 or scale[0] >= 0.9  # both paths were taken for the default arguments


def test_fallback_is_torchvision_central_crop_of_the_nearest_aspect():
    seed = tf.constant([3, 4], tf.int64)
    # No try can fit: at least 90% of the area with an aspect in [3/4, 4/3] needs more height than 4 pixels.
    wide = crops.random_resized_crop_windows(seed, [4], [64], (0.9, 1.0), (3 / 4, 4 / 3)).numpy()
    np.testing.assert_array_equal(wide, [[0, 29, 4, 5]])  # h = H, w = round(4 * 4/3); centred
    tall = crops.random_resized_crop_windows(seed, [64], [4], (0.9, 1.0), (3 / 4, 4 / 3)).numpy()
    np.testing.assert_array_equal(tall, [[29, 0, 5, 4]])  # w = W, h = round(4 / (3/4))
    # An aspect range that allows neither side whole: sides stay at least 1 (torchvision would give 0).
    thin = crops.random_resized_crop_windows(seed, [10], [1], (0.9, 1.0), (3.0, 4.0)).numpy()
    np.testing.assert_array_equal(thin, [[4, 0, 1, 1]])


# -- the distribution: realised area fraction, log aspect and position against torchvision's ------------------


def test_window_distribution_matches_torchvision_sampling():
    """Two-sample KS tests at fixed seeds: 4000 windows of tfaug against 4000 of the NumPy reference, on a
    non-square image with an asymmetric aspect range (a swapped width / height, a last-try-wins loop or a
    corner drawn before the size would each move one of these distributions)."""
    n, height, width, scale, ratio = 4000, 40, 64, (0.08, 1.0), (0.5, 3.0)
    ours = crops.random_resized_crop_windows(tf.constant([0, 7], tf.int64), [height] * n, [width] * n, scale, ratio)
    ours = ours.numpy().astype(np.int64)
    reference = numpy_windows(np.random.default_rng(0), n, height, width, scale, ratio)

    def features(w):
        top, left, h, wd = w.T
        fallback = (top == (height - h) // 2) & (left == (width - wd) // 2)
        return {
            "area fraction": h * wd / (height * width),
            "log aspect": np.log(wd / h),
            "top": (top + 0.5) / (height - h + 1),
            "left": (left + 0.5) / (width - wd + 1),
            "fallback-like": fallback.astype(float),
        }

    a, b = features(ours), features(reference)
    for name in a:
        p = stats.ks_2samp(a[name], b[name]).pvalue
        assert p > 1e-3, (name, p)
    # Where they sit: within the tolerated aspect range and inside the image.
    assert (ours[:, 0] >= 0).all() and (ours[:, 0] + ours[:, 2] <= height).all()
    assert (ours[:, 1] >= 0).all() and (ours[:, 1] + ours[:, 3] <= width).all()
    # The log aspect of the accepted tries is roughly uniform on log(ratio): check its mean against the reference
    # and its spread against the swapped range's (which would be centred at -mean).
    assert abs(a["log aspect"].mean() - b["log aspect"].mean()) < 0.05
    assert b["log aspect"].mean() > 0.2  # the test can tell a swapped range apart


@pytest.mark.slow  # the layer's every-mode tests (tests/test_conformance.py) run this sampler by default
def test_same_windows_in_every_execution_mode():
    seed = tf.constant([5, 6], tf.int64)
    heights, widths = tf.constant([40, 7, 1, 300]), tf.constant([64, 90, 1, 200])

    def run(s, h, w):
        return crops.random_resized_crop_windows(s, h, w)

    eager = run(seed, heights, widths)
    for mode in (tf.function(run), tf.function(run, jit_compile=True)):
        np.testing.assert_array_equal(mode(seed, heights, widths), eager)
    # One image's window depends on the seed and its sides only, not on the batch's other images' sides.
    np.testing.assert_array_equal(run(seed, [40, 40], [64, 64])[0], run(seed, [40, 9], [64, 9])[0])


def test_aspect_and_center_windows():
    # Keras's smart_resize: 24x40 to a square keeps 24x24, centred; to 16x20 (aspect 1.25) keeps 24x30.
    np.testing.assert_array_equal(crops.aspect_crop_windows([24, 24], [40, 40], (8, 8)), [[0, 8, 24, 24]] * 2)
    np.testing.assert_array_equal(crops.aspect_crop_windows([24], [40], (16, 20)), [[0, 5, 24, 30]])
    np.testing.assert_array_equal(crops.aspect_crop_windows([40], [24], (16, 20)), [[10, 0, 19, 24]])
    # torchvision's Resize(int) and CenterCrop.
    assert [int(x) for x in crops.shorter_side_size(375, 500, 256)] == [256, 341]
    assert [int(x) for x in crops.shorter_side_size(500, 375, 256)] == [341, 256]
    assert [int(x) for x in crops.center_crop_offsets(256, 341, (224, 224))] == [16, 58]  # round(58.5) = 58


# -- crop and resize --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def photos_and_windows(small_photos):
    windows = np.array([[0, 0, 24, 40], [3, 5, 11, 20], [2, 30, 20, 9], [23, 39, 1, 1]], np.int32)
    return small_photos.astype(np.float32), windows


def kernels(default):
    """(interpolation, antialias, size) cases: `default` in the default profile, the others slow (each compiles)."""
    cases = [(i, a, s) for i in ("nearest", "bilinear", "bicubic") for a in (False, True) for s in ((8, 13), (30, 50))]
    return [pytest.param(*c, marks=[] if c in default else [pytest.mark.slow]) for c in cases]


@pytest.mark.parametrize(
    "interpolation, antialias, size",
    kernels({("nearest", False, (30, 50)), ("bilinear", False, (8, 13)), ("bicubic", True, (8, 13))}),
)
def test_resized_crop_is_tf_image_resize_of_each_crop(photos_and_windows, interpolation, antialias, size):
    images, windows = photos_and_windows
    out = resized_crop(images, windows, size, interpolation, antialias).numpy()
    crops_ = [images[i, t : t + h, x : x + w] for i, (t, x, h, w) in enumerate(windows)]
    expected = np.stack([tf.image.resize(c, size, interpolation, antialias=antialias) for c in crops_])
    # TensorFlow's bicubic without antialiasing tabulates its weights in 1/1024 pixel steps.
    atol = 0.25 if interpolation == "bicubic" and not antialias else 2e-3
    np.testing.assert_allclose(out, expected, rtol=0, atol=atol)


@pytest.mark.parametrize("antialias", [False, True])
def test_sampled_points_on_pixel_boundaries_take_the_same_taps_compiled(antialias):
    # 56 -> 24 columns puts output column 1 on a pixel centre (its first bilinear tap has weight 0); 48 -> 16
    # rows with antialiasing puts every first tap on the support's edge. Compiled, a float32 tap index computed
    # once with a fused multiply-add and once without took a neighbouring pixel's value.
    image = np.random.default_rng(0).uniform(0, 255, [1, 48, 64, 3]).astype(np.float32)
    window = np.array([[0, 6, 48, 56]], np.int32)
    expected = tf.image.resize(image[:, :, 6:62], (16, 24), antialias=antialias).numpy()
    compiled = tf.function(lambda x: resized_crop(x, window, (16, 24), antialias=antialias), jit_compile=True)
    for out in (resized_crop(image, window, (16, 24), antialias=antialias), compiled(image)):
        np.testing.assert_allclose(out.numpy(), expected, rtol=0, atol=2e-3)


def test_resized_crop_dtypes_masks_and_clipping(photos_and_windows):
    images, windows = photos_and_windows
    as_uint8 = resized_crop(images.astype(np.uint8), windows, (8, 8), "bilinear").numpy()
    as_float = resized_crop(images, windows, (8, 8), "bilinear").numpy()
    assert as_uint8.dtype == np.uint8
    np.testing.assert_array_equal(as_uint8, np.clip(np.round(as_float), 0, 255))
    masks = np.arange(4 * 24 * 40, dtype=np.int32).reshape(4, 24, 40)
    out = resized_crop(masks, windows, (5, 6), "nearest").numpy()
    assert out.dtype == np.int32 and out.shape == (4, 5, 6)
    rows, cols = np.divmod(out % (24 * 40), 40)
    top, left, h, w = windows.T[:, :, None, None]
    assert ((rows >= top) & (rows < top + h) & (cols >= left) & (cols < left + w)).all()
    # A hard edge makes bicubic overshoot; a value range clips it.
    edge = np.zeros([1, 8, 8, 1], np.float32)
    edge[:, :, 4:] = 1.0
    window = [[0, 0, 8, 8]]
    assert resized_crop(edge, window, (8, 20), "bicubic").numpy().max() > 1.0
    assert resized_crop(edge, window, (8, 20), "bicubic", value_range=(0, 1)).numpy().max() == 1.0


def test_resized_crop_refuses_bad_arguments():
    with pytest.raises(ValueError, match="`interpolation`"):
        resized_crop(tf.zeros([1, 4, 4, 3]), [[0, 0, 4, 4]], (2, 2), "area")
    with pytest.raises(ValueError, match="`windows`"):
        resized_crop(tf.zeros([1, 4, 4, 3]), [0, 0, 4, 4], (2, 2))


def test_samplers_feed_windows_with_per_image_draws():
    # Each image of a batch gets its own window (not one per batch).
    windows = crops.random_resized_crop_windows(tf.constant([0, 1], tf.int64), [64] * 16, [64] * 16)
    assert len({tuple(w) for w in windows.numpy()}) == 16
