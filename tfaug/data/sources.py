"""Where the input pipelines read from: `(image_bytes, label)` datasets from folders, file lists, TFRecords or TFDS.

`open_source(source, ...)` turns any accepted `source` into a `Source`: an unbatched `tf.data.Dataset` of
`(encoded image, int64 label)` (read in parallel, in a seeded order when shuffled) and the number of examples
when it is known. Nothing is decoded here and nothing is downloaded.

Accepted sources:

- a `tf.data.Dataset` of `(image_bytes, label)`: used as it is (shuffled with a buffer).
- a folder path (`str` or `pathlib.Path`) with one sub-folder per class (`PATH/cat/1.jpg`): classes are the
  sub-folders' names in sorted order; files with an image suffix (`IMAGE_SUFFIXES`) are read, others ignored.
- `(files, labels)`: image file paths and their int labels.
- TFRecord files: a list of paths, or a glob pattern (`"data/train-*"`), of `tf.train.Example`s with the
  encoded image under `image_key` and the int label under `label_key`.
- `"tfds:NAME"` or `"tfds:NAME/SPLIT"`: a TensorFlow Datasets dataset already prepared in `data_dir`, read
  with its images left encoded (`tfds.decode.SkipDecoding`). When NAME has a config (`"imagenet2012_subset/1pct"`),
  give the split too (`"tfds:imagenet2012_subset/1pct/train"`): the part after the last `/` is the split.
"""

import dataclasses
import hashlib
import os
import pathlib

import tensorflow as tf

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


@dataclasses.dataclass(frozen=True)
class Source:
    """An unbatched dataset of `(encoded image, int64 label)`, its number of examples (None: unknown), and
    whether its order is already a full permutation each pass (file lists), so needs no shuffle buffer."""

    dataset: tf.data.Dataset
    num_examples: int | None
    permuted: bool = False


def stage_seed(seed, stage):
    """An int seed for one stage of a pipeline seeded with `seed`: stages draw independent streams."""
    digest = hashlib.blake2b(f"{seed}/{stage}".encode(), digest_size=7).digest()
    return int.from_bytes(digest, "little")


def folder_files(path):
    """`(files, labels, class_names)` of an image folder with one sub-folder per class, sorted.

    Raises:
        ValueError: if `path` is not a folder, has no class sub-folders, or holds no image files.
    """
    root = pathlib.Path(path)
    if not root.is_dir():
        raise ValueError(f"`source` {str(root)!r} is not a folder (expected one sub-folder of images per class).")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    files, labels = [], []
    for label, name in enumerate(classes):
        found = sorted(str(p) for p in (root / name).rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        files += found
        labels += [label] * len(found)
    if not files:
        raise ValueError(
            f"`source` folder {str(root)!r} holds no images ({', '.join(IMAGE_SUFFIXES)}) in class sub-folders."
        )
    return files, labels, tuple(classes)


def open_source(
    source,
    *,
    shuffle,
    seed,
    split,
    data_dir=None,
    image_key="image/encoded",
    label_key="image/class/label",
    num_parallel_calls=tf.data.AUTOTUNE,
    deterministic=True,
):
    """The `Source` of `source` (see the module docstring). File lists are permuted afresh each pass when
    `shuffle`; the reading of files and records is parallel.

    Raises:
        ValueError: for a source of none of the accepted forms (named), a folder without images, files and
            labels of different lengths, a pattern that matches nothing, or a TFDS dataset that does not exist
            or is not prepared in `data_dir`.
    """
    if data_dir is not None and not (isinstance(source, str) and source.startswith("tfds:")):
        raise ValueError(f"`data_dir` applies to 'tfds:' sources only, got source {source!r}.")
    if isinstance(source, tf.data.Dataset):
        return Source(_checked_dataset(source), _known_cardinality(source))
    if isinstance(source, str) and source.startswith("tfds:"):
        return _tfds(source, split, data_dir, shuffle, seed)
    if isinstance(source, (str, os.PathLike)) and pathlib.Path(source).is_dir():
        files, labels, _ = folder_files(source)
        return _files(files, labels, shuffle, seed, num_parallel_calls, deterministic)
    if isinstance(source, tuple) and len(source) == 2 and not _all_paths(source):
        files, labels = (list(part) for part in source)
        if len(files) != len(labels) or not files or not _all_paths(files):
            raise ValueError(
                f"`source` (files, labels) needs as many labels as files, at least one: got {len(files)} files "
                f"and {len(labels)} labels."
            )
        return _files([str(f) for f in files], labels, shuffle, seed, num_parallel_calls, deterministic)
    if isinstance(source, (str, os.PathLike)) or (isinstance(source, (list, tuple)) and _all_paths(source)):
        return _tfrecords(source, image_key, label_key, shuffle, seed, num_parallel_calls, deterministic)
    raise ValueError(
        "`source` must be a tf.data.Dataset of (image_bytes, label), a folder with one sub-folder per class, "
        f"(files, labels), TFRecord files (a list or a glob pattern) or 'tfds:NAME[/SPLIT]'; got {source!r}."
    )


def _all_paths(items):
    return bool(items) and all(isinstance(item, (str, os.PathLike)) for item in items)


def _checked_dataset(dataset):
    spec = dataset.element_spec
    ok = (
        isinstance(spec, tuple)
        and len(spec) == 2
        and isinstance(spec[0], tf.TensorSpec)
        and spec[0].dtype == tf.string
        and spec[0].shape.rank == 0
        and isinstance(spec[1], tf.TensorSpec)
        and spec[1].dtype.is_integer
        and spec[1].shape.rank == 0
    )
    if not ok:
        raise ValueError(
            "`source` dataset must yield unbatched (image_bytes, label): a scalar string (encoded image) and a "
            f"scalar int label; got element_spec {spec!r}."
        )
    return dataset.map(lambda image, label: (image, tf.cast(label, tf.int64)))


def _known_cardinality(dataset):
    n = int(dataset.cardinality())
    return n if n >= 0 else None


def _files(files, labels, shuffle, seed, num_parallel_calls, deterministic):
    dataset = tf.data.Dataset.from_tensor_slices((tf.constant(files), tf.constant(labels, tf.int64)))
    if shuffle:  # names are cheap to permute whole, bytes are not: shuffle before reading
        dataset = dataset.shuffle(len(files), seed=stage_seed(seed, "files"), reshuffle_each_iteration=True)
    dataset = dataset.map(
        lambda file, label: (tf.io.read_file(file), label),
        num_parallel_calls=num_parallel_calls,
        deterministic=deterministic,
    )
    return Source(dataset, len(files), permuted=shuffle)


def _tfrecords(source, image_key, label_key, shuffle, seed, num_parallel_calls, deterministic):
    if isinstance(source, (str, os.PathLike)):
        files = sorted(tf.io.gfile.glob(str(source)))
        if not files:
            raise ValueError(f"`source` {str(source)!r} is no folder, and no TFRecord file matches it.")
    else:
        files = [str(f) for f in source]
        missing = [f for f in files if not tf.io.gfile.exists(f)]
        if missing:
            raise ValueError(f"`source` TFRecord files do not exist: {missing[:3]}.")
    features = {
        image_key: tf.io.FixedLenFeature([], tf.string),
        label_key: tf.io.FixedLenFeature([], tf.int64),
    }

    def parse(record):
        example = tf.io.parse_single_example(record, features)
        return example[image_key], example[label_key]

    dataset = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        dataset = dataset.shuffle(len(files), seed=stage_seed(seed, "files"), reshuffle_each_iteration=True)
    dataset = dataset.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(len(files), 16),
        num_parallel_calls=num_parallel_calls,
        deterministic=deterministic,
    )
    return Source(dataset.map(parse, num_parallel_calls=num_parallel_calls, deterministic=deterministic), None)


def tfds_name_and_split(source, split):
    """`("NAME", split)` of `"tfds:NAME[/SPLIT]"` (the part after the last `/` is the split)."""
    argument = source.split(":", 1)[1]
    if "/" in argument:
        argument, split = argument.rsplit("/", 1)
    if not argument or not split:
        raise ValueError(f"`source` must be 'tfds:NAME' or 'tfds:NAME/SPLIT', got {source!r}.")
    return argument, split


def _tfds(source, split, data_dir, shuffle, seed):
    import tensorflow_datasets as tfds

    name, split = tfds_name_and_split(source, split)
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError as error:
        raise ValueError(f"TFDS dataset {name!r} (from `source` {source!r}) does not exist.") from error
    keys = builder.info.supervised_keys
    if not keys or not isinstance(builder.info.features[keys[0]], tfds.features.Image):
        raise ValueError(f"TFDS dataset {name!r} has no (image, label) supervised keys to read.")
    read_config = tfds.ReadConfig(shuffle_seed=stage_seed(seed, "files") if shuffle else None)
    try:
        dataset = builder.as_dataset(
            split=split,
            as_supervised=True,
            shuffle_files=shuffle,
            decoders={keys[0]: tfds.decode.SkipDecoding()},
            read_config=read_config,
        )
    except AssertionError as error:  # what TFDS raises when the data was never prepared
        raise ValueError(
            f"TFDS dataset {name!r} is not available offline in {data_dir or 'the default data_dir'}: prepare it "
            f"there first (`tfds build {name}`, which needs network) or pass its `data_dir`."
        ) from error
    except ValueError as error:  # an unknown split
        raise ValueError(f"TFDS dataset {name!r}: cannot read split {split!r}: {error}") from error
    try:
        count = int(builder.info.splits[split].num_examples)
    except (KeyError, ValueError):
        count = None
    return Source(dataset.map(lambda image, label: (image, tf.cast(label, tf.int64))), count)
