"""FeatureNormalizer: streamed statistics against NumPy and scikit-learn's PCA, the order of each metric's steps."""

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.preprocessing import normalize

from recipes.feature_normalization import FeatureNormalizer


@pytest.fixture(scope="module")
def embeddings():
    """Correlated 6-D embeddings far from the origin (offset 1000): naive sums of squares would cancel."""
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(6, 6))
    return (rng.normal(size=(60, 6)) @ mixing + 1000.0).astype(np.float32)


def _streamed(normalizer, x, batch_size):
    for start in range(0, len(x), batch_size):
        normalizer.partial_fit(x[start : start + batch_size])
    return normalizer


def _gram(features):
    features = np.asarray(features, np.float64)
    return features @ features.T


def test_streamed_whitening_matches_pca(embeddings):
    normalizer = _streamed(FeatureNormalizer(metric="euclidean", whiten=True), embeddings, batch_size=7)
    pca = PCA(whiten=True, svd_solver="full").fit(embeddings.astype(np.float64))
    assert normalizer.count_ == 60
    np.testing.assert_allclose(normalizer.mean_, pca.mean_, rtol=1e-12)
    np.testing.assert_allclose(normalizer.variances_, pca.explained_variance_, rtol=1e-9)
    np.testing.assert_allclose(np.abs(normalizer.components_.T), np.abs(pca.components_), atol=1e-9)
    features = normalizer.transform(embeddings).numpy()
    # Gram matrices: PCA may flip the sign of an axis.
    np.testing.assert_allclose(_gram(features), _gram(pca.transform(embeddings)), atol=2e-3)
    np.testing.assert_allclose(np.cov(features.T), np.eye(6), atol=1e-3)


def test_batch_boundaries_do_not_change_the_statistics(embeddings):
    whole = FeatureNormalizer(metric="cosine", whiten=True).partial_fit(embeddings)
    for batch_size in (1, 13):
        streamed = _streamed(FeatureNormalizer(metric="cosine", whiten=True), embeddings, batch_size)
        # Equal up to float32 round-off of the L2 normalisation, which may depend on the batch shape.
        np.testing.assert_allclose(streamed.mean_, whole.mean_, rtol=1e-6)
        np.testing.assert_allclose(streamed.variances_, whole.variances_, rtol=1e-4)


@pytest.mark.parametrize(("center", "whiten"), [(False, False), (True, False), (True, True)])
def test_cosine_is_l2_centre_whiten_l2(embeddings, center, whiten):
    # Around the origin: unit vectors of a far-off cluster would vary little in their radial direction,
    # which whitening drops (scikit-learn's PCA would keep it).
    embeddings = embeddings - np.float32(1000.0)
    normalizer = FeatureNormalizer(metric="cosine", center=center, whiten=whiten).partial_fit(embeddings)
    expected = normalize(embeddings.astype(np.float64))
    if whiten:
        expected = PCA(whiten=True, svd_solver="full").fit_transform(expected)
    elif center:
        expected = expected - expected.mean(axis=0)
    expected = normalize(expected)
    features = normalizer.transform(embeddings).numpy()
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(_gram(features), _gram(expected), atol=1e-4)


def test_whitening_keeps_the_directions_that_vary(embeddings):
    # Four embeddings span three centred directions: the other three are dropped, not divided by ~0.
    normalizer = FeatureNormalizer(metric="euclidean", whiten=True).partial_fit(embeddings[:4])
    pca = PCA(3, whiten=True, svd_solver="full").fit(embeddings[:4].astype(np.float64))
    features = normalizer.transform(embeddings[:10]).numpy()
    assert features.shape == (10, 3)
    np.testing.assert_allclose(_gram(features), _gram(pca.transform(embeddings[:10])), rtol=1e-3, atol=1e-2)
    normalizer = FeatureNormalizer(metric="euclidean", whiten=True, dimensions=2).partial_fit(embeddings)
    pca = PCA(2, whiten=True, svd_solver="full").fit(embeddings.astype(np.float64))
    np.testing.assert_allclose(_gram(normalizer.transform(embeddings)), _gram(pca.transform(embeddings)), atol=1e-3)


def test_bad_embeddings_are_refused(embeddings):
    with pytest.raises(ValueError, match="no embeddings"):
        FeatureNormalizer().transform(embeddings)
    with pytest.raises(ValueError, match="`embeddings` must be 2-D"):
        FeatureNormalizer().partial_fit(embeddings[0])
    with pytest.raises(ValueError, match="`embeddings` must be finite"):
        FeatureNormalizer().partial_fit(np.full((2, 6), np.inf, np.float32))
    normalizer = FeatureNormalizer(whiten=True).partial_fit(embeddings[:1])
    with pytest.raises(ValueError, match="`embeddings` must have dimension 6"):
        normalizer.partial_fit(embeddings[:, :5])
    with pytest.raises(ValueError, match="at least 2 training embeddings"):
        normalizer.transform(embeddings)
    with pytest.raises(ValueError, match="vary"):
        FeatureNormalizer(whiten=True).partial_fit(np.ones((5, 6), np.float32)).transform(embeddings)
