"""AugMix: run-time chains, Dirichlet/Beta weights, the mixing formula, and the consistency loss."""

import keras
import numpy as np
import pytest
import scipy.stats
import tensorflow as tf

from tfaug import AugMix
from tfaug import AugMixConsistency
from tfaug.layers import augmix_views
from tfaug.policies import engine

SEED = tf.constant([5, 6], tf.int64)


@pytest.mark.parametrize(
    "interpolation, all_ops",
    [
        ("nearest", False),
        pytest.param("nearest", True, marks=pytest.mark.slow),
        pytest.param("bilinear", False, marks=pytest.mark.slow),
    ],
)
def test_output_is_the_documented_convex_mix(small_photos, interpolation, all_ops):
    images = tf.constant(small_photos.astype(np.float32))
    layer = AugMix(seed=0, interpolation=interpolation, all_ops=all_ops)
    t = layer.get_random_transformation({"images": images}, seed=SEED)
    out = layer.augment(images, seed=SEED).numpy()
    tiled = tf.tile(images, [3, 1, 1, 1])
    program, settings = layer.program(t, 24, 40), layer.settings(tiled)
    chains = engine.apply_program(tiled, program, settings).numpy().reshape(3, *small_photos.shape)
    w = t["chain_weights"].numpy()
    m = t["skip_weight"].numpy()[:, None, None, None]
    mixed = np.einsum("bk,kbhwc->bhwc", w, chains)
    np.testing.assert_allclose(out, (1 - m) * small_photos + m * mixed, rtol=1e-5, atol=1e-3)


def test_weights_depths_and_levels_are_drawn_per_image():
    layer = AugMix(severity=3, width=3, alpha=1.0, seed=0)
    n = 20000
    t = layer.get_random_transformation({"images": tf.zeros([n, 4, 4, 3])}, seed=SEED)
    w = t["chain_weights"].numpy()
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-5)
    # Dirichlet(1, 1, 1): each weight is Beta(1, 2).
    assert scipy.stats.kstest(w[:, 0], scipy.stats.beta(1, 2).cdf).pvalue > 1e-3
    assert scipy.stats.kstest(t["skip_weight"].numpy(), scipy.stats.beta(1, 1).cdf).pvalue > 1e-3
    depth = (t["op_ids"].numpy() >= 0).sum(axis=1)  # rows are chains
    assert scipy.stats.chisquare(np.bincount(depth, minlength=4)[1:]).pvalue > 1e-3
    rotate = layer.op_table.index("rotate")
    angles = np.abs(t["arguments"].numpy()[t["op_ids"].numpy() == rotate])
    # Level uniform in [0.1, severity] on the 0..10 scale: 3 degrees per level.
    assert scipy.stats.kstest(angles / 3.0, scipy.stats.uniform(0.1, 2.9).cdf).pvalue > 1e-3


def test_chains_are_drawn_at_run_time_not_trace_time(small_photos):
    layer = AugMix(seed=0)
    fn = tf.function(lambda x: layer(x, training=True))
    first, second = fn(small_photos).numpy(), fn(small_photos).numpy()
    assert fn.experimental_get_tracing_count() == 1
    assert not np.array_equal(first, second)


def test_paper_ops_exclude_the_colour_enhancers():
    assert not {"color", "contrast", "brightness", "sharpness"} & set(AugMix().op_table)
    assert {"color", "contrast", "brightness", "sharpness"} <= set(AugMix(all_ops=True).op_table)


def test_dtype_is_kept_and_inference_is_identity(small_photos):
    out = AugMix(seed=1)(small_photos)
    assert out.dtype == tf.uint8 and out.shape == small_photos.shape
    np.testing.assert_array_equal(AugMix(seed=1)(small_photos, training=False), small_photos)


def _numpy_loss(y, logits, weight):
    def softmax(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    clean, a1, a2 = np.split(logits, 3)
    p = [softmax(z) for z in (clean, a1, a2)]
    ce = -np.sum(y * np.log(p[0]), axis=1)
    m = np.clip((p[0] + p[1] + p[2]) / 3, 1e-7, 1)
    js = sum(np.sum(q * (np.log(np.clip(q, 1e-7, 1)) - np.log(m)), axis=1) for q in p) / 3
    return np.mean(ce + weight * js)


def test_consistency_loss_matches_a_hand_computation():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3 * 4, 5)).astype(np.float32)
    y = np.eye(5, dtype=np.float32)[[0, 3, 1, 4]]
    loss = AugMixConsistency()(y, logits)
    assert float(loss) == pytest.approx(_numpy_loss(y, logits, 12.0), rel=1e-5)
    sparse = AugMixConsistency(weight=2.0)(np.array([0, 3, 1, 4]), logits)
    assert float(sparse) == pytest.approx(_numpy_loss(y, logits, 2.0), rel=1e-5)
    # Identical views: no divergence, only the clean cross-entropy.
    same = np.concatenate([logits[:4]] * 3)
    assert float(AugMixConsistency()(y, same)) == pytest.approx(_numpy_loss(y, same, 0.0), rel=1e-5)


def test_views_helper_and_loss_train_a_model(small_photos):
    layer = AugMix(seed=0)
    views = augmix_views(layer, tf.constant(small_photos.astype(np.float32)))
    assert views.shape == (12, 24, 40, 3)
    np.testing.assert_array_equal(views[:4], small_photos)
    assert not np.array_equal(views[4:8], views[8:])
    model = keras.Sequential(
        [
            keras.Input((24, 40, 3)),
            keras.layers.Rescaling(1 / 255.0),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3),
        ]
    )
    model.compile("adam", loss=AugMixConsistency())
    ds = tf.data.Dataset.from_tensors((views, tf.constant([0, 1, 2, 0])))
    history = model.fit(ds, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    restored = AugMixConsistency.from_config(AugMixConsistency(weight=3.0).get_config())
    assert restored.weight == 3.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"severity": 0}, "severity"),
        ({"width": 0}, "width"),
        ({"depth": 4}, "depth"),
        ({"alpha": 0}, "alpha"),
        ({"all_ops": "yes"}, "all_ops"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AugMix(**kwargs)


@pytest.mark.slow
def test_gray_then_rgb_then_gray_in_one_process():
    # The compiled kernels are keyed on the channel count: a gray batch first must not break an RGB one.
    for channels in (1, 3, 1, 4):
        images = np.random.default_rng(channels).integers(0, 256, (4, 16, 20, channels)).astype(np.uint8)
        for layer in (AugMix(seed=0), AugMix(seed=0, all_ops=True, interpolation="bilinear")):
            if channels == 4 and layer.all_ops:
                continue  # colour needs RGB or gray
            assert layer(images).shape == images.shape
