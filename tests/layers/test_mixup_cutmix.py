"""MixUpCutMix: switch and apply rates, exact CutMix samples, MixUp blends, label smoothing, cutmix_minmax.

The transformation dict (drawn with the same seed as the output) says which images were pasted; every
other check reads the output images and labels only.
"""

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from tfaug.layers import MixUpCutMix

H, W = 24, 40
B = 8
P_MIN = 1e-3


def coded(batch):
    """float32 images whose values encode `((image * 100 + row) * 100 + col) * 4 + channel`."""
    i, y, x, c = np.meshgrid(np.arange(batch), np.arange(H), np.arange(W), np.arange(3), indexing="ij")
    return (((i * 100 + y) * 100 + x) * 4 + c).astype(np.float32)


def seeded(layer, images, labels, k):
    """Output and transformation of one call with an explicit seed."""
    seed = tf.constant([17, k], tf.int64)
    t = layer.get_random_transformation({"images": tf.constant(images)}, seed=seed)
    out, mixed = layer.augment((images, labels), seed=seed)
    return out.numpy(), mixed.numpy(), {key: value.numpy() for key, value in t.items()}


def smooth(labels, eps):
    return (1 - eps) * labels + eps / labels.shape[-1]


# -- rates --------------------------------------------------------------------------------------------------


def test_apply_and_switch_rates():
    n = 4000
    images = tf.zeros([n, 4, 4, 1])
    layer = MixUpCutMix(probability=0.7, switch_prob=0.3, seed=1)
    t = layer.get_random_transformation({"images": images}, seed=tf.constant([1, 1], tf.int64))
    pasted, lam = t["use_cutmix"].numpy(), t["lambda"].numpy()
    applied = pasted | (lam < 1)
    assert stats.binomtest(int(applied.sum()), n, 0.7).pvalue > P_MIN
    assert stats.binomtest(int(pasted.sum()), int(applied.sum()), 0.3).pvalue > P_MIN
    # Images that are not mixed get lam 1 and an empty box.
    assert np.all(lam[~applied] == 1.0) and np.all(t["boxes"].numpy()[~pasted] == 0)


@pytest.mark.parametrize("switch_prob", [0.0, 1.0])
def test_switch_prob_extremes(switch_prob):
    layer = MixUpCutMix(switch_prob=switch_prob, seed=2)
    t = layer.get_random_transformation({"images": tf.zeros([500, 4, 4, 1])}, seed=tf.constant([2, 2], tf.int64))
    assert np.all(t["use_cutmix"].numpy() == bool(switch_prob))


# -- exact samples ------------------------------------------------------------------------------------------


def test_cutmix_samples_are_exact_and_mixup_samples_are_blends():
    images, labels = coded(B), np.eye(B, dtype=np.float32)
    layer = MixUpCutMix(label_smoothing=0.0, seed=3)
    kinds = set()
    for k in range(4):
        out, mixed, t = seeded(layer, images, labels, k)
        partner, lam = t["partner"], t["lambda"]
        assert np.all(partner != np.arange(B))
        np.testing.assert_array_equal(mixed.diagonal(), lam)
        expected_labels = lam[:, None] * labels + (1 - lam[:, None]) * labels[partner]
        np.testing.assert_allclose(mixed, expected_labels, rtol=1e-6, atol=1e-7)
        for i in range(B):
            if t["use_cutmix"][i]:
                kinds.add("cutmix")
                from_partner = np.all(out[i] == images[partner[i]], axis=-1)
                assert np.all(from_partner | np.all(out[i] == images[i], axis=-1))
                # lam' is the kept fraction, exactly; the pasted region is the drawn box.
                assert lam[i] == np.float32(H * W - from_partner.sum()) / np.float32(H * W)
                y1, x1, y2, x2 = t["boxes"][i]
                region = np.zeros([H, W], bool)
                region[y1:y2, x1:x2] = True
                np.testing.assert_array_equal(from_partner, region)
            else:
                kinds.add("mixup")
                assert 0 < lam[i] < 1
                blend = lam[i] * images[i].astype(np.float64) + (1 - lam[i]) * images[partner[i]]
                np.testing.assert_allclose(out[i], blend, rtol=1e-6)
    assert kinds == {"cutmix", "mixup"}


def test_uint8_cutmix_samples_copy_pixels(small_photos):
    layer = MixUpCutMix(mixup_alpha=0.0, seed=4)
    labels = np.eye(4, dtype=np.float32)
    out, _, t = seeded(layer, small_photos, labels, 0)
    assert out.dtype == np.uint8 and t["use_cutmix"].all()
    for i in range(4):
        y1, x1, y2, x2 = t["boxes"][i]
        expected = small_photos[i].copy()
        expected[y1:y2, x1:x2] = small_photos[t["partner"][i], y1:y2, x1:x2]
        np.testing.assert_array_equal(out[i], expected)


def test_mixup_alpha_zero_gives_only_cutmix():
    images = np.broadcast_to(np.arange(1, B + 1, dtype=np.uint8).reshape(B, 1, 1, 1), (B, H, W, 3))
    labels = np.eye(B, dtype=np.float32)
    layer = MixUpCutMix(mixup_alpha=0.0, label_smoothing=0.0, seed=5)
    for _ in range(4):
        out, mixed = layer((images, labels))
        out, mixed = out.numpy()[..., 0], mixed.numpy()
        for i in range(B):
            region = out[i] != i + 1
            partner = np.flatnonzero(mixed[i] * (np.arange(B) != i))
            assert set(np.unique(out[i][region])) <= {p + 1 for p in partner}
            assert mixed[i, i] == np.float32(H * W - region.sum()) / np.float32(H * W)


def test_cutmix_alpha_zero_gives_only_mixup():
    layer = MixUpCutMix(cutmix_alpha=0.0, seed=6)
    t = layer.get_random_transformation({"images": tf.zeros([64, H, W, 1])}, seed=tf.constant([6, 6], tf.int64))
    assert not t["use_cutmix"].numpy().any() and np.all(t["boxes"].numpy() == 0)
    assert np.all(t["lambda"].numpy() < 1)


def test_cutmix_minmax_boxes_are_inside_with_sides_in_range():
    low, high = 0.2, 0.6
    layer = MixUpCutMix(cutmix_minmax=(low, high), switch_prob=1.0, seed=7)
    t = layer.get_random_transformation({"images": tf.zeros([2000, H, W, 1])}, seed=tf.constant([7, 7], tf.int64))
    y1, x1, y2, x2 = t["boxes"].numpy().T
    assert np.all((0 <= y1) & (y2 <= H) & (0 <= x1) & (x2 <= W))
    height, width = y2 - y1, x2 - x1
    # Sides uniform on [int(H * min), int(H * max)) and [int(W * min), int(W * max)), like timm.
    np.testing.assert_array_equal(np.unique(height), np.arange(int(H * low), int(H * high)))
    np.testing.assert_array_equal(np.unique(width), np.arange(int(W * low), int(W * high)))
    assert stats.chisquare(np.bincount(height)[int(H * low) :]).pvalue > P_MIN
    # Fully inside: the box reaches every border sometimes, and lam is the exact kept fraction.
    assert y1.min() == 0 and y2.max() == H and x1.min() == 0 and x2.max() == W
    kept = H * W - height * width
    np.testing.assert_array_equal(t["lambda"].numpy(), np.float32(kept) / np.float32(H * W))


def test_cutmix_minmax_equal_bounds_give_one_size():
    layer = MixUpCutMix(cutmix_minmax=(0.5, 0.5), mixup_alpha=0.0, seed=8)
    t = layer.get_random_transformation({"images": tf.zeros([50, H, W, 1])}, seed=tf.constant([8, 8], tf.int64))
    boxes = t["boxes"].numpy()
    assert np.all(boxes[:, 2] - boxes[:, 0] == H // 2) and np.all(boxes[:, 3] - boxes[:, 1] == W // 2)


# -- label smoothing ----------------------------------------------------------------------------------------


def test_label_smoothing_on_and_off_values_without_mixing():
    eps, k = 0.1, 10
    images, ids = np.zeros([B, 2, 2, 1], np.float32), np.arange(B) % k
    _, labels = MixUpCutMix(probability=0.0, label_smoothing=eps, num_classes=k, seed=9)((images, ids))
    labels = labels.numpy()
    on, off = labels[np.arange(B), ids], labels * (1 - np.eye(k)[ids])
    np.testing.assert_allclose(on, 1 - eps + eps / k, rtol=1e-6)
    np.testing.assert_allclose(off[off > 0], eps / k, rtol=1e-6)
    assert np.all((labels > 0).sum(-1) == k)
    np.testing.assert_allclose(labels.sum(-1), 1.0, rtol=1e-6)


def test_smoothing_and_mixing_commute():
    eps = 0.1
    images, labels = coded(B), np.eye(B, dtype=np.float32)
    smoothed, plain = MixUpCutMix(label_smoothing=eps, seed=10), MixUpCutMix(label_smoothing=0.0, seed=10)
    for _ in range(3):
        out_s, labels_s = smoothed((images, labels))
        out_p, labels_p = plain((images, labels))
        np.testing.assert_array_equal(out_s.numpy(), out_p.numpy())  # smoothing draws nothing
        labels_s, labels_p = labels_s.numpy(), labels_p.numpy()
        # Smoothing the mix == mixing the smoothed labels.
        np.testing.assert_allclose(labels_s, smooth(labels_p, eps), rtol=1e-6, atol=1e-7)
        lam, partner = labels_p.diagonal(), np.argmax(labels_p * (1 - np.eye(B)), -1)
        mixed_smooth = lam[:, None] * smooth(labels, eps) + (1 - lam[:, None]) * smooth(labels, eps)[partner]
        np.testing.assert_allclose(labels_s, mixed_smooth, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(labels_s.sum(-1), 1.0, rtol=1e-6)


# -- masks, batchwise ---------------------------------------------------------------------------------------


def test_segmentation_masks():
    images = np.broadcast_to(np.arange(1, 5, dtype=np.uint8).reshape(4, 1, 1, 1), (4, H, W, 3))
    masks = np.broadcast_to(np.arange(10, 14, dtype=np.int32).reshape(4, 1, 1), (4, H, W))
    inputs = {"images": images, "labels": np.eye(4, dtype=np.float32), "segmentation_masks": masks}
    with pytest.raises(ValueError, match="`segmentation_masks`.*mixup_alpha=0"):
        MixUpCutMix(seed=0)(inputs)
    out = MixUpCutMix(mixup_alpha=0.0, seed=11)(inputs)
    assert out["segmentation_masks"].dtype == tf.int32
    source = out["images"].numpy()[..., 0].astype(np.int64) - 1
    np.testing.assert_array_equal(out["segmentation_masks"].numpy(), 10 + source)
    assert np.any(source != np.arange(4)[:, None, None])


def test_batchwise_draws_one_decision_for_the_batch():
    layer = MixUpCutMix(batchwise=True, probability=0.8, seed=12)
    kinds = set()
    for k in range(10):
        t = layer.get_random_transformation({"images": tf.zeros([B, H, W, 1])}, seed=tf.constant([12, k], tf.int64))
        pasted, lam, boxes = t["use_cutmix"].numpy(), t["lambda"].numpy(), t["boxes"].numpy()
        assert np.all(pasted == pasted[0]) and np.all(lam == lam[0]) and np.all(boxes == boxes[0])
        kinds.add("cutmix" if pasted[0] else "mixup" if lam[0] < 1 else "none")
    assert kinds == {"cutmix", "mixup", "none"}


# -- labels, seeds, batches ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [[B], [B, 1]])
def test_sparse_labels_become_one_hot(shape):
    ids = (np.arange(B) % 3).reshape(shape)
    images = np.zeros([B, 2, 2, 1], np.float32)
    _, labels = MixUpCutMix(probability=0.0, label_smoothing=0.0, num_classes=3, seed=0)((images, ids))
    np.testing.assert_array_equal(labels.numpy(), np.eye(3, dtype=np.float32)[ids.reshape(-1)])


def test_odd_batch_of_three():
    images, labels = coded(3), np.eye(3, dtype=np.float32)
    out, mixed = MixUpCutMix(label_smoothing=0.0, seed=14)((images, labels))
    mixed = mixed.numpy()
    assert out.shape == images.shape
    np.testing.assert_allclose(mixed.sum(-1), 1.0, rtol=1e-6)
    assert np.all(mixed.diagonal() < 1) and np.all((mixed > 0).sum(-1) == 2)


@pytest.mark.parametrize("batch", [0, 1])
def test_static_batch_below_two_passes_through(small_photos, batch):
    # No partner: the images come back unchanged and the labels dense (as with an unknown batch size).
    images, labels = MixUpCutMix(seed=0, num_classes=4)((small_photos[:batch], np.arange(batch)))
    np.testing.assert_array_equal(images, small_photos[:batch])
    assert labels.shape == (batch, 4) and np.allclose(np.sum(labels, axis=-1), 1.0)


def test_dynamic_batch_of_one_passes_through():
    eps = 0.1
    layer = MixUpCutMix(label_smoothing=eps, seed=15)
    spec = [tf.TensorSpec([None, 3, 4, 3], tf.float32), tf.TensorSpec([None, 4], tf.float32)]
    run = tf.function(lambda x, y: layer((x, y)), input_signature=spec)
    images = np.random.default_rng(2).uniform(0, 1, [2, 3, 4, 3]).astype(np.float32)
    labels = np.array([[0.1, 0.2, 0.3, 0.4], [0, 1, 0, 0]], np.float32)
    for _ in range(10):
        out, mixed = run(images[:1], labels[:1])
        np.testing.assert_array_equal(out.numpy(), images[:1])
        # Labels are smoothed whether or not the image was mixed.
        np.testing.assert_allclose(mixed.numpy(), smooth(labels[:1], eps), rtol=1e-6)


# -- bad input ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"mixup_alpha": -0.1}, "`mixup_alpha`"),
        ({"cutmix_alpha": -1.0}, "`cutmix_alpha`"),
        ({"mixup_alpha": 0.0, "cutmix_alpha": 0.0}, "needs MixUp or CutMix.*mixup_alpha=0 and cutmix_alpha=0"),
        ({"cutmix_minmax": (0.6, 0.2)}, "`cutmix_minmax`"),
        ({"cutmix_minmax": (0.2, 1.5)}, "`cutmix_minmax`"),
        ({"cutmix_minmax": 0.5}, "`cutmix_minmax`"),
        ({"probability": 1.5}, "`probability`"),
        ({"switch_prob": -0.5}, "`switch_prob`"),
        ({"label_smoothing": 1.0}, "`label_smoothing`"),
        ({"label_smoothing": -0.1}, "`label_smoothing`"),
        ({"pairing": "random"}, "`pairing`"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MixUpCutMix(**kwargs)


def test_minmax_alone_enables_cutmix():
    layer = MixUpCutMix(mixup_alpha=0.0, cutmix_alpha=0.0, cutmix_minmax=(0.2, 0.5), seed=0)
    assert layer.cutmix_enabled and not layer.mixup_enabled
