"""Corruption robustness: a classifier's error under every ImageNet-C corruption and severity, and mCE.

    >>> baseline = corruption_errors(plain_model, test_ds)
    >>> result = corruption_errors(augmented_model, test_ds, baseline=baseline)
    >>> result["mce"], result["relative_mce"]

Definitions (Hendrycks and Dietterich, ICLR 2019): with `E[c][s]` the top-1 error under corruption `c` at
severity `s` and `E_clean` the clean error,

* corruption error `CE_c = sum_s E[c][s] / sum_s E_base[c][s]`, and `mce` its mean over the corruptions,
  both in percent (ImageNet-C's baseline is AlexNet; within one experiment use the same architecture
  trained without augmentation, same seed);
* relative `CE_c = sum_s (E[c][s] - E_clean) / sum_s (E_base[c][s] - E_base_clean)`: the degradation
  against the baseline's, and `relative_mce` its mean;
* `mean_error`: the plain mean of `E[c][s]`, which needs no baseline.

The corruptions run inside the `tf.data` pipeline (`tfaug.corruptions`), batch by batch; nothing is held
in memory beyond a batch. Each batch's corruption is seeded by the corruption, severity and batch index, so
the same dataset order gives the same corrupted images on every run.
"""

import numbers

import keras
import numpy as np
import tensorflow as tf

from tfaug import corruptions as tc
from tfaug import random as tfr
from tfaug import validation as v

#: Images per batch when the dataset is not batched.
DEFAULT_BATCH_SIZE = 64


def corruption_errors(
    model,
    dataset,
    *,
    baseline=None,
    corruptions=tc.COMMON,
    severities=tc.SEVERITIES,
    value_range=None,
    table="auto",
    seed=0,
    verbose=1,
):
    """Error of `model` on `dataset`, clean and under each corruption and severity; mCE against `baseline`.

    `CorruptedDataset(dataset, ...).evaluate(model, baseline)`: use the class to evaluate several models
    on the same corrupted images (with `cache=True` they are corrupted once).

    Args:
        model: a Keras model, or a function from a batch of images to scores `[B, K]` (argmax = class).
        dataset: a `tf.data.Dataset` of `(images, labels)` or `{"images", "labels"}`, batched or not
            (unbatched elements are batched by 64); labels sparse ints or one-hot. Images in the dtype and
            `value_range` the model takes, at least 8 x 8 pixels, static size.
        baseline: an earlier result of this function (or its `robustness.json`) with the same corruptions
            and severities, for `corruption_errors`, `mce` and their relative forms.
        corruptions: names in `tfaug.corruptions.CORRUPTIONS`; default the fifteen of the benchmark.
        severities: severities to evaluate, in 1..5; default all five.
        value_range: `(low, high)` of the images' values; default `(0, 255)`.
        table: the corruptions' parameter table: `"auto"` (by image size) or one of `tfaug.corruptions.TABLES`.
        seed: int seed of the corruptions' random draws.
        verbose: 1 shows a progress bar, 0 nothing.

    Returns:
        A JSON-ready dict: `clean_error`, `errors` (`{corruption: [error per severity]}`), `mean_error`,
        `corruptions`, `severities`, `table`, `images`; with a baseline also `corruption_errors`, `mce`,
        `relative_corruption_errors` and `relative_mce` (percent; a relative CE is None where the
        baseline's errors do not rise above its clean error).

    Raises:
        ValueError: for a dataset without labels, images the corruptions cannot take, an unknown
            corruption, a severity outside 1..5 or a baseline that does not cover them.
    """
    predict = _predictor(model)  # the model and baseline are checked before the pipeline is built
    if baseline is not None:
        _check_baseline(baseline, tc.check_corruptions(corruptions), _check_severities(severities))
    corrupted = CorruptedDataset(
        dataset, corruptions=corruptions, severities=severities, value_range=value_range, table=table, seed=seed
    )
    return corrupted.evaluate(predict, baseline=baseline, verbose=verbose)


class CorruptedDataset:
    """A labeled dataset, clean and under each corruption and severity, to evaluate models on.

    Arguments as for `corruption_errors`, and `cache`: keep the corrupted images in memory after the first
    evaluation (as many copies of the dataset as passes, 76 for the default 15 corruptions x 5 severities
    plus the clean pass), so that later models cost only their predictions.
    """

    def __init__(
        self,
        dataset,
        *,
        corruptions=tc.COMMON,
        severities=tc.SEVERITIES,
        value_range=None,
        table="auto",
        seed=0,
        cache=False,
    ):
        self.corruptions = tc.check_corruptions(corruptions)
        self.severities = _check_severities(severities)
        self.table = tc.check_table(table)
        if not isinstance(seed, numbers.Integral) or isinstance(seed, bool):
            raise ValueError(f"`seed` must be an int, got {seed!r}.")
        self.clean = _images_and_labels(dataset)
        low, high = (0.0, 255.0) if value_range is None else v.check_value_range(value_range)
        self.passes = [(k, s) for k in range(len(self.corruptions)) for s in self.severities]
        self.corrupted = _all_passes(self.clean, self.corruptions, self.passes, int(seed), self.table, (low, high))
        if cache:
            self.clean, self.corrupted = self.clean.cache(), self.corrupted.cache()

    def evaluate(self, model, baseline=None, verbose=1):
        """`corruption_errors`'s result for `model` (and `baseline`)."""
        if baseline is not None:
            _check_baseline(baseline, self.corruptions, self.severities)
        predict = _predictor(model)
        progress = keras.utils.Progbar(
            1 + len(self.passes), verbose=verbose, unit_name="pass", stateful_metrics=["error"]
        )
        clean_error, count = _error(predict, self.clean)
        progress.add(1)
        wrong = np.zeros(len(self.passes))
        last = 0
        for index, predicted, truth in _predictions(predict, self.corrupted):
            wrong[index] += np.sum(predicted != truth)
            if index != last:
                progress.add(1, values=[("error", wrong[last] / count)])
                last = index
        progress.add(1, values=[("error", wrong[last] / count)])
        errors = {name: [] for name in self.corruptions}
        for (k, _), w in zip(self.passes, wrong):
            errors[self.corruptions[k]].append(float(w / count))
        result = {
            "clean_error": clean_error,
            "errors": errors,
            "mean_error": float(np.mean(wrong / count)),
            "corruptions": list(self.corruptions),
            "severities": list(self.severities),
            "table": self.table,
            "images": count,
        }
        if baseline is not None:
            result.update(compare(result, baseline))
        return result


def compare(result, baseline):
    """`corruption_errors`, `mce`, `relative_corruption_errors` and `relative_mce` of `result` against
    `baseline` (two results of `corruption_errors`), in percent."""
    _check_baseline(baseline, result["corruptions"], result["severities"])
    ce, relative = {}, {}
    for name in result["corruptions"]:
        errors = np.asarray(result["errors"][name])
        base = np.asarray(baseline["errors"][name])
        ce[name] = 100.0 * errors.sum() / base.sum() if base.sum() > 0 else None
        degradation = (base - baseline["clean_error"]).sum()
        relative[name] = 100.0 * (errors - result["clean_error"]).sum() / degradation if degradation > 0 else None
    return {
        "corruption_errors": ce,
        "mce": _mean(ce.values()),
        "relative_corruption_errors": relative,
        "relative_mce": _mean(relative.values()),
    }


def _mean(values):
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def _classes(scores):
    scores = np.asarray(scores)
    return scores.argmax(-1) if scores.ndim == 2 and scores.shape[-1] > 1 else scores.reshape(-1)


def _predictions(predict, dataset):
    """`(pass index, predicted classes, true classes)` per batch of `dataset` (`(pass, images, labels)`)."""
    for index, images, labels in dataset:
        yield int(index), _classes(predict(images)), _classes(labels.numpy())


def _error(predict, dataset):
    """Top-1 error over the clean `dataset` and its number of images, one batch at a time."""
    wrong = total = 0
    for _, predicted, truth in _predictions(predict, dataset.map(_first_pass)):
        wrong += int(np.sum(predicted != truth))
        total += len(truth)
    if total == 0:
        raise ValueError("`dataset` is empty: nothing to evaluate.")
    return wrong / total, total


@tf.autograph.experimental.do_not_convert
def _first_pass(images, labels):
    return 0, images, labels


def _all_passes(dataset, corruptions, passes, seed, table, value_range):
    """`(pass index, corrupted images, labels)` for every pass `(corruption index, severity)` in turn: one
    pipeline (traced once, each corruption a branch of a switch), seeded by pass and batch index."""
    ks, severities = zip(*passes)
    pass_ds = tf.data.Dataset.from_tensor_slices((list(range(len(passes))), list(ks), list(severities)))

    # Plain TensorFlow (no Python control flow on tensors): AutoGraph would only warn about the lambdas.
    @tf.autograph.experimental.do_not_convert
    def corrupt(index, k, severity, batch_index, images, labels):
        batch_seed = tfr.fold_in(tfr.fold_in([seed, 0], index), batch_index)
        severities = tf.fill(tf.shape(images)[:1], severity)
        branches = [
            lambda name=name: tc.apply(images, name, severities, batch_seed, table, value_range) for name in corruptions
        ]
        return index, tf.switch_case(k, branches), labels

    @tf.autograph.experimental.do_not_convert
    def batches(index, k, severity):
        return dataset.enumerate().map(
            tf.autograph.experimental.do_not_convert(lambda i, element: (index, k, severity, i, *element))
        )

    return pass_ds.flat_map(batches).map(corrupt, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _predictor(model):
    if isinstance(model, keras.Model):
        return tf.function(
            tf.autograph.experimental.do_not_convert(lambda images: model(images, training=False)),
            reduce_retracing=True,
        )
    if callable(model):
        return model
    raise ValueError(f"`model` must be a Keras model or a function from images to scores, got {model!r}.")


def _images_and_labels(dataset):
    """`dataset` as batched `(images, labels)`, with the images checked for the corruptions."""
    if not isinstance(dataset, tf.data.Dataset):
        raise ValueError(f"`dataset` must be a tf.data.Dataset of (images, labels), got {type(dataset).__name__}.")
    spec = dataset.element_spec
    if isinstance(spec, dict) and {"images", "labels"} <= set(spec):
        dataset = dataset.map(lambda element: (element["images"], element["labels"]))
    elif not (isinstance(spec, tuple) and len(spec) == 2):
        raise ValueError(
            "`dataset` must have labels: elements (images, labels) or {'images': ..., 'labels': ...}, got "
            f"elements {spec}."
        )
    images_spec = dataset.element_spec[0]
    if images_spec.shape.rank == 3:
        dataset = dataset.batch(DEFAULT_BATCH_SIZE)
    elif images_spec.shape.rank != 4:
        raise ValueError(f"`dataset` images must be [height, width, channels] or batched, got {images_spec.shape}.")
    tc.check_images(tf.zeros([1, *dataset.element_spec[0].shape[1:]], tf.uint8), "corruption_errors")
    return dataset


def _check_severities(severities):
    if isinstance(severities, numbers.Integral):
        severities = (severities,)
    ok = isinstance(severities, (tuple, list)) and len(severities) > 0
    if not ok or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) and 1 <= s <= 5 for s in severities
    ):
        raise ValueError(f"`severities` must be ints in 1..5, got {severities!r}.")
    return tuple(int(s) for s in severities)


def _check_baseline(baseline, corruptions, severities):
    if not isinstance(baseline, dict) or "errors" not in baseline or "clean_error" not in baseline:
        raise ValueError("`baseline` must be a result of corruption_errors (a dict with 'errors' and 'clean_error').")
    missing = [name for name in corruptions if name not in baseline["errors"]]
    if missing or list(baseline.get("severities", [])) != list(severities):
        raise ValueError(
            f"`baseline` must cover the same corruptions and severities: missing {missing}, severities "
            f"{baseline.get('severities')} vs {list(severities)}."
        )
