"""Nearest-neighbour classifiers against scikit-learn on the same embeddings, streaming and chunking invariants."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.decomposition import PCA
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neighbors import NearestCentroid
from sklearn.preprocessing import normalize

from recipes.neighbors import NearestMeanClassifier
from recipes.neighbors import NearestNeighborClassifier

#: Class labels that are neither 0-based nor contiguous: predictions must map back to them.
LABELS = np.array([2, 5, 7, 11])


@pytest.fixture(scope="module")
def blobs():
    """Four overlapping Gaussian classes in 6-D, off the origin: `(train, train labels, queries, query labels)`."""
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(4, 6)) + 2.0
    train_ids, query_ids = rng.integers(0, 4, 60), rng.integers(0, 4, 40)
    train = (centers[train_ids] + rng.normal(size=(60, 6))).astype(np.float32)
    queries = (centers[query_ids] + rng.normal(size=(40, 6))).astype(np.float32)
    return train, LABELS[train_ids], queries, LABELS[query_ids]


def _reference(train, queries, metric, center, whiten):
    """The normalisation in float64 with scikit-learn: (L2) -> (centre | PCA whiten) -> (L2)."""
    train, queries = train.astype(np.float64), queries.astype(np.float64)
    if metric == "cosine":
        train, queries = normalize(train), normalize(queries)
    if whiten:
        pca = PCA(whiten=True, svd_solver="full").fit(train)
        train, queries = pca.transform(train), pca.transform(queries)
    elif center:
        mean = train.mean(axis=0)
        train, queries = train - mean, queries - mean
    if metric == "cosine":
        train, queries = normalize(train), normalize(queries)
    return train, queries


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("k", [1, 3])
def test_knn_matches_scikit_learn(blobs, k, metric):
    train, labels, queries, query_labels = blobs
    ours = NearestNeighborClassifier(k=k, metric=metric, batch_size=16).fit((train, labels))
    theirs = KNeighborsClassifier(k, metric=metric, algorithm="brute").fit(train, labels)
    distances, indices = ours.kneighbors(queries)
    expected_distances, expected_indices = theirs.kneighbors(queries)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_allclose(distances, expected_distances, atol=1e-5)
    predictions = ours.predict(queries)
    assert predictions.dtype == np.int64
    np.testing.assert_array_equal(predictions, theirs.predict(queries))
    assert ours.score((queries, query_labels)) == pytest.approx(theirs.score(queries, query_labels))
    if k == 3:
        # The data must exercise scikit-learn's tie rule: some queries have three neighbours of three classes.
        assert any(len(set(row)) == 3 for row in labels[expected_indices])


def test_a_vote_tie_goes_to_the_smallest_label_not_the_nearest_neighbour():
    train, labels = np.array([[0.0], [1.0], [3.0]], np.float32), np.array([5, 2, 9])
    query = np.array([[0.2]], np.float32)  # neighbours: label 5 at 0.2, label 2 at 0.8
    ours = NearestNeighborClassifier(k=2, metric="euclidean").fit((train, labels))
    assert ours.predict(query).tolist() == [2]
    assert KNeighborsClassifier(2).fit(train, labels).predict(query).tolist() == [2]


def test_equally_distant_training_examples_keep_their_order_across_chunks():
    train = np.array([[1, 0], [0, 1], [1, 0], [0, 1], [1, 0]], np.float32)
    for chunk_size in (1, 2, 3, 100):
        knn = NearestNeighborClassifier(k=3, chunk_size=chunk_size).fit((train, np.arange(5)))
        assert knn.kneighbors(np.array([[1, 0.1]], np.float32))[1].tolist() == [[0, 2, 4]]


NORMALISATIONS = [
    ("euclidean", False, False),
    ("euclidean", False, True),
    ("cosine", False, False),
    ("cosine", True, False),
    ("cosine", False, True),  # whitening centres whatever `center` says: compared with the centred reference
]


@pytest.mark.parametrize(("metric", "center", "whiten"), NORMALISATIONS)
def test_normalised_neighbours_and_class_means_match_scikit_learn(blobs, metric, center, whiten):
    train, labels, queries, _ = blobs
    ref_train, ref_queries = _reference(train, queries, metric, center, whiten)
    options = dict(metric=metric, center=center, whiten=whiten, batch_size=16)

    knn = NearestNeighborClassifier(k=3, **options).fit((train, labels))
    theirs = KNeighborsClassifier(3, algorithm="brute").fit(ref_train, labels)  # Euclidean on unit rows ~ cosine
    np.testing.assert_array_equal(knn.kneighbors(queries)[1], theirs.kneighbors(ref_queries)[1])
    np.testing.assert_array_equal(knn.predict(queries), theirs.predict(ref_queries))

    ncm = NearestMeanClassifier(**options).fit((train, labels))
    centroids = NearestCentroid().fit(ref_train, labels)
    expected_means = normalize(centroids.centroids_) if metric == "cosine" else centroids.centroids_
    # Gram matrices: the whitened basis may differ from PCA's by the signs of its axes.
    np.testing.assert_allclose(ncm.means_ @ ncm.means_.T, expected_means @ expected_means.T, atol=1e-4)
    if metric == "cosine":
        # Nearest unit mean in Euclidean distance = highest cosine similarity for unit queries.
        centroids = KNeighborsClassifier(1).fit(expected_means, centroids.classes_)
    np.testing.assert_array_equal(ncm.predict(queries), centroids.predict(ref_queries))
    np.testing.assert_array_equal(ncm.classes_, LABELS)


@pytest.mark.parametrize("classifier", [NearestNeighborClassifier, NearestMeanClassifier])
def test_datasets_arrays_tensors_and_label_forms_agree(blobs, classifier):
    train, labels, queries, query_labels = blobs
    options = dict(metric="cosine", center=True, batch_size=16)
    expected = classifier(**options).fit((train, labels)).predict(queries)
    one_hot = np.eye(12, dtype=np.float32)[labels]
    fitted = [
        classifier(**options).fit(tf.data.Dataset.from_tensor_slices((train, one_hot)).batch(9)),
        classifier(**options).fit((tf.constant(train), labels[:, None])),
    ]
    inputs = [
        tf.data.Dataset.from_tensor_slices(queries).batch(7),
        tf.data.Dataset.from_tensor_slices((queries, query_labels)).batch(7),
        tf.constant(queries),
        (queries, query_labels),
    ]
    for model in fitted:
        for data in inputs:
            np.testing.assert_array_equal(model.predict(data), expected)
    accuracy = float(np.mean(expected == query_labels))
    assert fitted[0].score(inputs[1]) == pytest.approx(accuracy)
    assert fitted[1].score((queries, np.eye(12)[query_labels])) == pytest.approx(accuracy)


def test_chunking_gives_the_same_neighbours(blobs):
    train, labels, queries, _ = blobs
    options = dict(k=3, metric="euclidean", whiten=True)
    distances, indices = NearestNeighborClassifier(**options).fit((train, labels)).kneighbors(queries)
    for chunk_size in (1, 2, 7):
        knn = NearestNeighborClassifier(chunk_size=chunk_size, **options).fit((train, labels))
        chunked_distances, chunked_indices = knn.kneighbors(queries)
        np.testing.assert_array_equal(chunked_indices, indices)
        np.testing.assert_allclose(chunked_distances, distances, rtol=1e-6)
    ncm = NearestMeanClassifier(metric="cosine", whiten=True, chunk_size=4).fit((train, labels))
    expected = NearestMeanClassifier(metric="cosine", whiten=True).fit((train, labels))
    np.testing.assert_allclose(ncm.means_, expected.means_, atol=1e-6)


class TrainingFlags(keras.layers.Layer):
    """Identity that records the `training` flag of each call."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.flags = []

    def call(self, x, training=None):
        self.flags.append(training)
        return x


def test_embedding_model_embeds_each_batch_in_inference_mode():
    rng = np.random.default_rng(1)
    images = rng.uniform(size=(30, 4, 5, 1)).astype(np.float32)
    labels = rng.integers(0, 3, 30)
    keras.utils.set_random_seed(0)
    flags = TrainingFlags()
    model = keras.Sequential([keras.Input((4, 5, 1)), keras.layers.Flatten(), keras.layers.Dense(6), flags])
    embeddings = model(images, training=False).numpy()
    flags.flags.clear()
    train_ds = tf.data.Dataset.from_tensor_slices((images[:20], labels[:20])).batch(8)
    for classifier in (NearestNeighborClassifier(k=3), NearestMeanClassifier(whiten=True)):
        on_images = type(classifier)(**_options(classifier), embedding_model=model, batch_size=4).fit(train_ds)
        on_embeddings = classifier.fit((embeddings[:20], labels[:20]))
        np.testing.assert_array_equal(on_images.predict(images[20:]), on_embeddings.predict(embeddings[20:]))
    assert flags.flags and all(flag is False for flag in flags.flags)
    conv = keras.Sequential([keras.Input((4, 5, 1)), keras.layers.Conv2D(2, 3)])
    with pytest.raises(ValueError, match="embedding_model.*2-D"):
        NearestNeighborClassifier(embedding_model=conv).fit((images, labels))


def _options(classifier):
    names = ("k", "metric", "center", "whiten")
    return {name: getattr(classifier, name) for name in names if hasattr(classifier, name)}


@pytest.mark.parametrize(
    ("arguments", "name"),
    [
        (dict(k=0), "k"),
        (dict(k=1.0), "k"),
        (dict(k=True), "k"),
        (dict(metric="manhattan"), "metric"),
        (dict(center=1), "center"),
        (dict(whiten="yes"), "whiten"),
        (dict(batch_size=0), "batch_size"),
        (dict(chunk_size=0), "chunk_size"),
        (dict(dimensions=2), "dimensions"),
        (dict(whiten=True, dimensions=0), "dimensions"),
        (dict(epsilon=0.0), "epsilon"),
        (dict(epsilon=float("nan")), "epsilon"),
        (dict(embedding_model="resnet"), "embedding_model"),
    ],
)
def test_bad_arguments_name_the_argument(arguments, name):
    classifiers = [NearestNeighborClassifier] + ([] if "k" in arguments else [NearestMeanClassifier])
    for classifier in classifiers:
        with pytest.raises(ValueError, match=f"`{name}`"):
            classifier(**arguments)


def test_bad_data_is_refused_with_a_clear_message(blobs):
    train, labels, queries, _ = blobs
    with pytest.raises(ValueError, match="`k` must be at most the training set size 4"):
        NearestNeighborClassifier(k=5).fit((train[:4], labels[:4]))
    with pytest.raises(ValueError, match="`data`.*2-D"):
        NearestNeighborClassifier().fit((train.reshape(60, 2, 3), labels))
    with pytest.raises(ValueError, match="no examples"):
        NearestMeanClassifier().fit((train[:0], labels[:0]))
    with pytest.raises(ValueError, match="no examples"):
        NearestNeighborClassifier().fit(tf.data.Dataset.from_tensor_slices((train, labels)).batch(8).take(0))
    with pytest.raises(ValueError, match="not fitted"):
        NearestNeighborClassifier().predict(queries)
    with pytest.raises(ValueError, match="59 labels for 60 examples"):
        NearestNeighborClassifier().fit((train, labels[:-1]))
    with pytest.raises(ValueError, match="3 labels for 4 examples"):
        NearestMeanClassifier().fit(tf.data.Dataset.from_tensors((train[:4], labels[:3])))
    with pytest.raises(ValueError, match="must give labels"):
        NearestNeighborClassifier().fit(tf.data.Dataset.from_tensor_slices(train).batch(8))
    with pytest.raises(ValueError, match="integer class ids"):
        NearestNeighborClassifier().fit((train, labels + 0.5))
    with pytest.raises(ValueError, match="finite"):
        NearestNeighborClassifier().fit((np.where(train > 3, np.nan, train), labels))
    with pytest.raises(ValueError, match="`dimensions` must be at most the embedding dimension 6"):
        NearestMeanClassifier(whiten=True, dimensions=7).fit((train, labels))
    with pytest.raises(ValueError, match="vary"):
        NearestMeanClassifier(whiten=True).fit((np.ones_like(train), labels))
    fitted = NearestNeighborClassifier().fit((train, labels))
    with pytest.raises(ValueError, match="dimension 6"):
        fitted.predict(queries[:, :5])
    with pytest.raises(ValueError, match="no examples"):
        fitted.score((queries[:0], labels[:0]))
    assert fitted.predict(queries[:0]).shape == (0,)
