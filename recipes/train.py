"""Train a small CNN with tfaug augmentations and write a report folder: what `tfaug train` runs.

Three recipes, all on the same data and the same small CNN (conv stages, global average pooling, dense
logits, so class activation maps apply):

- `"plain"`: supervised training on the labeled images.
- `"distill"`: a wider CNN (two convs a stage, twice the filters) is trained first, then distilled into
  the small CNN with `recipes.Distiller` (its defaults: alpha 0.1, temperature 10).
- `"noisy-student"`: `recipes.run_noisy_student`, one round: a small CNN teacher trained on the labeled
  images pseudo-labels the unlabeled ones, then an equal-size student learns from both, with the
  augmentations as its input noise (image-only augmentations only: pseudo-labels are not mixed).

Augmentations are tfaug layers run in the `tf.data` pipeline after `batch`, on float32 images in
[0, 255], one seed per batch index (`layer.seed_for_index`), so a run is reproducible given `seed`.
Gray images go to every layer as they are (the policy layers' colour op is the identity on them, as on
PIL's mode "L"). Labels are one-hot, so mixing layers apply.

    >>> data = load_data("digits", seed=0)
    >>> metrics = train(data, "runs/digits", augment=[tfaug.CutMix(num_classes=10, seed=0)])
    >>> metrics["test"]["accuracy"]

The parts are public for scripts that compose their own runs (benchmarks/digits_results.py):
`small_cnn` / `wide_cnn`, `pipeline` (the augmented training batches), `input_noise` (the same augmentation
on images alone, for the self-training loops), `fit_classifier`, `fit_student`, `evaluate`, and `RECIPES`,
the recipes by name.

Written into `out`: `metrics.json` (settings, per-epoch history, test accuracy and loss), `model.keras`
(the small CNN: the student for the distill and noisy-student recipes), `curves.png` (loss and accuracy
per epoch, training and test), `confusion_matrix.png` and, when `tfaug.viz` has class activation maps,
`cam.png` for a few test images. They are written into a hidden folder beside `out` and moved there when
the run has finished; a failed or interrupted run removes that folder and leaves `out` as it was.
"""

import contextlib
import dataclasses
import json
import math
import os
import pathlib
import shutil
import time
import uuid

import keras
import numpy as np
import tensorflow as tf

from recipes import data as recipe_data
from recipes import report
from recipes.distillation import Distiller
from recipes.models import small_cnn
from recipes.models import wide_cnn

#: The files `train` writes (and replaces) in its output folder.
OUTPUT_FILES = ("metrics.json", "model.keras", "curves.png", "confusion_matrix.png", "cam.png")
#: Recipe -> default labeled fraction of the training split (None: every training image is labeled).
DEFAULT_LABELED_FRACTION = {"plain": None, "distill": None, "noisy-student": 0.1}
LEARNING_RATE = 3e-3


@dataclasses.dataclass
class TrainData:
    """A dataset in memory: uint8 images `[n, H, W, C]` and int64 labels `[n]`.

    `x_unlabeled` is None when every training image is labeled.
    """

    info: recipe_data.DatasetInfo
    x_labeled: np.ndarray
    y_labeled: np.ndarray
    x_unlabeled: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def image_shape(self):
        return tuple(self.x_test.shape[1:])

    # What the recipes ask of their data; `recipes.streaming.StreamData` answers the same from disk.

    def counts(self):
        unlabeled = 0 if self.x_unlabeled is None else len(self.x_unlabeled)
        return {"labeled": len(self.x_labeled), "unlabeled": unlabeled, "test": len(self.x_test)}

    def training_batches(self, layers, batch_size, seed):
        return pipeline(self.x_labeled, self.y_labeled, self.info.num_classes, layers, batch_size, seed)

    def validation_batches(self):
        return _test_set(self).batch(256)

    def test_logits(self, model):
        return _logits(model, self.x_test), self.y_test

    def test_examples(self):
        return self.x_test, self.y_test


def load_data(dataset="digits", *, size=None, labeled_fraction=None, seed=0, data_dir=None):
    """Loads a dataset's labeled, unlabeled and test images into memory with `recipes.data`.

    Args:
        dataset: `"digits"`, `"tfds:NAME"` (offline: prepared in `data_dir`) or `"folder:PATH"`.
        size: image side in pixels, >= 8; default 16 for digits (8x8 upsampled), 32 for the others.
        labeled_fraction: fraction of the training split that keeps its labels, in (0, 1]; None or 1
            (default) labels all of it. The rest is the unlabeled pool.
        seed: int seed of the digits and folder splits (stratified, 20% test).
        data_dir: TFDS data folder (TFDS only).

    Returns:
        a `TrainData`.

    Raises:
        ValueError: from `recipes.data` (unknown source, folder without images, a TFDS dataset that is not
            prepared offline, too few images to split), or a bad `size` / `labeled_fraction`.
    """
    source = dataset.split(":", 1)[0] if isinstance(dataset, str) else None
    if size is None:
        size = 16 if dataset == "digits" else 32
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise ValueError(f"`size` must be an int >= 8, got {size!r}.")
    if labeled_fraction is not None and not 0.0 < labeled_fraction <= 1.0:
        raise ValueError(f"`labeled_fraction` must be in (0, 1], got {labeled_fraction!r}.")
    if labeled_fraction == 1.0:
        labeled_fraction = None
    info = recipe_data.info(dataset, data_dir=data_dir)
    channels = 3 if source == "folder" else None
    kwargs = dict(size=size, channels=channels)
    if source == "tfds":
        kwargs["data_dir"] = data_dir
        percent = None if labeled_fraction is None else round(100 * labeled_fraction)
        if percent is not None and not 1 <= percent <= 99:
            raise ValueError(f"`labeled_fraction` must be between 0.01 and 0.99 for TFDS, got {labeled_fraction}.")
        splits = {"labeled": "train" if percent is None else f"train[:{percent}%]", "test": "test"}
        if percent is not None:
            splits["unlabeled"] = f"train[{percent}%:]"
    else:
        kwargs["seed"] = seed
        splits = {"labeled": "train", "test": "test"}
        if labeled_fraction is not None:
            kwargs["labeled_fraction"] = labeled_fraction
            splits.update(labeled="labeled", unlabeled="unlabeled")
    arrays = {name: _arrays(recipe_data.load(dataset, split=split, **kwargs), split) for name, split in splits.items()}
    if arrays["test"][0].shape[-1] not in (1, 3):
        raise ValueError(f"images of {dataset!r} have {arrays['test'][0].shape[-1]} channels; 1 or 3 are supported.")
    x_unlabeled = arrays["unlabeled"][0] if "unlabeled" in arrays else None
    return TrainData(info, *arrays["labeled"], x_unlabeled, *arrays["test"])


def _arrays(dataset, split):
    """`(images, labels)` as numpy arrays (labels None for a dataset of images only)."""
    images, labels = [], []
    for element in dataset.as_numpy_iterator():
        image, label = element if isinstance(element, tuple) else (element, None)
        images.append(image)
        labels.append(label)
    if not images:
        raise ValueError(f"the {split!r} split of the dataset is empty.")
    return np.stack(images), None if labels[0] is None else np.asarray(labels, np.int64)


# -- augmentation ---------------------------------------------------------------------------------------


def augmenter(layers):
    """`fn(index, (images, labels)) -> (float images, labels)`: the layers in order, seeded by batch index."""
    layers = list(layers)

    # The layers are plain TensorFlow: converting their code with AutoGraph only costs seconds of tracing.
    @tf.autograph.experimental.do_not_convert
    def augment(index, batch):
        images, labels = batch
        images = tf.cast(images, tf.float32)
        for layer in layers:
            images, labels = layer.augment((images, labels), seed=layer.seed_for_index(index))
        return images, labels

    return augment


def input_noise(layers):
    """Image-only input noise: `run_noisy_student`'s (and `run_data_distillation`'s) `noise` callable, or None.

    The layers in order on image batches, seeded by a counter of the batches they have seen (labels are
    dropped, so mixing layers do not fit here).
    """
    if not layers:
        return None
    label_free = augmenter(layers)
    counter = tf.Variable(0, dtype=tf.int64, trainable=False)

    def noise(images):
        return label_free(counter.assign_add(1), (images, tf.zeros([tf.shape(images)[0], 1])))[0]

    return noise


def pipeline(x, y, num_classes, layers, batch_size, seed):
    """Training batches: infinite, shuffled (afresh each pass), batched and augmented by `augmenter(layers)`.

    Args:
        x: images `[n, H, W, C]`; y: int labels `[n]` (made one-hot).
        num_classes: number of classes.
        layers: tfaug layers applied in order to each batch.
        batch_size: images a batch (the last partial batch of a pass is dropped).
        seed: int seed of the shuffle.

    Returns:
        `(dataset, steps)`: a dataset of `(float32 images, one-hot labels)` and the steps of one epoch.
    """
    steps = max(1, len(x) // batch_size)
    ds = tf.data.Dataset.from_tensor_slices((x, np.eye(num_classes, dtype=np.float32)[y]))
    ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.batch(batch_size, drop_remainder=True).enumerate()
    ds = ds.map(augmenter(layers), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE), steps


def _test_set(data):
    """Unbatched `(float32 image, one-hot label)` pairs of the test split."""
    labels = np.eye(data.info.num_classes, dtype=np.float32)[data.y_test]
    return tf.data.Dataset.from_tensor_slices((data.x_test.astype(np.float32), labels))


def optimizer(steps, alpha=0.0):
    """Adam at `LEARNING_RATE` with cosine decay over `steps` down to `alpha` times the rate."""
    return keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(LEARNING_RATE, max(1, steps), alpha=alpha))


# -- training -------------------------------------------------------------------------------------------


def fit_classifier(model, data, layers, *, epochs, batch_size, seed, verbose=0):
    """Trains a logits model on `data`'s labeled images, augmented, validated on its test split.

    Cross-entropy on one-hot (or mixed) labels, `optimizer(steps)` over the whole run, accuracy metric.

    Returns:
        `History.history` of the `fit`.
    """
    train_ds, steps = data.training_batches(layers, batch_size, seed)
    model.compile(
        optimizer=optimizer(steps * epochs),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return _fit(model, train_ds, steps, epochs, data, verbose)


def fit_student(teacher, student, data, layers, *, epochs, batch_size, seed, alpha=0.1, verbose=0):
    """Distills a trained logits `teacher` into `student` (`recipes.Distiller`, temperature 10).

    On `data`'s labeled images, augmented, validated on its test split; `alpha` weighs the labels'
    cross-entropy (0: the labels are not used).

    Returns:
        `History.history` of the `fit`.
    """
    train_ds, steps = data.training_batches(layers, batch_size, seed)
    distiller = Distiller(teacher=teacher, student=student, alpha=alpha)
    distiller.compile(optimizer=optimizer(steps * epochs), metrics=["accuracy"])
    return _fit(distiller, train_ds, steps, epochs, data, verbose)


def _fit(model, train_ds, steps, epochs, data, verbose):
    """`model.fit` on `train_ds` (`steps` a epoch), validated on `data`'s test split: the `History.history`."""
    validation = data.validation_batches()
    history = model.fit(
        train_ds, epochs=epochs, steps_per_epoch=steps, validation_data=validation, shuffle=False, verbose=verbose
    )
    return history.history


# -- recipes --------------------------------------------------------------------------------------------


def _plain(data, layers, *, epochs, batch_size, width, seed, verbose=0):
    model = small_cnn(data.image_shape, data.info.num_classes, width)
    history = fit_classifier(model, data, layers, epochs=epochs, batch_size=batch_size, seed=seed, verbose=verbose)
    return model, history, {}


def _distill(data, layers, *, epochs, batch_size, width, seed, verbose=0):
    k = data.info.num_classes
    run = dict(epochs=epochs, batch_size=batch_size, seed=seed, verbose=verbose)
    teacher = wide_cnn(data.image_shape, k, width)
    _say(verbose, f"teacher ({teacher.count_params():,} parameters):")
    teacher_history = fit_classifier(teacher, data, layers, **run)
    student = small_cnn(data.image_shape, k, width, name="student")
    _say(verbose, f"student ({student.count_params():,} parameters), distilled:")
    history = fit_student(teacher, student, data, layers, **run)
    extra = {"teacher": {"history": _floats(teacher_history), "test": evaluate(teacher, data)}}
    return student, history, extra


def _noisy_student(data, layers, *, epochs, batch_size, width, seed, verbose=0, rounds=1, repeat=None):
    """`rounds` noised students; the labeled images repeated `repeat` times (default: as many as the unlabeled)."""
    from recipes.noisy_student import run_noisy_student

    k = data.info.num_classes
    # One `epochs` serves the teacher (labeled images) and the student (labeled + pseudo-labeled): repeating
    # the labeled images gives the teacher as many steps an epoch as the unlabeled pool has images; the
    # recipe's sample weights keep the student's loss mean_labeled + mean_pseudo_labeled.
    repeat = max(1, round(len(data.x_unlabeled) / len(data.x_labeled))) if repeat is None else repeat
    labeled = tf.data.Dataset.from_tensor_slices((data.x_labeled, data.y_labeled)).repeat(repeat)
    unlabeled = tf.data.Dataset.from_tensor_slices(data.x_unlabeled)
    teacher_steps = epochs * math.ceil(len(data.x_labeled) * repeat / batch_size)
    _say(verbose, f"teacher, then {rounds} noised student{'' if rounds == 1 else 's'}:")
    records = run_noisy_student(
        lambda r: small_cnn(data.image_shape, k, width, name=f"noisy_{r}"),
        labeled,
        unlabeled,
        rounds=rounds,
        threshold=0.3,
        soft=True,
        noise=input_noise(layers),
        epochs=epochs,
        batch_size=batch_size,
        from_logits=True,
        optimizer=optimizer(teacher_steps, alpha=0.1),
        metrics=("accuracy",),
        validation_data=_test_set(data),
        seed=seed,
        verbose=verbose,
    )
    results = [
        {
            "round": r.round,
            "test": evaluate(r.model, data),
            "pseudo_labels": r.pseudo_labels,
            "history": _floats(r.history),
        }
        for r in records
    ]
    return records[-1].model, records[-1].history, {"rounds": results}


#: The recipes by name: `fn(data, layers, *, epochs, batch_size, width, seed, verbose=0)` trains on a
#: `TrainData` with tfaug `layers` and returns `(model, history, extra)`: the small CNN to report, its
#: `History.history`, and further JSON-ready results (the teacher's, each round's).
RECIPES = {"plain": _plain, "distill": _distill, "noisy-student": _noisy_student}


def _say(verbose, text):
    if verbose:
        print(text, flush=True)


def _logits(model, images, batch_size=512):
    # Direct calls in inference mode: `predict` would trace a new function for every model of a run.
    chunks = range(0, len(images), batch_size)
    return np.concatenate(
        [np.asarray(model(tf.constant(images[i : i + batch_size], tf.float32), training=False)) for i in chunks]
    )


def evaluate(model, data):
    """`{"accuracy", "loss"}` of a logits model on `data`'s test split (mean cross-entropy)."""
    return _scores(*data.test_logits(model))


def _scores(logits, labels):
    loss = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    return {"accuracy": float(np.mean(np.argmax(logits, -1) == labels)), "loss": float(np.mean(loss))}


def _floats(history):
    return {key: [float(value) for value in values] for key, values in history.items()}


# -- the whole run --------------------------------------------------------------------------------------


def train(
    data, out, *, augment=(), recipe="plain", epochs=50, seed=0, batch_size=64, width=16, settings=None, verbose=1
):
    """Trains with `recipe` on `data` and writes the report files into the folder `out`.

    Args:
        data: a `TrainData` (`load_data`), or a `recipes.streaming.StreamData` (`load_stream`: folders and
            TFDS read from disk every epoch; not for the noisy-student recipe).
        out: folder to write into when the run has finished (created if missing; a run's files in it are
            replaced, other files are kept). An interrupted run leaves it as it was.
        augment: tfaug layers applied in order to each training batch (built with their seeds).
        recipe: one of `RECIPES`; default `"plain"`.
        epochs: epochs per model, >= 1; default 50.
        seed: int seed of the weights, shuffling and pseudo-labelling; default 0.
        batch_size: training batch size, >= 2 (mixing needs pairs); default 64.
        width: filters of the small CNN's first stage, >= 1; default 16.
        settings: a dict recorded as is in `metrics.json` (the command line's arguments).
        verbose: Keras `fit` verbosity (1: progress bar); default 1.

    Returns:
        the dict written to `metrics.json`.

    Raises:
        ValueError: an unknown recipe, `epochs` < 1, `batch_size` < 2, `width` < 1, a noisy-student run
            without unlabeled images, augmentations that change labels for the noisy student, or an `out` that
            is not a folder.
    """
    if recipe not in RECIPES:
        raise ValueError(f"`recipe` must be one of {', '.join(RECIPES)}, got {recipe!r}.")
    for name, value, low in (("epochs", epochs, 1), ("batch_size", batch_size, 2), ("width", width, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"`{name}` must be an int >= {low}, got {value!r}.")
    layers = list(augment)
    if recipe == "noisy-student":
        if not isinstance(data, TrainData):
            raise ValueError("the noisy-student recipe keeps its images in memory: load the data with `load_data`.")
        if data.x_unlabeled is None:
            raise ValueError("the noisy-student recipe needs unlabeled images: load with a `labeled_fraction` below 1.")
        changing = [type(layer).__name__ for layer in layers if layer.transforms_labels]
        if changing:
            raise ValueError(
                f"the noisy-student recipe uses the augmentations as input noise on images only; "
                f"{', '.join(changing)} change labels."
            )
    out = pathlib.Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"`out` {str(out)!r} exists and is not a folder.")
    run = dict(recipe=recipe, epochs=epochs, seed=seed, batch_size=batch_size, width=width, settings=settings)
    with _staged(out) as folder:
        return _run(data, folder, layers, verbose=verbose, **run)


@contextlib.contextmanager
def _staged(out):
    """A new hidden folder beside `out` to write into; its files replace `out`'s when the block has finished.

    The folder is removed in any case, so an exception or Ctrl-C in the block leaves `out` as it was and
    nothing that blocks the next run. A missing `out` becomes the folder itself (renamed); into an existing
    one the files move, after `OUTPUT_FILES` of an earlier run are removed (other files stay).
    """
    target = out.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    folder = target.parent / f".{target.name}.partial-{uuid.uuid4().hex[:8]}"
    folder.mkdir()  # not mkdtemp: its private mode would become `out`'s
    try:
        yield folder
        if target.is_dir():
            for name in OUTPUT_FILES:  # no file of an earlier run survives, whatever this run wrote
                (target / name).unlink(missing_ok=True)
            for file in folder.iterdir():
                os.replace(file, target / file.name)
        else:
            os.replace(folder, target)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(data, out, layers, *, recipe, epochs, seed, batch_size, width, settings, verbose):
    """`train` after its checks: trains and writes the report files into the folder `out`."""
    keras.utils.set_random_seed(seed)
    start = time.time()
    model, history, extra = RECIPES[recipe](
        data, layers, epochs=epochs, batch_size=batch_size, width=width, seed=seed, verbose=verbose
    )
    seconds = time.time() - start
    logits, y_test = data.test_logits(model)
    k = data.info.num_classes
    confusion = np.bincount(y_test * k + np.argmax(logits, -1), minlength=k * k).reshape(k, k)
    metrics = {
        "settings": dict(settings or {}, recipe=recipe, epochs=epochs, seed=seed, batch_size=batch_size, width=width),
        "data": {
            "dataset": data.info.name,
            "classes": list(data.info.class_names),
            "image_shape": list(data.image_shape),
            **data.counts(),
        },
        "augment": [layer.get_config() for layer in layers],
        "history": _floats(history),
        "test": _scores(logits, y_test),
        "confusion_matrix": confusion.tolist(),
        "parameters": int(model.count_params()),
        "train_seconds": round(seconds, 1),
        **extra,
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str) + "\n")
    model.save(out / "model.keras")
    names = " + ".join(type(layer).__name__ for layer in layers) or "no augmentation"
    whose = "" if recipe == "plain" else " (the student)"
    report.plot_curves(metrics["history"], out / "curves.png", title=f"{data.info.name}, {recipe}{whose}, {names}")
    report.plot_confusion_matrix(confusion, data.info.class_names, out / "confusion_matrix.png")
    report.write_cams(model, *data.test_examples(), data.info.class_names, out / "cam.png")
    return metrics


__all__ = [
    "RECIPES",
    "TrainData",
    "augmenter",
    "evaluate",
    "fit_classifier",
    "fit_student",
    "input_noise",
    "load_data",
    "optimizer",
    "pipeline",
    "small_cnn",
    "train",
    "wide_cnn",
]
