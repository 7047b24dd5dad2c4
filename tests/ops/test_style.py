"""Feature moments, AdaIN, Gram matrices and the style loss against plain float64 NumPy references."""

import numpy as np
import pytest
import tensorflow as tf

from tfaug import ops

EPS = 1e-5


def np_moments(x, eps=EPS):
    return x.mean(axis=(1, 2)), np.sqrt(x.var(axis=(1, 2)) + eps)


def np_adain(c, s, eps=EPS):
    cm, cs = np_moments(c, eps)
    sm, ss = np_moments(s, eps)
    return ss[:, None, None] * (c - cm[:, None, None]) / cs[:, None, None] + sm[:, None, None]


def np_gram(x):
    b, h, w, c = x.shape
    f = x.reshape(b, h * w, c).transpose(0, 2, 1)  # [B, C, HW]
    return np.einsum("bip,bjp->bij", f, f) / (c * h * w)


@pytest.fixture(scope="module")
def maps():
    rng = np.random.default_rng(0)
    # Channels with different scales and offsets, content and style of different sizes.
    content = rng.normal(size=[3, 5, 7, 4]) * [0.5, 1.0, 2.0, 4.0] + [0.0, 1.0, -2.0, 3.0]
    style = rng.normal(size=[3, 6, 4, 4]) * [3.0, 0.2, 1.0, 0.7] + [1.0, -1.0, 0.5, 0.0]
    return content, style


def test_feature_moments_match_numpy(maps):
    content, _ = maps
    mean, std = ops.feature_moments(content)
    ref_mean, ref_std = np_moments(content)
    assert mean.shape == (3, 4) and std.shape == (3, 4) and mean.dtype == tf.float64
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-12)
    np.testing.assert_allclose(std, ref_std, rtol=1e-12)
    # Epsilon sits inside the square root: a flat channel has std sqrt(epsilon).
    _, flat_std = ops.feature_moments(np.ones([1, 3, 3, 2]), epsilon=0.25)
    np.testing.assert_allclose(flat_std, 0.5)
    # unbiased: divided by H * W - 1, as torch.var; a single pixel has variance 0, not NaN.
    _, unbiased_std = ops.feature_moments(content, epsilon=1e-5, unbiased=True)
    np.testing.assert_allclose(unbiased_std, np.sqrt(content.var(axis=(1, 2), ddof=1) + 1e-5), rtol=1e-12)
    _, one_pixel = ops.feature_moments(np.ones([2, 1, 1, 3]), epsilon=0.25, unbiased=True)
    np.testing.assert_allclose(one_pixel, 0.5)


def test_adain_matches_numpy_and_moves_statistics_to_the_style(maps):
    content, style = maps
    out = ops.adain(content, style).numpy()
    np.testing.assert_allclose(out, np_adain(content, style), rtol=1e-10, atol=1e-12)
    mean, std = np_moments(out, eps=0.0)
    style_mean, style_std = np_moments(style)
    np.testing.assert_allclose(mean, style_mean, atol=1e-12)
    np.testing.assert_allclose(std, style_std, rtol=1e-4)  # up to the epsilon in both square roots


def test_adain_from_moments_broadcasts_per_image_and_shared_targets(maps):
    content, _ = maps
    mean, std = np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.5, 1.0, 1.5, 2.0])
    shared = ops.adain_from_moments(content, mean, std).numpy()
    per_image = ops.adain_from_moments(content, np.tile(mean, [3, 1]), np.tile(std, [3, 1])).numpy()
    np.testing.assert_allclose(shared, per_image, rtol=1e-12)
    out_mean, _ = np_moments(shared)
    np.testing.assert_allclose(out_mean, np.tile(mean, [3, 1]), atol=1e-12)


def test_gram_matrix_and_style_loss_match_numpy(maps):
    content, style = maps
    gram = ops.gram_matrix(content).numpy()
    np.testing.assert_allclose(gram, np_gram(content), rtol=1e-12)
    np.testing.assert_allclose(gram, gram.transpose(0, 2, 1))
    expected = np.mean((np_gram(content) - np_gram(style)) ** 2)
    np.testing.assert_allclose(ops.style_loss(content, style), expected, rtol=1e-12)
    two_layers = ops.style_loss([content, content[:, :3]], [style, style[:, ::2]])
    expected += np.mean((np_gram(content[:, :3]) - np_gram(style[:, ::2])) ** 2)
    np.testing.assert_allclose(two_layers, expected, rtol=1e-12)
    assert float(ops.style_loss(content, content)) == 0.0


def test_same_results_in_a_graph_and_under_xla(maps):
    content, style = (tf.constant(x, tf.float32) for x in maps)

    def run(c, s):
        return ops.adain(c, s), ops.feature_moments(c), ops.gram_matrix(c), ops.style_loss(c, s)

    eager = run(content, style)
    for other in (tf.function(run)(content, style), tf.function(run, jit_compile=True)(content, style)):
        for a, b in zip(tf.nest.flatten(eager), tf.nest.flatten(other)):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_bad_inputs_are_refused_by_name():
    with pytest.raises(ValueError, match=r"`features` must be a \[batch, height, width, channels\]"):
        ops.feature_moments(np.zeros([4, 4, 3]))
    with pytest.raises(TypeError, match="`content` must have a float dtype"):
        ops.adain(np.zeros([1, 4, 4, 3], np.int32), np.zeros([1, 4, 4, 3]))
    with pytest.raises(ValueError, match="same non-zero number of layers"):
        ops.style_loss([np.zeros([1, 2, 2, 1])], [])
    with pytest.raises(ValueError, match="both be feature maps or both lists"):
        ops.style_loss(np.zeros([1, 2, 2, 1]), [np.zeros([1, 2, 2, 1])])
