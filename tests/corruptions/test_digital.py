"""Digital corruptions against `imagecorruptions`: contrast, saturate (exact) and elastic transform (statistics).

Tolerances:
- contrast and saturate on uint8 photos: at most 1 level from the reference (it floors, tfaug rounds), on
  average under 0.6; their float results within 0.01 level of the reference's float64 ones.
- elastic transform: for a given field the sampling equals `scipy.ndimage.map_coordinates(order=1,
  mode="reflect")` within 1e-5; the field's mean displacement length is within 5% of the reference's and
  its neighbour correlation within 0.05; the mean absolute change of photos is within 10% of the
  reference's at every severity. The small-image tables give the mean displacement lengths of the CIFAR-10-C
  and Tiny-ImageNet-C scripts' affine + elastic algorithm (simulated here), in increasing order, within 10%.
Batch behaviour: every severity runs on gray and RGB images, severities are per image, the elastic field
follows the seed, and `jit_compile` gives the eager result (within 1e-5). Random draws use fixed seeds
(NumPy's for the reference), so the suite is deterministic.
"""

import imagecorruptions
import numpy as np
import pytest
import tensorflow as tf
from imagecorruptions import corruptions as reference
from PIL import Image
from scipy import ndimage
from skimage import filters

from tfaug.corruptions import corrupt
from tfaug.corruptions import digital

NAMES = ("contrast", "saturate", "elastic_transform")
SEVERITIES = np.arange(1, 6)
SHAPE = (5, 64, 96, 3)


def seed(a, b=0):
    return tf.constant([a, b], tf.int64)


@pytest.fixture(scope="module")
def photos(five_photos):
    return five_photos


def run(name, images, severity, seed_=0):
    """The unclipped float result of corruption `name` on uint8 `images`, in levels (0..255)."""
    x = tf.constant(images, tf.float32) / 255.0
    return getattr(digital, name)(x, tf.constant(severity, tf.int32), seed(seed_), "imagenet").numpy() * 255.0


# -- contrast and saturate ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["contrast", "saturate"])
def test_matches_the_reference_on_photos(photos, name):
    ours = corrupt(photos, name, SEVERITIES, seed=0, table="imagenet").numpy().astype(int)
    ref = np.stack(
        [imagecorruptions.corrupt(x, corruption_name=name, severity=int(s)) for x, s in zip(photos, SEVERITIES)]
    )
    difference = np.abs(ours - ref)
    assert difference.max() <= 1 and difference.mean() < 0.6
    # Before rounding: the reference's float64 result (its corruption function, unclipped to uint8).
    exact = np.stack([getattr(reference, name)(Image.fromarray(x), int(s)) for x, s in zip(photos, SEVERITIES)])
    np.testing.assert_allclose(np.clip(run(name, photos, SEVERITIES), 0, 255), exact, atol=0.01)


@pytest.mark.parametrize("name", ["contrast", "saturate"])
def test_gray_is_the_rgb_result_of_the_replicated_gray(photos, name):
    gray = photos[..., :1]
    ours = np.clip(run(name, gray, SEVERITIES), 0, 255)[..., 0]
    rgb = np.stack(
        [getattr(reference, name)(Image.fromarray(x.repeat(3, -1)), int(s)) for x, s in zip(gray, SEVERITIES)]
    )
    # Contrast keeps gray gray; saturate's severities 4 and 5 tint it (hue 0 is red): its luminance.
    np.testing.assert_allclose(ours, rgb @ np.asarray(digital.LUMINANCE_WEIGHTS), atol=0.01)
    if name == "contrast":
        np.testing.assert_allclose(ours, rgb[..., 0], atol=0.01)


def test_saturate_keeps_hue_and_value_on_random_colours():
    colours = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3)).astype(np.uint8)
    colours[:, 0, :4] = [[0, 0, 0], [255, 255, 255], [7, 7, 7], [200, 100, 100]]  # black, white, gray, ties
    ours = np.clip(run("saturate", colours, SEVERITIES), 0, 255)
    exact = np.stack([reference.saturate(Image.fromarray(x), int(s)) for x, s in zip(colours, SEVERITIES)])
    np.testing.assert_allclose(ours, exact, atol=0.01)


# -- elastic transform ----------------------------------------------------------------------------------------


def test_warp_is_bilinear_sampling_with_mirrored_borders(photos):
    # Displacements of up to 12 pixels reach well past the borders.
    field = np.random.default_rng(1).normal(scale=4.0, size=SHAPE[:3] + (2,)).astype(np.float32)
    images = photos.astype(np.float32) / 255.0
    ours = digital.warp(tf.constant(images), tf.constant(field)).numpy()
    rows, cols, channels = np.meshgrid(*[np.arange(n) for n in SHAPE[1:]], indexing="ij")
    for image, displacement, out in zip(images, field, ours):
        coordinates = [rows + displacement[..., :1], cols + displacement[..., 1:], channels]
        np.testing.assert_allclose(out, ndimage.map_coordinates(image, coordinates, order=1, mode="reflect"), atol=1e-5)


def reference_field(rng, height, width, alpha):
    """The reference's displacement field `[H, W, 2]` (rows, columns)."""
    limit = 0.005 * height
    sigma = (0.01 * height, 0.01 * width)
    return np.stack(
        [
            filters.gaussian(rng.uniform(-limit, limit, (height, width)), sigma, mode="reflect", truncate=3) * alpha
            for _ in range(2)
        ],
        axis=-1,
    )


def field_statistics(fields):
    """Mean displacement length and the correlation of horizontally neighbouring field values."""
    length = np.hypot(fields[..., 0], fields[..., 1]).mean()
    return length, np.corrcoef(fields[:, :, :-1].ravel(), fields[:, :, 1:].ravel())[0, 1]


def test_displacement_field_statistics_match_the_reference():
    alpha = digital.ELASTIC_ALPHAS["imagenet"][4]
    ours = digital.displacement_field(seed(2), 5, 128, 96, tf.fill([5], alpha)).numpy()
    rng = np.random.default_rng(2)
    ref = np.stack([reference_field(rng, 128, 96, alpha) for _ in range(5)])
    (length, correlation), (ref_length, ref_correlation) = field_statistics(ours), field_statistics(ref)
    assert abs(length / ref_length - 1.0) < 0.05
    assert abs(correlation - ref_correlation) < 0.05


def test_elastic_mean_change_on_photos_matches_the_reference(photos):
    ours = corrupt(photos, "elastic_transform", SEVERITIES, seed=3, table="imagenet").numpy()
    ours = np.abs(ours.astype(np.float64) - photos).reshape(5, -1).mean(axis=1)
    np.random.seed(0)
    ref = [
        np.mean(
            [
                np.abs(
                    imagecorruptions.corrupt(x, corruption_name="elastic_transform", severity=int(s))
                    - x.astype(np.float64)
                ).mean()
                for _ in range(3)
            ]
        )
        for x, s in zip(photos, SEVERITIES)
    ]
    np.testing.assert_allclose(ours, ref, rtol=0.10)


def scripts_mean_displacement(rng, size, table, draws=40):
    """Mean displacement length per severity of the CIFAR-10-C / Tiny-ImageNet-C elastic transform: a random
    affine map (three points moved by up to `c[2]` of the side) after an elastic field (amplitude `c[0]`,
    smoothing `c[1]` of the side), composed as the script samples the image."""
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)
    centre, half = size // 2, size // 3
    points = np.array(
        [[centre + half, centre + half], [centre + half, centre - half], [centre - half, centre - half]], np.float64
    )
    lengths = []
    for amplitude, smoothing, shift in table:
        total = 0.0
        for _ in range(draws):
            moved = points + rng.uniform(-shift * size, shift * size, points.shape)
            forward = np.linalg.solve(np.c_[points, np.ones(3)], moved).T  # (x, y) -> moved (x, y)
            inverse = np.linalg.inv(np.r_[forward, [[0.0, 0.0, 1.0]]])[:2]
            dx, dy = [
                filters.gaussian(rng.uniform(-1, 1, (size, size)), smoothing * size, mode="reflect", truncate=3)
                * amplitude
                * size
                if amplitude
                else 0.0
                for _ in range(2)
            ]
            x, y = cols + dx, rows + dy
            source_x = inverse[0, 0] * x + inverse[0, 1] * y + inverse[0, 2]
            source_y = inverse[1, 0] * x + inverse[1, 1] * y + inverse[1, 2]
            total += np.hypot(source_x - cols, source_y - rows).mean()
        lengths.append(total / draws)
    return np.asarray(lengths)


@pytest.mark.parametrize(
    "table, size, scripts",
    [
        ("cifar", 32, [(0, 0, 0.08), (0.05, 0.2, 0.07), (0.08, 0.06, 0.06), (0.1, 0.04, 0.05), (0.1, 0.03, 0.03)]),
        (
            "tiny_imagenet",
            64,
            [(0, 0, 0.08), (0.05, 0.3, 0.06), (0.1, 0.08, 0.06), (0.1, 0.03, 0.03), (0.16, 0.03, 0.02)],
        ),
    ],
)
def test_small_image_tables_give_the_scripts_displacements(table, size, scripts):
    expected = np.sort(scripts_mean_displacement(np.random.default_rng(4), size, scripts))
    alphas = tf.constant(np.repeat(digital.ELASTIC_ALPHAS[table], 8), tf.float32)
    fields = digital.displacement_field(seed(4), 40, size, size, alphas).numpy().reshape(5, 8, size, size, 2)
    lengths = np.hypot(fields[..., 0], fields[..., 1]).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(lengths, expected, rtol=0.10)


# -- every corruption -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_every_severity_for_gray_and_rgb_and_severity_per_image(photos, name, severity_per_image):
    for images in (photos, photos[..., :1]):
        out = corrupt(images, name, SEVERITIES, seed=5, table="imagenet").numpy()
        assert out.shape == images.shape and out.dtype == np.uint8
        changed = np.mean(out != images, axis=(1, 2, 3))
        # Gray has no saturation to scale: saturate leaves it alone until severity 4 adds some.
        unchanged = (SEVERITIES <= 3) if name == "saturate" and images.shape[-1] == 1 else SEVERITIES < 0
        assert np.all(changed[~unchanged] > 0.05) and np.all(changed[unchanged] == 0.0)
    severity_per_image(name, photos)


def test_seeds_and_xla(photos):
    images = tf.constant(photos, tf.float32) / 255.0

    def run_all(s):
        return [corrupt(images, name, [1, 2, 3, 4, 5], seed=s, value_range=(0, 1), table="cifar") for name in NAMES]

    first = [out.numpy() for out in run_all(seed(7))]
    compiled = [out.numpy() for out in tf.function(run_all, jit_compile=True)(seed(7))]
    for name, a, b, c, d in zip(NAMES, first, run_all(seed(7)), run_all(seed(8)), compiled):
        np.testing.assert_array_equal(b.numpy(), a, err_msg=name)
        # Contrast and saturate are deterministic; the elastic field is drawn from the seed.
        assert np.array_equal(c.numpy(), a) == (name != "elastic_transform"), name
        np.testing.assert_allclose(d, a, atol=1e-5, err_msg=name)
