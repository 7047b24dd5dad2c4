"""Folder and TFDS datasets streamed from disk for `recipes.train`: what `tfaug train` uses for them.

`load_stream` reads the same splits as `recipes.train.load_data` (folders: the stratified seeded split of
`recipes.data`; TFDS: `train`, `test` and `train[:p%]` slices) but keeps only file names or split names: every
epoch decodes the images again through `tfaug.data.train_pipeline` (training batches: the `--augment` layers
on float32 pixels in [0, 255], one-hot labels) and `tfaug.data.eval_pipeline` (test batches), so a dataset
need not fit in memory. Each image is resized (shorter side, bilinear, antialiased) and centre-cropped to
`size` x `size` RGB, for training and testing alike.

A `StreamData` answers what the recipes ask of `recipes.train.TrainData` (`training_batches`,
`validation_batches`, `test_logits`, `test_examples`, `counts`); the noisy-student recipe, which holds its
unlabeled images, needs `TrainData`.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from recipes import data as recipe_data
from tfaug.data.pipeline import eval_pipeline
from tfaug.data.pipeline import train_pipeline

#: The pipeline's own stages off: the recipe's layers are the augmentation.
PLAIN = dict(
    scale=None,
    interpolation="bilinear",
    antialias=True,
    hflip=0.0,
    auto_augment=None,
    color_jitter=None,
    mean=None,
    std=None,
    mixup=0.0,
    cutmix=0.0,
    smoothing=0.0,
    reprob=0.0,
)
TEST_BATCH = 256


@dataclasses.dataclass(frozen=True)
class StreamData:
    """A dataset read from disk every epoch: its sources (see `tfaug.data.sources`) and sizes.

    `train` and `test` are `(files, labels)` or `"tfds:NAME/SPLIT"`; `num_labeled` and `num_test` count
    their examples.
    """

    info: recipe_data.DatasetInfo
    train: object
    test: object
    num_labeled: int
    num_test: int
    size: int
    data_dir: str | None = None
    x_unlabeled = None  # every training image is labeled

    @property
    def image_shape(self):
        return (self.size, self.size, 3)

    def counts(self):
        return {"labeled": self.num_labeled, "unlabeled": 0, "test": self.num_test}

    def training_batches(self, layers, batch_size, seed):
        """`(dataset, steps)`: infinite shuffled batches augmented by `layers`, and the steps of one epoch."""
        ds = train_pipeline(
            self.train,
            self.info.num_classes,
            self.size,
            batch_size,
            layers=list(layers),
            shuffle_buffer=max(1, min(self.num_labeled, 10_000)),
            seed=seed,
            data_dir=self.data_dir,
            **PLAIN,
        )
        return ds, max(1, self.num_labeled // batch_size)

    def validation_batches(self):
        """Test batches of `(float32 images in [0, 255], one-hot labels)`, in order."""
        return eval_pipeline(
            self.test,
            self.info.num_classes,
            self.size,
            crop_pct=1.0,
            batch_size=TEST_BATCH,
            interpolation="bilinear",
            antialias=True,
            mean=None,
            std=None,
            data_dir=self.data_dir,
        )

    def test_logits(self, model):
        """`(logits, int labels)` of the whole test split, batch by batch."""
        logits, labels = [], []
        for images, one_hot in self.validation_batches():
            logits.append(np.asarray(model(images, training=False)))
            labels.append(np.argmax(one_hot, axis=-1))
        return np.concatenate(logits), np.concatenate(labels).astype(np.int64)

    def test_examples(self):
        """`(uint8 images, int labels)` of the first test batch (pictures of a few examples)."""
        images, one_hot = next(iter(self.validation_batches()))
        images = tf.cast(tf.clip_by_value(tf.round(images), 0, 255), tf.uint8)
        return images.numpy(), np.argmax(one_hot, axis=-1).astype(np.int64)


def load_stream(dataset, *, size=None, labeled_fraction=None, seed=0, data_dir=None):
    """A `StreamData` of a `"folder:PATH"` or `"tfds:NAME"` dataset, split as `recipes.train.load_data` splits it.

    Args:
        dataset: `"folder:PATH"` (one sub-folder per class) or `"tfds:NAME"` (prepared in `data_dir`).
        size: image side, >= 8; default 32.
        labeled_fraction: fraction of the training split to train on, in (0, 1]; None or 1: all of it.
        seed: int seed of the folder split.
        data_dir: TFDS data folder (TFDS only).

    Raises:
        ValueError: as `recipes.train.load_data` (an unknown source, a folder without readable images, too few
            images to split, a TFDS dataset that is not prepared offline, a bad argument).
    """
    size = 32 if size is None else size
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise ValueError(f"`size` must be an int >= 8, got {size!r}.")
    if labeled_fraction is not None and not 0.0 < labeled_fraction <= 1.0:
        raise ValueError(f"`labeled_fraction` must be in (0, 1], got {labeled_fraction!r}.")
    labeled_fraction = None if labeled_fraction == 1.0 else labeled_fraction
    source = dataset.split(":", 1)[0] if isinstance(dataset, str) else None
    info = recipe_data.info(dataset, data_dir=data_dir)
    if source == "folder":
        splits = dict(test_fraction=0.2, seed=seed)
        if labeled_fraction is None:
            train = recipe_data.folder_split(dataset, "train", **splits)
        else:
            train = recipe_data.folder_split(dataset, "labeled", labeled_fraction=labeled_fraction, **splits)
        test = recipe_data.folder_split(dataset, "test", **splits)
        return StreamData(info, train, test, len(train[0]), len(test[0]), size)
    if source != "tfds":
        raise ValueError(f"`dataset` must be 'folder:PATH' or 'tfds:NAME' to stream, got {dataset!r}.")
    name = dataset.split(":", 1)[1]
    train_split = "train"
    if labeled_fraction is not None:
        percent = round(100 * labeled_fraction)
        if not 1 <= percent <= 99:
            raise ValueError(f"`labeled_fraction` must be between 0.01 and 0.99 for TFDS, got {labeled_fraction}.")
        train_split = f"train[:{percent}%]"
    counts = [_tfds_count(name, split, data_dir) for split in (train_split, "test")]
    return StreamData(info, f"{dataset}/{train_split}", f"{dataset}/test", *counts, size, data_dir)


def _tfds_count(name, split, data_dir):
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=data_dir)
    if not builder.is_prepared():
        raise ValueError(
            f"TFDS dataset {name!r} is not available offline in {data_dir or 'the default data_dir'}: prepare it "
            f"there first (`tfds build {name}`, which needs network) or pass its `data_dir`."
        )
    try:
        return int(builder.info.splits[split].num_examples)
    except (KeyError, ValueError) as error:
        raise ValueError(f"TFDS dataset {name!r} has no split {split!r}: {error}") from error
