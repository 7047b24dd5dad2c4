"""Feature normalisation for nearest-neighbour search, learned from training embeddings streamed batch by batch.

Order, by metric (statistics from the training embeddings only):

- `metric="cosine"`: L2 -> centre -> PCA-whiten -> L2 (the retrieval order of Jegou and Chum 2012): the first
  L2 discards the norm, which cosine ignores anyway, so the mean and covariance are those of the directions
  that cosine compares; the last L2 makes a dot product the cosine similarity.
- `metric="euclidean"`: centre -> PCA-whiten, no L2. Centring alone changes no Euclidean distance; it is there
  for symmetry and matters only through whitening.

Whitening always centres, as PCA does. The mean and covariance come from float64 sums merged batch by batch
(Chan et al.'s pairwise update, stable for embeddings far from the origin), so the training set is read once.

References:
    Jegou, Chum. Negative evidences and co-occurrences in image retrieval: the benefit of PCA and
        whitening. ECCV 2012 (L2 -> PCA whitening -> L2).
    Chan, Golub, LeVeque. Updating Formulae and a Pairwise Algorithm for Computing Sample Variances. 1979.
"""

import numbers

import numpy as np
import tensorflow as tf

from tfaug import validation as v

METRICS = ("cosine", "euclidean")

__all__ = ["FeatureNormalizer"]


def _l2(x):
    # A zero vector stays zero (its cosine with everything is 0) instead of becoming NaN.
    return tf.math.l2_normalize(x, axis=1, epsilon=1e-12)


def _check_dimensions(dimensions, whiten):
    if dimensions is None:
        return None
    if isinstance(dimensions, bool) or not isinstance(dimensions, numbers.Integral) or dimensions < 1:
        raise ValueError(f"`dimensions` must be a positive int or None, got {dimensions!r}.")
    if not whiten:
        raise ValueError(
            f"`dimensions` keeps principal directions of the whitening; it needs whiten=True, got "
            f"dimensions={dimensions!r} with whiten=False."
        )
    return int(dimensions)


class FeatureNormalizer:
    """Normalises embeddings with statistics learned from training embeddings streamed batch by batch.

    `metric="cosine"`: L2 -> centre -> PCA-whiten -> L2; `metric="euclidean"`: centre -> PCA-whiten (see the
    module docstring for why). Centring subtracts the training mean (of the unit vectors for cosine).
    PCA whitening projects the centred features on the eigenvectors of the training covariance (`N - 1` in
    the denominator, as scikit-learn's `PCA`) and divides each coordinate by the square root of its
    eigenvalue, so the training features get an identity covariance; it centres too. Directions whose
    variance is at most `epsilon` times the largest (or at float32 round-off of the embeddings) are dropped:
    with fewer embeddings than dimensions the covariance has rank `N - 1` at most, and dividing by a
    near-zero variance would let noise in those directions dominate every distance. Deterministic;
    eigenvector signs are fixed (largest entry positive).

    Args:
        metric: `"cosine"` (default) or `"euclidean"`.
        center: subtract the training mean. Default False.
        whiten: PCA-whiten (and centre). Default False.
        dimensions: keep at most this many principal directions (largest variance first); needs
            `whiten=True`. Default None: every direction above the `epsilon` threshold.
        epsilon: relative variance threshold for dropped directions, in (0, 1). Default 1e-6.

    Call `partial_fit(embeddings)` once per training batch, then `transform(embeddings)`.

    Attributes (after `partial_fit`): `count_` (embeddings seen), `mean_` (float64 `[D]`), and with whitening
    `components_` (float64 `[D, d]`, eigenvectors as columns) and `variances_` (float64 `[d]`, descending).

    Raises:
        ValueError: bad arguments; embeddings that are not 2-D, of another dimension than the first batch,
            or not finite; whitening fewer than 2 embeddings or embeddings that do not vary; `dimensions`
            larger than the embedding dimension; `transform` before any `partial_fit`.

    Example:
        >>> normalizer = FeatureNormalizer(metric="cosine", whiten=True)
        >>> for batch in train_embeddings:
        ...     normalizer.partial_fit(batch)
        >>> features = normalizer.transform(query_embeddings)  # float32 [n, d], unit rows
    """

    def __init__(self, metric="cosine", center=False, whiten=False, dimensions=None, epsilon=1e-6):
        self.metric = v.check_choice("metric", metric, METRICS)
        self.center = v.check_bool("center", center)
        self.whiten = v.check_bool("whiten", whiten)
        self.dimensions = _check_dimensions(dimensions, self.whiten)
        self.epsilon = v.check_number("epsilon", epsilon, 0.0, 1.0)
        if self.epsilon in (0.0, 1.0):
            raise ValueError(f"`epsilon` must be a finite number in (0, 1), got {epsilon!r}.")
        self.count_ = 0
        self.mean_ = None
        self._scatter = None  # sum of outer products of the centred embeddings
        # Computed lazily from the sums, at the first `transform` after `partial_fit`.
        self._shift = self._projection = self._components = self._variances = None

    def _unit(self, embeddings):
        embeddings = tf.cast(embeddings, tf.float32)
        return _l2(embeddings) if self.metric == "cosine" else embeddings

    def _check(self, embeddings):
        embeddings = tf.convert_to_tensor(embeddings)
        if embeddings.shape.rank != 2:
            raise ValueError(f"`embeddings` must be 2-D [batch, dimension], got shape {embeddings.shape}.")
        if self.mean_ is not None and embeddings.shape[1] != self.mean_.shape[0]:
            raise ValueError(
                f"`embeddings` must have dimension {self.mean_.shape[0]} (that of the training embeddings), got "
                f"shape {embeddings.shape}."
            )
        return embeddings

    def partial_fit(self, embeddings):
        """Adds a batch `[b, D]` of training embeddings to the streaming sums; returns self."""
        x = self._check(embeddings)
        x = self._unit(x).numpy().astype(np.float64)
        if not np.isfinite(x).all():
            raise ValueError("`embeddings` must be finite; got NaN or infinity.")
        if self.mean_ is None:
            self.mean_ = np.zeros(x.shape[1])
            self._scatter = np.zeros((x.shape[1], x.shape[1])) if self.whiten else None
        if len(x) == 0:
            return self
        batch_mean = x.mean(axis=0)
        count = self.count_ + len(x)
        delta = batch_mean - self.mean_
        # Merging centred sums (Chan et al.) instead of accumulating sum(x x^T): no cancellation when the
        # embeddings sit far from the origin.
        if self.whiten:
            centred = x - batch_mean
            self._scatter += centred.T @ centred + np.outer(delta, delta) * (self.count_ * len(x) / count)
        self.mean_ += delta * (len(x) / count)
        self.count_ = count
        self._shift = self._projection = self._components = self._variances = None
        return self

    def _solve(self):
        if self.count_ == 0:
            raise ValueError("FeatureNormalizer has seen no embeddings: call `partial_fit` first.")
        if self.dimensions is not None and self.dimensions > self.mean_.shape[0]:
            raise ValueError(
                f"`dimensions` must be at most the embedding dimension {self.mean_.shape[0]}, got {self.dimensions}."
            )
        if self.whiten:
            self._whiten()
        # Set last: a failed solve leaves the normaliser unsolved rather than half-solved.
        centred = self.center or self.whiten
        self._shift = tf.constant(self.mean_ if centred else np.zeros_like(self.mean_), tf.float32)

    def _whiten(self):
        if self.count_ < 2:
            raise ValueError(f"Whitening needs at least 2 training embeddings, got {self.count_}.")
        variances, vectors = np.linalg.eigh(self._scatter / (self.count_ - 1))
        variances, vectors = variances[::-1], vectors[:, ::-1]
        # Relative to the largest variance, and never below float32 rounding of the embeddings themselves
        # (identical embeddings leave round-off variance in the sums).
        rounding = np.finfo(np.float32).eps ** 2 * (np.sum(np.maximum(variances, 0.0)) + np.sum(self.mean_**2))
        keep = int(np.sum(variances > max(self.epsilon * variances[0], rounding)))
        if keep == 0:
            raise ValueError("Whitening needs training embeddings that vary; all of them are equal.")
        keep = min(keep, self.dimensions or keep)
        variances, vectors = variances[:keep], vectors[:, :keep]
        rows = np.argmax(np.abs(vectors), axis=0)
        vectors = vectors * np.sign(vectors[rows, np.arange(keep)])
        self._components, self._variances = vectors, variances
        self._projection = tf.constant(vectors / np.sqrt(variances), tf.float32)

    @property
    def components_(self):
        """Whitening directions, float64 `[D, d]` (eigenvectors as columns, largest variance first); or None."""
        return self._fitted()._components

    @property
    def variances_(self):
        """Training variances along `components_`, float64 `[d]`, descending; or None without whitening."""
        return self._fitted()._variances

    def _fitted(self):
        if self._shift is None:
            self._solve()
        return self

    def transform(self, embeddings):
        """Normalised features: float32 `[n, d]` (`d = D` without whitening), unit rows for cosine."""
        x = self._check(embeddings)
        self._fitted()
        x = self._unit(x) - self._shift
        if self._projection is not None:
            x = tf.matmul(x, self._projection)
        return _l2(x) if self.metric == "cosine" else x
