"""Small offline datasets for the recipes: `tf.data` pipelines of `(image, label)` pairs.

Sources, chosen by `name`:

- `"digits"`: scikit-learn's bundled handwritten digits (1,797 gray 8x8 images, 10 classes, no network).
- `"tfds:NAME"`: a TensorFlow Datasets dataset already prepared in `data_dir` (`download=False` by default,
  so nothing is fetched; tests can use `tfds.testing.mock_data`).
- `"folder:PATH"`: an image folder with one sub-folder per class (`PATH/cat/1.png`, `PATH/dog/2.jpg`);
  classes are the sub-folders' names in sorted order. Image files that TensorFlow cannot decode (truncated,
  corrupt) are left out, and `unreadable_images` lists them; a class without a readable image is an error.

Splits: `"digits"` and folders are split in memory, deterministically given `seed`: `"test"` is a stratified
`test_fraction` of the examples (so every class needs 2), `"train"` the rest, and `"all"` everything. For
few-label (semi-supervised) recipes, `"labeled"` is a stratified `labeled_fraction` of the train split and
`"unlabeled"` the rest of it, whose dataset yields images only; `few_labels` returns both. TFDS splits are
passed to TFDS as they are (`"train"`, `"test[:10%]"`, ...).

Images come out `[height, width, channels]`, uint8 in [0, 255] (default) or float32 in [0, 1]; labels are
int64 class indices. Elements are unbatched and in a fixed order (in-memory splits are a seeded
permutation): add `shuffle`, `batch` and the `tfaug.data` map functions yourself.

    >>> train = load("digits", split="train", size=32, channels=3)
    >>> labeled, unlabeled = few_labels("digits", labeled_fraction=0.1)
    >>> info("digits").num_classes
    10
"""

import dataclasses
import math
import numbers
import os
import pathlib

import numpy as np
import tensorflow as tf

from tfaug.validation import check_size

SPLITS = ("all", "train", "test", "labeled", "unlabeled")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a classifier needs to know about a dataset: its name, number of classes and class names."""

    name: str
    num_classes: int
    class_names: tuple


def load(
    name,
    split="train",
    *,
    size=None,
    channels=None,
    dtype="uint8",
    test_fraction=0.2,
    labeled_fraction=0.1,
    seed=0,
    data_dir=None,
    download=False,
):
    """Loads a split as a `tf.data.Dataset` of `(image, label)` (images only for `"unlabeled"`).

    Args:
        name: `"digits"`, `"tfds:NAME"` or `"folder:PATH"`.
        split: one of `SPLITS` for digits and folders; any TFDS split string for `"tfds:..."`.
            Default `"train"`.
        size: output `(height, width)` or int; default the source's size (digits: 8x8; folders and some
            TFDS datasets: each image's own size). Resizing is bilinear and antialiased.
        channels: 1 or 3, converting gray <-> RGB; default the source's (digits: 1, folders: 3).
        dtype: `"uint8"` for values in [0, 255] (default) or `"float32"` for values in [0, 1].
        test_fraction: fraction of the examples in the `"test"` split, in (0, 1); default 0.2.
        labeled_fraction: fraction of the train split in `"labeled"`, in (0, 1); default 0.1.
        seed: int seed of the in-memory splits; default 0.
        data_dir: TFDS data folder (TFDS only; default TFDS's own).
        download: let TFDS download and prepare the data (TFDS only; needs network); default False.

    Returns:
        an unbatched `tf.data.Dataset`.

    Raises:
        ValueError: for an unknown source or split, a bad argument (named), a TFDS dataset that is not
            prepared in `data_dir`, a folder with a class sub-folder without readable images, or a class
            with too few examples to split.
    """
    source, argument = _parse_name(name)
    _check_split(split, source)
    size = check_size(size)
    channels = _check_channels(channels)
    dtype = _check_dtype(dtype)
    if source != "tfds" and (data_dir is not None or download):
        raise ValueError(f"`data_dir` and `download` apply to 'tfds:' datasets only, got name {name!r}.")
    if source == "tfds":
        dataset = _load_tfds(argument, split, data_dir, download)
    else:
        if source == "digits":
            images, labels = _digits_arrays()
            classes = info("digits").class_names
        else:
            images, labels, classes = _folder_files(argument)
        index = _split_index(labels, split, test_fraction, labeled_fraction, seed, classes)
        dataset = tf.data.Dataset.from_tensor_slices((images[index], labels[index]))
        if source == "folder":
            dataset = dataset.map(_decoder(channels or 3), num_parallel_calls=tf.data.AUTOTUNE)
    prepare = _preparer(size, channels, dtype)
    dataset = dataset.map(lambda image, label: (prepare(image), label), num_parallel_calls=tf.data.AUTOTUNE)
    if split == "unlabeled":
        dataset = dataset.map(lambda image, label: image)
    return dataset


def few_labels(name, labeled_fraction=0.1, **kwargs):
    """Returns `(labeled, unlabeled)`: the train split cut into a stratified labeled fraction and the rest.

    `labeled` yields `(image, label)`, `unlabeled` yields images only. Other keyword arguments as `load`;
    digits and folders only.

    Example:
        >>> labeled, unlabeled = few_labels("digits", labeled_fraction=0.05, seed=1)
    """
    labeled = load(name, split="labeled", labeled_fraction=labeled_fraction, **kwargs)
    unlabeled = load(name, split="unlabeled", labeled_fraction=labeled_fraction, **kwargs)
    return labeled, unlabeled


def info(name, *, data_dir=None):
    """Returns the `DatasetInfo` (number of classes, class names) of `name` as `load` reads it.

    Raises:
        ValueError: for an unknown source, an unknown TFDS dataset, or a folder without images.
    """
    source, argument = _parse_name(name)
    if source == "digits":
        return DatasetInfo("digits", 10, tuple(str(digit) for digit in range(10)))
    if source == "folder":
        return DatasetInfo(name, *_folder_classes(argument))
    tfds = _import_tfds()
    try:
        builder = tfds.builder(argument, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError as error:
        raise ValueError(f"TFDS dataset {argument!r} (from `name` {name!r}) does not exist.") from error
    features = builder.info.features
    keys = builder.info.supervised_keys
    label = features[keys[1]] if keys else None
    if label is None or not hasattr(label, "num_classes"):
        raise ValueError(f"TFDS dataset {argument!r} has no class label to read `num_classes` from.")
    return DatasetInfo(name, int(label.num_classes), tuple(label.names))


def folder_split(name, split="train", *, test_fraction=0.2, labeled_fraction=0.1, seed=0):
    """`(files, labels)` of a `"folder:PATH"` split as `load` makes it, without loading the images.

    The files that decode (each is decoded once a process to know), sorted by class and name, then the
    split's seeded permutation: a list of paths and int64 labels, for streaming readers such as
    `tfaug.data.train_pipeline`.

    Raises:
        ValueError: as `load` does, or for a source other than a folder.
    """
    source, argument = _parse_name(name)
    if source != "folder":
        raise ValueError(f"`name` must be 'folder:PATH', got {name!r}.")
    _check_split(split, source)
    files, labels, classes = _folder_files(argument)
    index = _split_index(labels, split, test_fraction, labeled_fraction, seed, classes)
    return [str(file) for file in files[index]], labels[index]


def unreadable_images(name):
    """The image files of a `"folder:PATH"` dataset that TensorFlow cannot decode, sorted: `load` leaves them out.

    Empty for the other sources.

    Raises:
        ValueError: as `load` does for a folder without readable images in a class sub-folder.
    """
    source, argument = _parse_name(name)
    return _folder_scan(argument)[3] if source == "folder" else []


def _parse_name(name):
    if name == "digits":
        return "digits", None
    if isinstance(name, str) and ":" in name:
        source, argument = name.split(":", 1)
        if source in ("tfds", "folder") and argument:
            return source, argument
    raise ValueError(f"`name` must be 'digits', 'tfds:NAME' or 'folder:PATH', got {name!r}.")


def _check_split(split, source):
    if source == "tfds":
        if split in ("labeled", "unlabeled"):
            raise ValueError(
                f"`split` {split!r} is for 'digits' and 'folder:' sources; for TFDS slice a split instead "
                "(e.g. 'train[:10%]' and 'train[10%:]')."
            )
        return
    if split not in SPLITS:
        raise ValueError(f"`split` must be one of {list(SPLITS)}, got {split!r}.")


def _check_channels(channels):
    if channels not in (None, 1, 3) or isinstance(channels, bool):
        raise ValueError(f"`channels` must be None, 1 or 3, got {channels!r}.")
    return channels


def _check_dtype(dtype):
    try:
        name = tf.as_dtype(dtype).name
    except TypeError:
        name = None
    if name not in ("uint8", "float32"):
        raise ValueError(f"`dtype` must be 'uint8' or 'float32', got {dtype!r}.")
    return name


def _check_fraction(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 < value < 1.0:
        raise ValueError(f"`{name}` must be a number in (0, 1), got {value!r}.")
    return float(value)


def _split_index(labels, split, test_fraction, labeled_fraction, seed, class_names):
    """Indices of `split`: stratified, and a seeded permutation, so deterministic given `seed`."""
    from sklearn.model_selection import train_test_split

    test_fraction = _check_fraction("test_fraction", test_fraction)
    labeled_fraction = _check_fraction("labeled_fraction", labeled_fraction)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"`seed` must be an int, got {seed!r}.")
    index = np.arange(len(labels))
    if split == "all":
        return index
    _check_test_split(labels, test_fraction, class_names)
    try:
        train, test = train_test_split(index, test_size=test_fraction, stratify=labels, random_state=seed)
    except ValueError as error:  # too few examples of a class to stratify
        raise ValueError(
            f"cannot split {len(labels)} examples with `test_fraction` {test_fraction}: {error}"
        ) from error
    if split in ("train", "test"):
        return train if split == "train" else test
    try:
        labeled, unlabeled = train_test_split(
            train, train_size=labeled_fraction, stratify=labels[train], random_state=seed
        )
    except ValueError as error:
        raise ValueError(
            f"cannot take `labeled_fraction` {labeled_fraction} of {len(train)} training examples with "
            f"every class represented: {error}"
        ) from error
    return labeled if split == "labeled" else unlabeled


def _check_test_split(labels, test_fraction, class_names):
    """What a stratified test split needs, said in images and classes (scikit-learn's words are its own)."""
    counts = np.bincount(labels, minlength=len(class_names))
    fewest = int(np.argmin(counts))
    if counts[fewest] < 2:
        raise ValueError(
            f"every class needs at least 2 images to make a test split; class {class_names[fewest]!r} has "
            f"{counts[fewest]}."
        )
    tests = math.ceil(test_fraction * len(labels))  # as scikit-learn rounds
    if tests < len(class_names):
        raise ValueError(
            f"every class needs a test image, but a {test_fraction:.0%} test split of {len(labels)} images has "
            f"{tests} for {len(class_names)} classes; add images."
        )


def _digits_arrays():
    from sklearn.datasets import load_digits

    digits = load_digits()
    # Each pixel counts the set pixels (0..16) of a 4x4 block of the original 32x32 bitmap; 16 maps to 255.
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    return images, digits.target.astype(np.int64)


def _preparer(size, channels, dtype):
    def prepare(image):
        from_uint8 = image.dtype == tf.uint8
        if channels == 3 and image.shape[-1] == 1:
            image = tf.image.grayscale_to_rgb(image)
        elif channels == 1 and image.shape[-1] == 3:
            image = tf.image.rgb_to_grayscale(image)
        if size is not None:
            image = tf.image.resize(image, size, method="bilinear", antialias=True)
        if dtype == "float32":
            image = tf.cast(image, tf.float32)
            return image / 255.0 if from_uint8 else image
        if image.dtype != tf.uint8:
            image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
        return image

    return prepare


def _import_tfds():
    import tensorflow_datasets as tfds

    return tfds


def _load_tfds(dataset, split, data_dir, download):
    tfds = _import_tfds()
    try:
        return tfds.load(dataset, split=split, data_dir=data_dir, as_supervised=True, download=download)
    except tfds.core.registered.DatasetNotFoundError as error:
        raise ValueError(f"TFDS dataset {dataset!r} does not exist (`name` 'tfds:{dataset}').") from error
    except AssertionError as error:  # what TFDS raises when the data was never prepared
        where = data_dir or "TFDS's default data_dir"
        raise ValueError(
            f"TFDS dataset {dataset!r} is not available offline in {where}: prepare it there first "
            f"(`tfds build {dataset}` or `download=True`, both need network) or pass its `data_dir`."
        ) from error


def _folder_classes(path):
    root = pathlib.Path(path)
    if not root.is_dir():
        raise ValueError(f"image folder {str(root)!r} does not exist or is not a folder.")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise ValueError(f"image folder {str(root)!r} holds no images: it has no class sub-folders (PATH/CLASS/IMAGE).")
    return len(classes), tuple(classes)


def _folder_files(path):
    """`(files, labels, classes)`: the images of every class that decode, sorted by class and name."""
    files, labels, classes, _ = _folder_scan(path)
    return files, labels, classes


def _folder_scan(path):
    """`_folder_files`'s result and the list of image files left out because they do not decode."""
    _, classes = _folder_classes(path)
    found = {}
    for name in classes:
        folder = pathlib.Path(path) / name
        found[name] = sorted(str(p) for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not any(found.values()):
        raise ValueError(
            f"image folder {str(path)!r} holds no images ({', '.join(IMAGE_EXTENSIONS)}) in its class sub-folders."
        )
    everything = [file for names in found.values() for file in names]
    decodes = dict(zip(everything, _decodable(everything)))
    files, labels, unreadable = [], [], []
    for label, (name, names) in enumerate(found.items()):
        readable = [file for file in names if decodes[file]]
        if not readable:
            what = f"{len(names)} unreadable" if names else f"no {', '.join(IMAGE_EXTENSIONS)} files"
            raise ValueError(f"class folder {str(pathlib.Path(path) / name)!r} holds no readable images ({what}).")
        files += readable
        labels += [label] * len(readable)
        unreadable += [file for file in names if not decodes[file]]
    return np.array(files), np.array(labels, dtype=np.int64), classes, unreadable


#: (file, modification time, size) -> whether it decodes: `load` reads a folder once a split, this once a file.
_DECODES = {}


def _decodable(files):
    """Whether each file decodes as `load` decodes it (a truncated or corrupt file would fail its pipeline)."""
    stats = [os.stat(file) for file in files]
    keys = [(file, stat.st_mtime_ns, stat.st_size) for file, stat in zip(files, stats)]
    new = [key for key in keys if key not in _DECODES]
    if new:
        decode = _decoder(3)
        checks = tf.data.Dataset.from_tensor_slices([key[0] for key in new]).enumerate()
        # A file that fails raises in the map and `ignore_errors` drops it: the indices left are those that decode.
        checks = checks.map(lambda i, file: (i, tf.shape(decode(file, i)[0])), num_parallel_calls=tf.data.AUTOTUNE)
        decoded = {int(i) for i, _ in checks.ignore_errors().as_numpy_iterator()}
        _DECODES.update((key, i in decoded) for i, key in enumerate(new))
    return [_DECODES[key] for key in keys]


def _decoder(channels):
    def decode(file, label):
        image = tf.io.decode_image(tf.io.read_file(file), channels=channels, expand_animations=False)
        return image, label

    return decode
