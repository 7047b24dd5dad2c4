"""RandAugment's (N, M) search: one fresh model per grid point, the best by validation accuracy.

RandAugment has two hyperparameters, the ops applied to each image (N, `num_ops`) and their shared
magnitude (M, `magnitude`); the paper picks them with a small grid search on a validation split, training a
model per point. This recipe does that with `tfaug.RandAugment` in `recipes.train.pipeline`'s `tf.data`
map:

- `search_randaugment(build_model, train, validation, num_ops, magnitudes, ...)` trains
  `build_model()` on `train` with `RandAugment(num_ops=N, magnitude=M, ...)` for every (N, M) of the grid
  and scores it on `validation` (never a test split), then returns a `RandAugmentSearchResult`: the best
  (N, M), every accuracy, and the table in markdown.
- `grid_search(score, num_ops, magnitudes)` is the search alone, for any `score(N, M) -> float` to
  maximise; `tuner="keras_tuner"` runs it through KerasTuner's `GridSearch` (the `tune` extra) instead of
  the plain loop, with the same result.

Every grid point starts from the same state: `keras.utils.set_random_seed(seed)` before `build_model`, the
same shuffle seed and the layer's `seed`. The grid points differ only in (N, M), so the comparison is
paired, and a search is reproducible given `seed`. Ties go to the fewest ops, then the smallest magnitude:
the mildest augmentation among the best.

    >>> result = search_randaugment(
    ...     lambda: recipes.train.small_cnn((16, 16, 1), 10), (x_train, y_train), (x_val, y_val),
    ...     num_ops=(1, 2, 3), magnitudes=(3, 5, 7, 9), epochs=50, batch_size=32, seed=0, fill_value=0)
    >>> result.best                 # (num_ops, magnitude)
    >>> print(result.table())       # validation accuracy %, rows N, columns M, the best in bold

Reference: Cubuk, Zoph, Shlens, Le. "RandAugment: Practical automated data augmentation with a reduced
search space", CVPR Workshops 2020.
"""

import dataclasses
import numbers
import tempfile

import keras
import numpy as np

import tfaug
from recipes import train as recipe_train
from tfaug import validation as v
from tfaug.policies import levels

#: The `tuner` values: None (the plain loop) and the KerasTuner `GridSearch`.
TUNERS = (None, "keras_tuner")


@dataclasses.dataclass(frozen=True)
class RandAugmentSearchResult:
    """The outcome of an (N, M) search.

    Attributes:
        num_ops: the grid's N values, as given.
        magnitudes: the grid's M values, as given.
        scores: `{(num_ops, magnitude): score}` for every grid point (validation accuracy in
            `search_randaugment`).
        best: the `(num_ops, magnitude)` of the highest score; ties go to the fewest ops, then the smallest
            magnitude.
    """

    num_ops: tuple
    magnitudes: tuple
    scores: dict
    best: tuple

    @property
    def best_score(self):
        return self.scores[self.best]

    def table(self, percent=True, digits=1):
        """Markdown table of the scores: one row per N, one column per M, the best in bold.

        Args:
            percent: show scores times 100 (accuracies as %); default True.
            digits: decimals; default 1.
        """
        scale = 100.0 if percent else 1.0
        lines = [
            "| N \\ M | " + " | ".join(_format_number(m) for m in self.magnitudes) + " |",
            "|---|" + "---|" * len(self.magnitudes),
        ]
        for n in self.num_ops:
            cells = []
            for m in self.magnitudes:
                cell = f"{scale * self.scores[(n, m)]:.{digits}f}"
                cells.append(f"**{cell}**" if (n, m) == self.best else cell)
            lines.append(f"| {n} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def to_dict(self):
        """JSON-ready: the grid, the best point and every score as `{"num_ops", "magnitude", "score"}`."""
        return {
            "num_ops": list(self.num_ops),
            "magnitudes": list(self.magnitudes),
            "best": {"num_ops": self.best[0], "magnitude": self.best[1], "score": self.best_score},
            "scores": [
                {"num_ops": n, "magnitude": m, "score": float(self.scores[(n, m)])}
                for n in self.num_ops
                for m in self.magnitudes
            ],
        }


def grid_search(score, num_ops=(1, 2, 3), magnitudes=(3, 5, 7, 9), *, tuner=None, directory=None, verbose=0):
    """Scores every (N, M) of the grid once with `score(num_ops, magnitude)` and picks the highest.

    Args:
        score: `fn(num_ops, magnitude) -> float`, higher is better; called once per grid point.
        num_ops: non-empty sequence of distinct ints >= 0. Default (1, 2, 3).
        magnitudes: non-empty sequence of distinct finite numbers >= 0. Default (3, 5, 7, 9).
        tuner: None (default) for the plain loop, N outer and M inner in the given order; or
            `"keras_tuner"`: KerasTuner's `GridSearch` over `Choice("num_ops")` x `Choice("magnitude")`
            (needs `keras-tuner`, the `tune` extra), in its own order.
        directory: KerasTuner's project folder (its trial records); default a temporary folder, removed
            afterwards. Only with `tuner="keras_tuner"`.
        verbose: 1 prints a line per grid point; default 0.

    Returns:
        a `RandAugmentSearchResult`.

    Raises:
        ValueError: a bad grid (empty, repeated values, N not an int >= 0, M not a finite number >= 0), a
            `score` that is not callable or returns a non-finite number, or an unknown `tuner`.
        ImportError: `tuner="keras_tuner"` without keras-tuner installed.
    """
    if not callable(score):
        raise ValueError(f"`score` must be a callable `fn(num_ops, magnitude) -> float`, got {score!r}.")
    num_ops = _check_num_ops(num_ops)
    magnitudes = _check_magnitudes(magnitudes)
    if tuner not in TUNERS:
        raise ValueError(f"`tuner` must be one of {list(TUNERS)}, got {tuner!r}.")
    if directory is not None and tuner is None:
        raise ValueError("`directory` is KerasTuner's project folder: pass it with tuner='keras_tuner' only.")

    def checked(n, m):
        value = score(n, m)
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or not np.isfinite(value):
            raise ValueError(f"`score` must return a finite number, got {value!r} for num_ops={n}, magnitude={m}.")
        if verbose:
            print(f"RandAugment num_ops={n} magnitude={_format_number(m)}: {float(value):.4f}", flush=True)
        return float(value)

    if tuner is None:
        scores = {(n, m): checked(n, m) for n in num_ops for m in magnitudes}
    else:
        scores = _keras_tuner_search(checked, num_ops, magnitudes, directory)
    # Highest score; among equal scores the smallest (N, M): the fewest ops, then the weakest ops.
    best = min(scores, key=lambda point: (-scores[point], point))
    return RandAugmentSearchResult(num_ops, magnitudes, scores, best)


def search_randaugment(
    build_model,
    train,
    validation,
    num_ops=(1, 2, 3),
    magnitudes=(3, 5, 7, 9),
    *,
    epochs,
    batch_size,
    seed=0,
    ops=None,
    fill_value=128,
    magnitude_scale="timm",
    tuner=None,
    directory=None,
    verbose=0,
):
    """Picks RandAugment's (N, M) by validation accuracy: one fresh model trained per grid point.

    For each (N, M): `keras.utils.set_random_seed(seed)`, `model = build_model()`, then `model.fit` on
    `recipes.train.pipeline(train, [RandAugment(num_ops=N, magnitude=M, ops, fill_value, magnitude_scale,
    seed=seed)], batch_size, seed)` for `epochs` epochs (Adam with `recipes.train.optimizer`'s cosine decay,
    cross-entropy on logits), and the accuracy of the trained model on `validation`. Augmentation runs
    on float32 images in [0, 255] (uint8 pixel values), drawn per image, fresh for every batch.

    Args:
        build_model: `fn() -> keras.Model`, a fresh, uncompiled model mapping images in [0, 255] to logits
            over the classes (`recipes.train.small_cnn` for example); called once per grid point.
        train: `(images, labels)`: images `[n, H, W, C]` with values in [0, 255], int labels `[n]`.
        validation: `(images, labels)` the same way: held-out images to choose on (never the test split).
        num_ops: N values: non-empty sequence of distinct ints >= 0. Default (1, 2, 3).
        magnitudes: M values: non-empty sequence of distinct numbers in [0, max of `magnitude_scale`].
            Default (3, 5, 7, 9).
        epochs: training epochs per grid point, an int >= 1.
        batch_size: training batch size, an int in [1, number of training images] (the last partial batch
            of a pass is dropped).
        seed: int seed of the weights (`keras.utils.set_random_seed`), the shuffle and the layer, shared
            by every grid point. Default 0.
        ops: RandAugment's op names; default None: its default list.
        fill_value: RandAugment's fill of the pixels geometric ops uncover. Default 128 (its default).
        magnitude_scale: RandAugment's magnitude scale; default `"timm"` (0..10, the paper's).
        tuner: None (default): the plain grid loop; `"keras_tuner"`: KerasTuner's `GridSearch` (see
            `grid_search`).
        directory: KerasTuner's project folder (see `grid_search`).
        verbose: 1 prints a line per grid point; default 0.

    Returns:
        a `RandAugmentSearchResult` whose scores are validation accuracies in [0, 1].

    Raises:
        ValueError: a bad grid (as `grid_search`, and magnitudes outside `magnitude_scale`'s range), bad
            data, `epochs` or `batch_size`, arguments RandAugment refuses (`ops`, `fill_value`), or a model
            whose outputs have fewer classes than the labels need.
        ImportError: `tuner="keras_tuner"` without keras-tuner installed.
    """
    if not callable(build_model):
        raise ValueError(f"`build_model` must be a callable returning a fresh keras.Model, got {build_model!r}.")
    x_train, y_train = _check_data("train", train)
    x_val, y_val = _check_data("validation", validation)
    if x_train.shape[1:] != x_val.shape[1:]:
        raise ValueError(f"`train` and `validation` images differ in shape: {x_train.shape} and {x_val.shape}.")
    epochs = v.check_int("epochs", epochs, low=1)
    batch_size = v.check_int("batch_size", batch_size, low=1, high=len(x_train))
    seed = v.check_int("seed", seed)
    num_ops = _check_num_ops(num_ops)
    magnitudes = _check_magnitudes(magnitudes, magnitude_scale)
    # Build one layer now, so a bad `ops` or `fill_value` fails before any training.
    layer_args = dict(magnitude_scale=magnitude_scale, fill_value=fill_value, seed=seed)
    if ops is not None:
        layer_args["ops"] = ops
    tfaug.RandAugment(num_ops=num_ops[0], magnitude=magnitudes[0], **layer_args)
    num_labels = int(max(y_train.max(), y_val.max())) + 1

    def score(n, m):
        keras.utils.set_random_seed(seed)
        model = build_model()
        if not isinstance(model, keras.Model):
            raise ValueError(f"`build_model` must return a keras.Model, got {type(model).__name__}.")
        num_classes = int(model(x_train[:1].astype(np.float32), training=False).shape[-1])
        if num_classes < num_labels:
            raise ValueError(f"the model has {num_classes} outputs but the labels go up to {num_labels - 1}.")
        layer = tfaug.RandAugment(num_ops=n, magnitude=m, **layer_args)
        dataset, steps = recipe_train.pipeline(x_train, y_train, num_classes, [layer], batch_size, seed)
        model.compile(
            optimizer=recipe_train.optimizer(steps * epochs),
            loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        )
        model.fit(dataset, epochs=epochs, steps_per_epoch=steps, shuffle=False, verbose=0)
        return _accuracy(model, x_val, y_val)

    return grid_search(score, num_ops, magnitudes, tuner=tuner, directory=directory, verbose=verbose)


def _accuracy(model, images, labels, batch_size=512):
    """Top-1 accuracy of `model` (logits or probabilities) on `images`, run in inference mode in chunks."""
    # Direct calls: `predict` would trace a new function for every model of a search.
    predicted = np.concatenate(
        [
            np.argmax(np.asarray(model(images[i : i + batch_size].astype(np.float32), training=False)), -1)
            for i in range(0, len(images), batch_size)
        ]
    )
    return float(np.mean(predicted == labels))


# -- KerasTuner ---------------------------------------------------------------------------------------------


def _keras_tuner_search(score, num_ops, magnitudes, directory):
    """`{(N, M): score}` from KerasTuner's `GridSearch` over the grid, `score` run as each trial."""
    try:
        import keras_tuner
    except ImportError as error:
        raise ImportError(
            "tuner='keras_tuner' needs KerasTuner: `pip install keras-tuner` (or tfaug's `tune` extra); "
            "tuner=None runs the same grid without it."
        ) from error

    space = keras_tuner.HyperParameters()
    space.Choice("num_ops", list(num_ops))
    # A Choice holds one type: the magnitudes go in as floats and come back as the values given.
    space.Choice("magnitude", [float(m) for m in magnitudes])
    given = {float(m): m for m in magnitudes}
    scores, failure = {}, []

    class Search(keras_tuner.GridSearch):
        def run_trial(self, trial, *args, **kwargs):
            n, m = trial.hyperparameters.get("num_ops"), given[trial.hyperparameters.get("magnitude")]
            try:
                scores[(n, m)] = score(n, m)
            except Exception as error:
                # KerasTuner records a failing trial and goes on; a search with a broken trial must stop.
                failure.append(error)
                raise keras_tuner.errors.FatalError(f"num_ops={n}, magnitude={m} failed: {error!r}") from error
            return {"score": scores[(n, m)]}

    with tempfile.TemporaryDirectory(prefix="randaugment_search_") as scratch:
        search = Search(
            objective=keras_tuner.Objective("score", direction="max"),
            hyperparameters=space,
            directory=directory or scratch,
            project_name="randaugment",
            overwrite=True,
        )
        try:
            search.search(verbose=0)
        except keras_tuner.errors.FatalError:
            if failure:
                raise failure[0] from None
            raise
    missing = [(n, m) for n in num_ops for m in magnitudes if (n, m) not in scores]
    if missing:
        raise RuntimeError(f"KerasTuner's GridSearch left grid points unvisited: {missing}.")
    return scores


# -- checks -------------------------------------------------------------------------------------------------


def _check_num_ops(values):
    values = _sequence("num_ops", values, "distinct ints >= 0")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise ValueError(f"`num_ops` must be a non-empty sequence of distinct ints >= 0, got {values!r}.")
    return tuple(int(value) for value in values)


def _check_magnitudes(values, scale=None):
    values = _sequence("magnitudes", values, "distinct numbers >= 0")
    for value in values:
        if scale is not None:
            levels.check_magnitude(value, scale, name="magnitudes")
        else:
            v.check_positive("magnitudes", value, allow_zero=True)
    return tuple(int(value) if isinstance(value, numbers.Integral) else float(value) for value in values)


def _sequence(name, values, form):
    if isinstance(values, (str, bytes)) or not isinstance(values, (tuple, list, range, np.ndarray)):
        raise ValueError(f"`{name}` must be a non-empty sequence of {form}, got {values!r}.")
    values = list(values.tolist() if isinstance(values, np.ndarray) else values)
    if not values:
        raise ValueError(f"`{name}` must be a non-empty sequence of {form}, got an empty one.")
    if any(isinstance(value, numbers.Real) and not isinstance(value, bool) for value in values):
        seen = [float(value) for value in values if isinstance(value, numbers.Real)]
        if len(set(seen)) != len(seen):
            raise ValueError(f"`{name}` must not repeat a value, got {values!r}.")
    return values


def _check_data(name, data):
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError(f"`{name}` must be a pair (images [n, H, W, C], int labels [n]), got {type(data).__name__}.")
    images, labels = np.asarray(data[0]), np.asarray(data[1])
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"`{name}` images must be a non-empty array [n, H, W, C], got shape {images.shape}.")
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
        raise ValueError(
            f"`{name}` labels must be ints >= 0 of shape [{len(images)}], got {labels.dtype} {labels.shape}."
        )
    return images, labels.astype(np.int64)


def _format_number(value):
    return f"{value:g}" if isinstance(value, float) else str(value)


__all__ = ["RandAugmentSearchResult", "grid_search", "search_randaugment"]
