"""Nearest-neighbour classification on embeddings: k-NN and nearest class mean (NCM), streamed over batches.

    >>> from recipes.neighbors import NearestNeighborClassifier, NearestMeanClassifier
    >>> knn = NearestNeighborClassifier(k=1, metric="cosine", whiten=True, embedding_model=backbone)
    >>> knn.fit(train_ds).score(test_ds)
    >>> ncm = NearestMeanClassifier(metric="cosine", center=True).fit(train_ds)
    >>> labels = ncm.predict(test_images)

With a tiny labelled set, 1-NN on L2-normalised features of a pretrained network is a strong baseline, and the
feature normalisation (L2, centring, PCA whitening) matters; decoupled long-tailed training (Kang et al. 2020)
uses the nearest class mean of L2-normalised features as a classifier that needs no training at all.

`fit` embeds the training data once, batch by batch, and learns the normalisation from streamed sums
(`recipes.feature_normalization.FeatureNormalizer`: cosine L2 -> centre -> whiten -> L2, Euclidean
centre -> whiten). The training embeddings are kept (float32 `[N, D]`) because k-NN searches them; a query
batch goes through them in chunks of `chunk_size` with a running top-k, so the search needs
`O(batch * chunk_size)` memory and no all-pairs matrix is ever formed.

Reference:
    Kang, Xie, Rohrbach, Yan, Gordo, Feng, Kalantidis. Decoupling Representation and Classifier for
        Long-Tailed Recognition. ICLR 2020 (NCM on L2-normalised features).
"""

import numpy as np
import tensorflow as tf

from recipes.feature_normalization import FeatureNormalizer
from tfaug import validation as v

__all__ = ["NearestMeanClassifier", "NearestNeighborClassifier"]


def _check_embedding_model(embedding_model):
    if embedding_model is None:
        return None
    if not callable(embedding_model):
        raise ValueError(f"`embedding_model` must be a Keras model (a callable) or None, got {embedding_model!r}.")
    return embedding_model


def _batches(data, batch_size, labelled):
    """Yields `(x, y)` batches from a `tf.data.Dataset` of batches or from arrays; `y` is None if absent."""
    form = "a tf.data.Dataset of (x, y) batches, or an (x, y) tuple of arrays"
    if isinstance(data, tf.data.Dataset):
        for element in data:
            x, y = element if isinstance(element, tuple) and len(element) == 2 else (element, None)
            if isinstance(x, (tuple, dict)):
                raise ValueError(f"`data` must yield `x` or `(x, y)` batches, got an element {element!r}.")
            if labelled and y is None:
                raise ValueError(f"`data` must give labels: {form}.")
            yield x, y
        return
    x, y = data if isinstance(data, tuple) and len(data) == 2 else (data, None)
    if labelled and y is None:
        raise ValueError(f"`data` must give labels: {form}; got {type(data).__name__}.")
    x = x if tf.is_tensor(x) else np.asarray(x)
    if len(x.shape) == 0:
        raise ValueError(f"`data` must hold a batch of examples, got a scalar {x!r}.")
    if y is not None:
        y = y if tf.is_tensor(y) else np.asarray(y)
        if len(y) != len(x):
            raise ValueError(f"`data` has {len(y)} labels for {len(x)} examples; they must match.")
    for start in range(0, len(x), batch_size):
        yield x[start : start + batch_size], None if y is None else y[start : start + batch_size]


def _labels(y, count):
    """Class ids `[count]` int64 from ids `[b]` / `[b, 1]` or one-hot / probabilities `[b, K]` (argmax)."""
    y = np.asarray(y)
    if y.ndim == 2:
        # [b, 1] holds class ids (Keras's sparse form); a one-class one-hot would be meaningless.
        y = y[:, 0] if y.shape[1] == 1 else np.argmax(y, axis=1)
    if y.ndim != 1:
        raise ValueError(f"`data`'s labels must be class ids [batch] or one-hot [batch, classes], got shape {y.shape}.")
    if len(y) != count:
        raise ValueError(f"`data` has a batch of {len(y)} labels for {count} examples; they must match.")
    if not np.issubdtype(y.dtype, np.integer) and not (np.isfinite(y).all() and (y == np.round(y)).all()):
        raise ValueError(f"`data`'s labels must be integer class ids, got {y[:5]!r}...")
    return y.astype(np.int64)


def _neighbors(queries, keys, key_norms, k, chunk_size):
    """Top-k keys of each query as `(scores, indices)` `[b, k]`, best first; ties go to the lower index.

    Score: `q . t` for cosine (`key_norms` None), `2 q . t - |t|^2` (= `|q|^2 - |q - t|^2`) for Euclidean.
    The running top-k is concatenated before each new chunk: `tf.math.top_k` keeps the earlier of equal
    values, so the result is that of one top-k over all keys.
    """
    best_scores = best_indices = None
    for start in range(0, keys.shape[0], chunk_size):
        scores = tf.matmul(queries, keys[start : start + chunk_size], transpose_b=True)
        if key_norms is not None:
            scores = 2.0 * scores - key_norms[start : start + chunk_size]
        indices = tf.broadcast_to(tf.range(start, start + scores.shape[1], dtype=tf.int64), tf.shape(scores))
        if best_scores is not None:
            scores = tf.concat([best_scores, scores], axis=1)
            indices = tf.concat([best_indices, indices], axis=1)
        best_scores, positions = tf.math.top_k(scores, k=min(k, scores.shape[1]))
        best_indices = tf.gather(indices, positions, batch_dims=1)
    return best_scores, best_indices


class _EmbeddingClassifier:
    """Embeds, normalises and searches; subclasses choose the keys (training set or class means)."""

    def __init__(self, metric, center, whiten, embedding_model, batch_size, dimensions, epsilon, chunk_size):
        # A throwaway normaliser checks the normalisation arguments now rather than at `fit`.
        FeatureNormalizer(metric, center, whiten, dimensions, epsilon)
        self.metric, self.center, self.whiten = metric, center, whiten
        self.dimensions, self.epsilon = dimensions, epsilon
        self.embedding_model = _check_embedding_model(embedding_model)
        self.batch_size = v.check_int("batch_size", batch_size, low=1)
        self.chunk_size = v.check_int("chunk_size", chunk_size, low=1)
        self._embed_fn = None
        if self.embedding_model is not None:
            model = self.embedding_model
            # One traced graph per batch shape instead of layer-by-layer eager calls.
            self._embed_fn = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
        self._keys = None

    def _embed(self, x):
        if self._embed_fn is None:
            embeddings, source, hint = tf.convert_to_tensor(x), "`data` (embeddings)", "batch a dataset"
        else:
            embeddings, source, hint = self._embed_fn(x), "The output of `embedding_model`", "pool or flatten it"
        if not tf.is_tensor(embeddings) or embeddings.shape.rank != 2:
            shape = getattr(embeddings, "shape", type(embeddings).__name__)
            raise ValueError(f"{source} must be 2-D [batch, dimension] ({hint}), got {shape}.")
        if self._keys is not None and embeddings.shape[1] != self.normalizer_.mean_.shape[0]:
            raise ValueError(
                f"{source} must have the training embeddings' dimension {self.normalizer_.mean_.shape[0]}, got "
                f"shape {embeddings.shape}."
            )
        embeddings = tf.cast(embeddings, tf.float32)
        if not bool(tf.reduce_all(tf.math.is_finite(embeddings))):
            raise ValueError(f"{source} must be finite; got NaN or infinity.")
        return embeddings

    def fit(self, data):
        """Embeds the training data once, learns the normalisation and stores the keys; returns self.

        Args:
            data: a `tf.data.Dataset` of `(x, y)` batches, or an `(x, y)` tuple of arrays or tensors
                (split into batches of `batch_size`). `y`: class ids `[b]` (or `[b, 1]`) of any integers,
                or one-hot / probabilities `[b, K]` (argmax). `x`: images for `embedding_model`, else
                embeddings `[b, D]`.
        """
        self._keys = None  # a refit may change the embedding dimension
        normalizer = FeatureNormalizer(self.metric, self.center, self.whiten, self.dimensions, self.epsilon)
        embeddings, labels = [], []
        for x, y in _batches(data, self.batch_size, labelled=True):
            batch = self._embed(x)
            labels.append(_labels(y, batch.shape[0]))
            normalizer.partial_fit(batch)
            embeddings.append(batch.numpy())
        if not labels or sum(len(y) for y in labels) == 0:
            raise ValueError("`data` has no examples to fit.")
        self.classes_, class_ids = np.unique(np.concatenate(labels), return_inverse=True)
        embeddings = np.concatenate(embeddings)
        features = tf.concat(
            [
                normalizer.transform(embeddings[i : i + self.chunk_size])
                for i in range(0, len(embeddings), self.chunk_size)
            ],
            axis=0,
        )
        self.normalizer_ = normalizer
        self._set_keys(features, class_ids.reshape(-1))
        return self

    def _set_keys(self, features, class_ids):
        raise NotImplementedError

    def _search(self, data, k):
        """Yields `(distances, indices)` `[b, k]` of each query batch's k nearest keys."""
        if self._keys is None:
            raise ValueError(f"This {type(self).__name__} is not fitted yet: call `fit` first.")
        for x, _ in _batches(data, self.batch_size, labelled=False):
            queries = self.normalizer_.transform(self._embed(x))
            scores, indices = _neighbors(queries, self._keys, self._key_norms, k, self.chunk_size)
            if self.metric == "cosine":
                distances = 1.0 - scores
            else:
                squared_norms = tf.reduce_sum(tf.square(queries), axis=1, keepdims=True)
                distances = tf.sqrt(tf.maximum(squared_norms - scores, 0.0))
            yield distances.numpy(), indices.numpy()

    def _vote(self, indices):
        return self._key_classes[indices[:, 0]]

    def predict(self, data):
        """Class labels (values of the training labels) of `data`: np.int64 `[n]`.

        Args:
            data: a `tf.data.Dataset` of `x` or `(x, y)` batches (labels ignored), or arrays / tensors `x`
                or an `(x, y)` tuple.
        """
        predictions = [self.classes_[self._vote(indices)] for _, indices in self._search(data, self._k)]
        return np.concatenate(predictions) if predictions else np.zeros([0], np.int64)

    def score(self, data):
        """Accuracy (float in [0, 1]) on labelled `data` (as for `fit`)."""
        if self._keys is None:
            raise ValueError(f"This {type(self).__name__} is not fitted yet: call `fit` first.")
        correct = total = 0
        for x, y in _batches(data, self.batch_size, labelled=True):
            predicted = self.predict(x)
            correct += int(np.sum(predicted == _labels(y, len(predicted))))
            total += len(predicted)
        if total == 0:
            raise ValueError("`data` has no examples to score.")
        return correct / total

    def _store(self, keys, key_classes):
        self._keys = keys
        self._key_classes = key_classes
        # |t|^2 once per key for the Euclidean score; cosine keys are unit vectors.
        self._key_norms = None if self.metric == "cosine" else tf.reduce_sum(tf.square(keys), axis=1)


class NearestNeighborClassifier(_EmbeddingClassifier):
    """k-nearest-neighbour classifier on (normalised) embeddings, streamed over batches.

    `fit` embeds the training data once (the embedding model in inference mode, `training=False`), learns the
    normalisation (`FeatureNormalizer`: cosine L2 -> centre -> whiten -> L2, Euclidean centre -> whiten) and
    keeps the normalised training features. `predict` searches them for each query batch in chunks of
    `chunk_size` keys with a running top-k, so memory is `O(batch * chunk_size)` beyond the stored features.

    With `k > 1` the neighbours vote, each with one vote (uniform weights); a tie between classes goes to the
    smallest label, as in scikit-learn's `KNeighborsClassifier`, not to the class of the nearest neighbour.
    Among equally distant training examples the earlier one counts as nearer. Deterministic.

    Args:
        k: number of neighbours, >= 1 and at most the training set size. Default 1.
        metric: `"cosine"` (default) or `"euclidean"`.
        center: subtract the training mean before whitening/the last L2. Default False.
        whiten: PCA-whiten with the training covariance (centres too). Default False.
        embedding_model: a Keras model mapping images to 2-D embeddings `[b, D]` (e.g. a backbone with
            global pooling), called per batch with `training=False`; or None (default): `x` are embeddings.
        batch_size: batch size for array inputs (datasets keep their own batches). Default 256.
        dimensions: with `whiten=True`, keep at most this many principal directions. Default None (all).
        epsilon: whitening drops directions whose variance is at most `epsilon` times the largest, in (0, 1).
            Default 1e-6.
        chunk_size: training features searched at once per query batch, >= 1. Default 16384.

    Attributes (after `fit`): `classes_` (sorted training labels, np.int64), `normalizer_` (the fitted
    `FeatureNormalizer`).

    Raises:
        ValueError: bad arguments; at `fit` or `predict`: `k` larger than the training set, embeddings (or the
            embedding model's output) not 2-D or not finite, query embeddings of another dimension, labels
            that are not class ids or one-hot, label and example counts that differ, no training examples,
            `predict` before `fit`.

    Example:
        >>> knn = NearestNeighborClassifier(k=1, metric="cosine", embedding_model=backbone)
        >>> accuracy = knn.fit(train_ds).score(test_ds)
        >>> distances, indices = knn.kneighbors(test_images)

    References: see the module docstring.
    """

    def __init__(
        self,
        k=1,
        metric="cosine",
        center=False,
        whiten=False,
        embedding_model=None,
        batch_size=256,
        dimensions=None,
        epsilon=1e-6,
        chunk_size=16384,
    ):
        self.k = self._k = v.check_int("k", k, low=1)
        super().__init__(metric, center, whiten, embedding_model, batch_size, dimensions, epsilon, chunk_size)

    def _set_keys(self, features, class_ids):
        if self.k > features.shape[0]:
            raise ValueError(f"`k` must be at most the training set size {features.shape[0]}, got {self.k}.")
        self._store(features, class_ids)

    def _vote(self, indices):
        if self.k == 1:
            return self._key_classes[indices[:, 0]]
        votes = tf.math.bincount(
            self._key_classes[indices].astype(np.int32),
            minlength=len(self.classes_),
            maxlength=len(self.classes_),
            axis=-1,
        )
        # NumPy's argmax returns the first maximum, i.e. the smallest label (tf.argmax does not promise that).
        return np.argmax(votes.numpy(), axis=1)

    def kneighbors(self, data):
        """Distances and training-set indices of the `k` nearest training examples, nearest first.

        Args:
            data: as for `predict`.

        Returns:
            `(distances, indices)`: float32 and np.int64 `[n, k]`. Distances are between normalised features:
            `1 - cosine similarity` for cosine, Euclidean otherwise; indices count training examples in the
            order `fit` saw them.
        """
        results = list(self._search(data, self.k))
        if not results:
            return np.zeros([0, self.k], np.float32), np.zeros([0, self.k], np.int64)
        return np.concatenate([r[0] for r in results]), np.concatenate([r[1] for r in results])


class NearestMeanClassifier(_EmbeddingClassifier):
    """Nearest class mean (NCM) classifier: each class is the mean of its normalised training features.

    `fit` embeds the training data once (`training=False`), learns the normalisation as
    `NearestNeighborClassifier` does, and averages the normalised features of each class; with cosine the
    means are L2-normalised too, so a query goes to the class mean of highest cosine similarity (Kang et al.'s
    NCM). With Euclidean it goes to the nearest mean; with `whiten=True` that is the nearest mean in the
    Mahalanobis distance of the pooled training covariance. A tie goes to the smallest label.

    Departure from Kang et al.'s released code, whose default centres the raw features by their mean, then
    L2-normalises them, averages them per class and takes the Euclidean distance to the (un-normalised) class
    means: here `metric="cosine"` normalises in the order L2 -> centre -> L2 (the mean is that of unit vectors)
    and ranks by cosine similarity to L2-normalised means, the variant the paper describes.

    Args:
        metric, center, whiten, embedding_model, batch_size, dimensions, epsilon, chunk_size: as for
            `NearestNeighborClassifier` (`chunk_size` also bounds the normalisation of the training features).

    Attributes (after `fit`): `classes_` (np.int64 `[C]`), `means_` (float32 `[C, d]`, one row per class of
    `classes_`), `normalizer_`. Only the means are kept after `fit`.

    Raises:
        ValueError: as `NearestNeighborClassifier` (no `k`).

    Example:
        >>> ncm = NearestMeanClassifier(metric="cosine", embedding_model=backbone)
        >>> accuracy = ncm.fit(train_ds).score(test_ds)

    Reference: Kang et al. ICLR 2020 (see the module docstring).
    """

    _k = 1

    def __init__(
        self,
        metric="cosine",
        center=False,
        whiten=False,
        embedding_model=None,
        batch_size=256,
        dimensions=None,
        epsilon=1e-6,
        chunk_size=16384,
    ):
        super().__init__(metric, center, whiten, embedding_model, batch_size, dimensions, epsilon, chunk_size)

    def _set_keys(self, features, class_ids):
        num_classes = len(self.classes_)
        sums = tf.math.unsorted_segment_sum(features, class_ids, num_classes)
        counts = np.bincount(class_ids, minlength=num_classes).astype(np.float32)
        means = sums / counts[:, None]
        if self.metric == "cosine":
            means = tf.math.l2_normalize(means, axis=1, epsilon=1e-12)
        self.means_ = means.numpy()
        self._store(means, np.arange(num_classes))
