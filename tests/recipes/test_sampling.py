"""Tests of class-aware sampling: probabilities by hand, realised class frequencies by chi-square tests."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from recipes import sampling

COUNTS = np.array([60, 15, 4, 1])
DRAWS = 4000


def pairs(counts=COUNTS, one_hot=False):
    """Unbatched `(example id, label)` pairs, the classes in sorted blocks (the hardest order to resample)."""
    labels = np.repeat(np.arange(len(counts)), counts)
    y = np.eye(len(counts), dtype=np.float32)[labels] if one_hot else labels
    return tf.data.Dataset.from_tensor_slices((np.arange(len(labels)), y))


def draw(dataset, num_draws=DRAWS):
    ids, labels = next(iter(dataset.batch(num_draws)))
    return ids.numpy(), labels.numpy()


@pytest.mark.parametrize(
    "strategy, expected",
    [
        ("instance", [100 / 126, 25 / 126, 1 / 126]),
        ("square_root", [10 / 16, 5 / 16, 1 / 16]),
        ("class_balanced", [1 / 3, 1 / 3, 1 / 3]),
    ],
)
def test_sampling_probabilities_by_hand(strategy, expected):
    p = sampling.sampling_probabilities([100, 25, 1], strategy)
    assert p.dtype == np.float64
    np.testing.assert_allclose(p, expected, rtol=1e-12)


def test_count_classes_int_and_one_hot_labels():
    counts = np.array([3, 0, 5, 1])
    for one_hot in (False, True):
        result = sampling.count_classes(pairs(counts, one_hot), 4)
        assert result.dtype == np.int64
        np.testing.assert_array_equal(result, counts)


@pytest.mark.parametrize("strategy", sorted(sampling.STRATEGIES))
def test_realised_class_frequencies_follow_the_strategy(strategy):
    ids, labels = draw(sampling.resample(pairs(), 4, strategy, seed=0))
    observed = np.bincount(labels, minlength=4)
    expected = DRAWS * sampling.sampling_probabilities(COUNTS, strategy)
    assert stats.chisquare(observed, expected).pvalue > 1e-3
    # Each element is an unchanged source pair, and each class cycles through all of its examples in a fresh
    # order every pass: its examples' draws differ by at most one.
    class_of = np.repeat(np.arange(4), COUNTS)
    np.testing.assert_array_equal(class_of[ids], labels)
    per_example = np.bincount(ids, minlength=len(class_of))
    for j in range(4):
        assert np.ptp(per_example[class_of == j]) <= 1


def test_a_chi_square_test_would_catch_the_wrong_strategy():
    _, labels = draw(sampling.resample(pairs(), 4, "square_root", seed=0))
    instance = DRAWS * sampling.sampling_probabilities(COUNTS, "instance")
    assert stats.chisquare(np.bincount(labels, minlength=4), instance).pvalue < 1e-6


def test_same_seed_same_stream_and_cache_does_not_change_it():
    first = draw(sampling.resample(pairs(), 4, seed=3), 100)
    again = draw(sampling.resample(pairs(), 4, seed=3, class_counts=COUNTS), 100)
    uncached = draw(sampling.resample(pairs(), 4, seed=3, cache=False), 100)
    other = draw(sampling.resample(pairs(), 4, seed=4), 100)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[0], uncached[0])
    assert not np.array_equal(first[0], other[0])


def test_one_hot_elements_come_back_unchanged():
    ds = sampling.resample(pairs(one_hot=True), 4, "class_balanced", seed=0)
    assert ds.element_spec == pairs(one_hot=True).element_spec
    ids, labels = draw(ds, 400)
    np.testing.assert_array_equal(np.argmax(labels, -1), np.repeat(np.arange(4), COUNTS)[ids])
    assert stats.chisquare(np.bincount(np.argmax(labels, -1), minlength=4)).pvalue > 1e-3


def test_bad_input():
    with pytest.raises(ValueError, match="strategy"):
        sampling.sampling_probabilities([1, 2], "balanced")
    with pytest.raises(ValueError, match=r"class\(es\) \[1\]"):
        sampling.sampling_probabilities([3, 0, 2], "instance")
    with pytest.raises(ValueError, match="finite"):
        sampling.sampling_probabilities([3, np.nan], "instance")
    with pytest.raises(ValueError, match="class_counts"):
        sampling.sampling_probabilities([], "instance")
    with pytest.raises(ValueError, match=r"class\(es\) \[1\]"):
        sampling.resample(pairs([3, 0, 2]), 3, seed=0)
    with pytest.raises(ValueError, match="4 .`num_classes`"):
        sampling.resample(pairs(), 4, class_counts=[60, 15, 5])
    with pytest.raises(ValueError, match="strategy"):
        sampling.resample(pairs(), 4, "uniform")
    with pytest.raises(ValueError, match="outside"):
        sampling.count_classes(pairs(), 3)
    with pytest.raises(ValueError, match="finite"):
        sampling.count_classes(pairs().repeat(), 4)
    with pytest.raises(ValueError, match="unbatched"):
        sampling.count_classes(pairs().batch(2), 4)
    with pytest.raises(ValueError, match="seed"):
        sampling.resample(pairs(), 4, seed=1.5)
