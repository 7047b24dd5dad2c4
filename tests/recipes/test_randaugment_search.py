"""recipes.randaugment_search: the grid visits every (N, M) once and keeps the best, ties go to the mildest
point, every point trains a fresh model from the same seed, KerasTuner's GridSearch agrees with the plain
loop, bad arguments fail before any training."""

import itertools
import math
import sys

import keras
import numpy as np
import pytest

import tfaug
from recipes import RandAugmentSearchResult
from recipes import grid_search
from recipes import randaugment_search as ras
from recipes import search_randaugment

NUM_OPS = (1, 2, 3)
MAGNITUDES = (3, 5, 7, 9)


def _score_table(seed=0):
    """Distinct scores for the default grid, in a random order (so the best is not where a loop starts)."""
    values = np.random.default_rng(seed).permutation(len(NUM_OPS) * len(MAGNITUDES)) / 100.0
    return dict(zip(itertools.product(NUM_OPS, MAGNITUDES), values.tolist()))


class _Recorder:
    def __init__(self, scores):
        self.scores, self.calls = scores, []

    def __call__(self, n, m):
        self.calls.append((n, m))
        return self.scores[(n, m)]


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's 8x8 digits as uint8 `[n, 8, 8, 1]` in [0, 255] and int labels."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return np.round(data.images * (255 / 16)).astype(np.uint8)[..., None], data.target.astype(np.int64)


# -- the search ---------------------------------------------------------------------------------------------


def test_grid_visits_every_point_once_and_keeps_the_best():
    scores = _score_table()
    score = _Recorder(scores)
    result = grid_search(score, NUM_OPS, MAGNITUDES)
    assert score.calls == list(itertools.product(NUM_OPS, MAGNITUDES))  # N outer, M inner, each once
    assert result.scores == scores
    assert result.best == max(scores, key=scores.get) and result.best_score == max(scores.values())
    assert (result.num_ops, result.magnitudes) == (NUM_OPS, MAGNITUDES)


def test_ties_go_to_the_fewest_ops_then_the_smallest_magnitude_whatever_the_order():
    # Four points share the top score; the grids are given in descending order.
    top = {(3, 3), (2, 9), (2, 5), (3, 9)}

    def score(n, m):
        return 0.9 if (n, m) in top else 0.1

    result = grid_search(score, NUM_OPS[::-1], MAGNITUDES[::-1])
    assert result.best == (2, 5)
    assert grid_search(lambda n, m: 0.5, (2, 1), (9, 0)).best == (1, 0)


def test_table_and_dict():
    result = RandAugmentSearchResult(
        (1, 2), (3, 9.5), {(1, 3): 0.5, (1, 9.5): 0.25, (2, 3): 0.75, (2, 9.5): 1.0}, (2, 9.5)
    )
    assert result.table().splitlines() == [
        "| N \\ M | 3 | 9.5 |",
        "|---|---|---|",
        "| 1 | 50.0 | 25.0 |",
        "| 2 | 75.0 | **100.0** |",
    ]
    assert "| 2 | 0.75 | **1.00** |" in result.table(percent=False, digits=2)
    saved = result.to_dict()
    assert saved["best"] == {"num_ops": 2, "magnitude": 9.5, "score": 1.0}
    assert saved["scores"][1] == {"num_ops": 1, "magnitude": 9.5, "score": 0.25} and len(saved["scores"]) == 4


def test_keras_tuner_grid_search_agrees_with_the_plain_loop(tmp_path):
    pytest.importorskip("keras_tuner")
    scores = _score_table(seed=1)
    score = _Recorder(scores)
    result = grid_search(score, NUM_OPS, MAGNITUDES, tuner="keras_tuner", directory=str(tmp_path))
    assert sorted(score.calls) == sorted(scores)  # every point once, in KerasTuner's order
    assert result == grid_search(lambda n, m: scores[(n, m)], NUM_OPS, MAGNITUDES)
    assert all(isinstance(n, int) for n, _ in result.scores) and (tmp_path / "randaugment").is_dir()
    # Float magnitudes come back as given; a failing score stops the search with its own error.
    assert grid_search(lambda n, m: m, (0,), (0.5, 2), tuner="keras_tuner").best == (0, 2)

    def broken(n, m):
        raise KeyError("no such point")

    with pytest.raises(KeyError, match="no such point"):
        grid_search(broken, (1,), (3, 5), tuner="keras_tuner")


def test_keras_tuner_missing_is_a_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "keras_tuner", None)
    with pytest.raises(ImportError, match="pip install keras-tuner"):
        grid_search(lambda n, m: 0.0, (1,), (3,), tuner="keras_tuner")


# -- training -----------------------------------------------------------------------------------------------


class _NoOpLayer:
    """Stands in for RandAugment (its own tests cover it): records its arguments, leaves the batch as it is."""

    made = []

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.made.append(kwargs)

    def seed_for_index(self, index):
        return index

    def augment(self, batch, seed):
        return batch


def _tiny_model():
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])


def test_every_point_trains_a_fresh_model_from_the_same_seed(digits, monkeypatch):
    x, y = digits
    monkeypatch.setattr(tfaug, "RandAugment", _NoOpLayer)
    _NoOpLayer.made.clear()
    initial = []

    def build_model():
        model = _tiny_model()
        initial.append(model.get_weights()[0].copy())
        return model

    train, validation = (x[:64], y[:64]), (x[64:128], y[64:128])
    kwargs = dict(epochs=1, batch_size=32, ops=("rotate", "identity"), fill_value=0)
    result = search_randaugment(build_model, train, validation, (0, 2), (5,), seed=3, **kwargs)
    # One layer built to check the arguments, then one per grid point with that point's (N, M).
    points = [(made["num_ops"], made["magnitude"]) for made in _NoOpLayer.made]
    assert points == [(0, 5), (0, 5), (2, 5)]
    assert all(made["seed"] == 3 and made["ops"] == ("rotate", "identity") for made in _NoOpLayer.made)
    assert len(initial) == 2 and np.array_equal(initial[0], initial[1])  # the same weights at every point
    # With no augmentation both points train the same: the comparison is paired.
    assert result.scores[(0, 5)] == result.scores[(2, 5)] and 0.0 <= result.best_score <= 1.0

    search_randaugment(build_model, train, validation, (0,), (5,), seed=4, **kwargs)
    assert not np.array_equal(initial[0], initial[2])


@pytest.mark.slow
def test_tiny_real_search_on_digits_is_reproducible(digits):
    """RandAugment itself in the pipeline, 1 epoch: the same seed gives the same table."""
    x, y = digits
    train, validation = (x[:256], y[:256]), (x[256:512], y[256:512])

    def run():
        return search_randaugment(
            lambda: ras.recipe_train.small_cnn((8, 8, 1), 10, width=4),
            train,
            validation,
            (0, 2),
            (9,),
            epochs=1,
            batch_size=32,
            seed=0,
            fill_value=0,
        )

    first, second = run(), run()
    assert first == second
    assert set(first.scores) == {(0, 9), (2, 9)} and all(0.0 <= s <= 1.0 for s in first.scores.values())


# -- arguments ----------------------------------------------------------------------------------------------


def _never():
    raise AssertionError("no model may be built for bad arguments")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(num_ops=()), "`num_ops` must be a non-empty sequence"),
        (dict(num_ops=(1, -1)), "`num_ops` must be a non-empty sequence of distinct ints >= 0"),
        (dict(num_ops=(1.5,)), "`num_ops`"),
        (dict(num_ops=(True,)), "`num_ops`"),
        (dict(num_ops=(1, 1)), "`num_ops` must not repeat"),
        (dict(num_ops=2), "`num_ops`"),
        (dict(magnitudes=()), "`magnitudes` must be a non-empty sequence"),
        (dict(magnitudes=(5, 11)), r"`magnitudes` must be a number in \[0, 10\]"),
        (dict(magnitudes=(-1,)), "`magnitudes`"),
        (dict(magnitudes=(math.nan,)), "`magnitudes`"),
        (dict(magnitudes=(5, 5.0)), "`magnitudes` must not repeat"),
        (dict(magnitudes=(20,), magnitude_scale="torchvision"), None),  # valid on the 0..30 scale
        (dict(epochs=0), "`epochs`"),
        (dict(batch_size=65), r"`batch_size` must be an int in \[1, 64\]"),
        (dict(tuner="optuna"), "`tuner` must be one of"),
        (dict(directory="/tmp/x"), "`directory`"),
        (dict(ops=("rotate", "warp")), "op"),
        (dict(fill_value=300), "`fill_value`"),
    ],
)
def test_bad_arguments_fail_before_training(digits, kwargs, match):
    x, y = digits
    args = dict(epochs=1, batch_size=32) | kwargs
    if match is None:
        with pytest.raises(AssertionError, match="no model"):  # got past the checks to the first build
            search_randaugment(_never, (x[:64], y[:64]), (x[64:96], y[64:96]), **args)
        return
    with pytest.raises(ValueError, match=match):
        search_randaugment(_never, (x[:64], y[:64]), (x[64:96], y[64:96]), **args)


@pytest.mark.parametrize(
    "train, validation, match",
    [
        ("x", None, "`train` must be a pair"),
        ((np.zeros((4, 8, 8)), np.zeros(4, int)), None, r"`train` images must be a non-empty array \[n, H, W, C\]"),
        ((np.zeros((4, 8, 8, 1)), np.zeros(3, int)), None, "`train` labels must be ints"),
        ((np.zeros((4, 8, 8, 1)), np.zeros(4)), None, "`train` labels must be ints"),
        (None, (np.zeros((4, 8, 8, 1)), -np.ones(4, int)), "`validation` labels must be ints >= 0"),
        (None, (np.zeros((4, 9, 8, 1)), np.zeros(4, int)), "differ in shape"),
    ],
)
def test_bad_data(digits, train, validation, match):
    x, y = digits
    train = (x[:64], y[:64]) if train is None else train
    validation = (x[64:96], y[64:96]) if validation is None else validation
    with pytest.raises(ValueError, match=match):
        search_randaugment(_never, train, validation, epochs=1, batch_size=4)


def test_bad_score_and_model(digits):
    with pytest.raises(ValueError, match="`score` must be a callable"):
        grid_search(0.5)
    with pytest.raises(ValueError, match="`score` must return a finite number"):
        grid_search(lambda n, m: math.nan, (1,), (3,))
    with pytest.raises(ValueError, match="`score` must return a finite number"):
        grid_search(lambda n, m: "high", (1,), (3,))
    with pytest.raises(ValueError, match="`build_model` must be a callable"):
        search_randaugment(None, digits, digits, epochs=1, batch_size=4)
    x, y = digits
    data = (x[:64], y[:64])
    with pytest.raises(ValueError, match="`build_model` must return a keras.Model"):
        search_randaugment(lambda: "model", data, data, (1,), (3,), epochs=1, batch_size=4)
    small = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="the model has 3 outputs but the labels go up to 9"):
        search_randaugment(lambda: small, data, data, (1,), (3,), epochs=1, batch_size=4)
