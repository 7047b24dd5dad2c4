"""tfaug.data.train_pipeline / eval_pipeline on tiny JPEG folders and TFRecords written here."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfaug.data import pipeline as p
from tfaug.data.decode import decode_center_crop
from tfaug.data.sources import folder_files
from tfaug.layers.rand_augment import INCREASING_OPS

CLASSES = ("astronaut", "chelsea", "coffee")
PER_CLASS = 4
SIZE = 16
#: Every stage off: decode, resize the shorter side and centre-crop, one-hot labels, in file order.
OFF = dict(
    scale=None,
    hflip=0,
    auto_augment=None,
    color_jitter=None,
    mean=None,
    std=None,
    mixup=0,
    cutmix=0,
    smoothing=0,
    reprob=0,
    shuffle_buffer=0,
    epochs=1,
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory, photos):
    """3 class folders of 4 JPEGs each, 40x30 (landscape) crops of scikit-image photos."""
    root = tmp_path_factory.mktemp("images")
    for name in CLASSES:
        (root / name).mkdir()
        image = Image.fromarray(photos[name]).resize((40, 30))
        for i in range(PER_CLASS):
            image.rotate(90 * i).resize((40, 30)).save(root / name / f"{i}.jpg", quality=90)
    (root / "coffee" / "notes.txt").write_text("not an image")
    return root


@pytest.fixture(scope="module")
def tfrecords(folder, tmp_path_factory):
    files, labels, _ = folder_files(folder)
    folder_ = tmp_path_factory.mktemp("records")
    paths = [folder_ / f"part-{k}.tfrecord" for k in range(2)]
    for k, path in enumerate(paths):
        with tf.io.TFRecordWriter(str(path)) as writer:
            for file, label in list(zip(files, labels))[k::2]:
                feature = {
                    "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[open(file, "rb").read()])),
                    "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
                }
                writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return paths


def batches(ds):
    return [(x.numpy(), y.numpy()) for x, y in ds]


def reference(folder):
    """Every image as the stage-free pipeline gives it: float32 centre crops, and the labels."""
    files, labels, _ = folder_files(folder)
    crop = decode_center_crop(SIZE, 1.0, "bicubic")
    images = np.stack([crop(tf.io.read_file(f)).numpy() for f in files]).astype(np.float32)
    return images, np.eye(len(CLASSES), dtype=np.float32)[labels]


def test_stage_free_pipeline_is_decode_and_centre_crop_in_file_order(folder):
    x, y = reference(folder)
    got = batches(p.train_pipeline(str(folder), 3, SIZE, 4, **OFF))
    assert len(got) == 3  # notes.txt is no image
    assert all(b[0].shape == (4, SIZE, SIZE, 3) and b[0].dtype == np.float32 for b in got)
    np.testing.assert_array_equal(np.concatenate([b[0] for b in got]), x)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in got]), y)


def test_each_stage_is_there_when_asked(folder):
    x, y = reference(folder)
    mean, std = np.array(p.IMAGENET_MEAN), np.array(p.IMAGENET_STD)
    flipped = batches(p.train_pipeline(folder, 3, SIZE, 4, **dict(OFF, hflip=1.0, mean=tuple(mean), std=tuple(std))))
    np.testing.assert_allclose(np.concatenate([b[0] for b in flipped]), (x[:, :, ::-1] / 255.0 - mean) / std, atol=1e-5)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in flipped]), y)
    erased = batches(p.train_pipeline(folder, 3, SIZE, 4, **dict(OFF, reprob=1.0, remode="const", smoothing=0.1)))
    np.testing.assert_allclose(np.concatenate([b[1] for b in erased]), 0.9 * y + 0.1 / 3, rtol=1e-6)
    erased = np.concatenate([b[0] for b in erased])
    changed = (erased != x).any(axis=-1)
    assert changed.any(axis=(1, 2)).all() and (erased[changed] == 0).all()
    # Colour jitter runs when there is no auto_augment (timm's rule): every image's colours move, labels do not.
    jittered = batches(p.train_pipeline(folder, 3, SIZE, 4, **dict(OFF, color_jitter=0.4, seed=0)))
    assert all(np.abs(b[0] - x[k * 4 : k * 4 + 4]).mean(axis=(1, 2, 3)).min() > 0.5 for k, b in enumerate(jittered))
    np.testing.assert_array_equal(np.concatenate([b[1] for b in jittered]), y)
    # MixUp alone, timm's batch mode: one lambda a batch, image i mixed with image B-1-i. Classes alternate, so
    # images 1 and 2 (partners) differ in class and their labels tell lambda.
    files, labels, _ = folder_files(folder)
    order = np.argsort(np.arange(len(files)) % PER_CLASS, kind="stable")
    source = ([files[i] for i in order], [labels[i] for i in order])
    x, y = x[order], y[order]
    mixed = p.train_pipeline(source, 3, SIZE, 4, **dict(OFF, mixup=0.8, seed=1))
    for (images, mixed_labels), start in zip(batches(mixed), range(0, 12, 4)):
        xs, ys = x[start : start + 4], y[start : start + 4]
        lam = mixed_labels[1] @ ys[1]
        assert 0 < lam < 1
        np.testing.assert_allclose(mixed_labels, lam * ys + (1 - lam) * ys[::-1], atol=1e-6)
        np.testing.assert_allclose(images, lam * xs + (1 - lam) * xs[::-1], atol=1e-3)


def test_seeded_pipeline_is_reproducible_whatever_the_parallelism(folder):
    settings = dict(OFF, scale=(0.08, 1.0), hflip=0.5, seed=5, epochs=2)
    serial = batches(p.train_pipeline(folder, 3, SIZE, 12, num_parallel_calls=1, **settings))
    parallel = batches(p.train_pipeline(folder, 3, SIZE, 12, **settings))
    assert len(serial) == len(parallel) == 2
    for a, b in zip(serial, parallel):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    # Each pass draws afresh (the element index runs on): epoch 2's crops of the same files differ.
    assert not np.array_equal(serial[0][0], serial[1][0])


@pytest.mark.slow
def test_default_training_pipeline(folder):
    settings = dict(seed=0, shuffle_buffer=4, epochs=1)
    first = batches(p.train_pipeline(folder, 3, SIZE, 4, **settings))
    again = batches(p.train_pipeline(folder, 3, SIZE, 4, **settings))
    other = batches(p.train_pipeline(folder, 3, SIZE, 4, **dict(settings, seed=1)))
    assert len(first) == 3
    for (images, labels), (images_again, labels_again) in zip(first, again):
        assert images.shape == (4, SIZE, SIZE, 3) and images.dtype == np.float32 and labels.dtype == np.float32
        np.testing.assert_allclose(labels.sum(axis=1), 1.0, rtol=1e-6)
        assert labels.min() >= 0.1 / 3 - 1e-6  # smoothed
        assert -2.2 < images.min() and images.max() < 2.7  # normalised
        np.testing.assert_array_equal(images, images_again)
        np.testing.assert_array_equal(labels, labels_again)
    assert not np.array_equal(first[0][0], other[0][0])


def test_every_source_form_reads_the_same_examples(folder, tfrecords):
    x, y = reference(folder)
    files, labels, _ = folder_files(folder)
    key = lambda got: sorted(zip(got[1].argmax(1), got[0].sum(axis=(1, 2, 3))))  # noqa: E731

    def everything(source):
        got = batches(p.train_pipeline(source, 3, SIZE, 12, **OFF))
        return got[0][0], got[0][1]

    expected = key((x, y))
    assert key(everything((files, labels))) == expected
    assert key(everything([str(f) for f in tfrecords])) == expected
    assert key(everything(str(tfrecords[0].parent / "part-*"))) == expected
    source = tf.data.Dataset.from_tensor_slices((files, labels)).map(lambda f, label: (tf.io.read_file(f), label))
    assert key(everything(source)) == expected


def test_eval_pipeline_is_timms_centre_crop_in_order(folder):
    files, labels, _ = folder_files(folder)
    crop = decode_center_crop(SIZE, 0.875, "bicubic")
    x = np.stack([crop(tf.io.read_file(f)).numpy() for f in files]).astype(np.float32)
    got = batches(p.eval_pipeline(folder, 3, SIZE, batch_size=5))
    assert [b[0].shape[0] for b in got] == [5, 5, 2]  # the last partial batch is kept
    expected = (x / 255.0 - np.array(p.IMAGENET_MEAN)) / np.array(p.IMAGENET_STD)
    np.testing.assert_allclose(np.concatenate([b[0] for b in got]), expected, atol=1e-5)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in got]).argmax(1), labels)


def test_unreadable_file_raises_or_is_skipped(folder, tmp_path):
    files, labels, _ = folder_files(folder)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(open(files[0], "rb").read()[:40])  # a truncated JPEG
    source = ([*files[:3], str(broken)], [0, 0, 0, 1])
    with pytest.raises(tf.errors.InvalidArgumentError):
        batches(p.train_pipeline(source, 3, SIZE, 1, **OFF))
    kept = batches(p.train_pipeline(source, 3, SIZE, 1, ignore_errors=True, **OFF))
    assert [b[1].argmax() for b in kept] == [0, 0, 0]


def test_default_auto_augment_is_timms_rand_m9_mstd05_inc1():
    layer = p._auto_augment("rand-m9-mstd0.5-inc1", "bilinear", seed=0)
    assert layer.ops == INCREASING_OPS and layer.probability == 0.5 and layer.magnitude_std == 0.5
    assert p._auto_augment("rand-m9-p1.0", "bilinear", seed=0).probability == 1.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"reprob": 1.5}, "reprob"),
        ({"remode": "noise"}, "remode"),
        ({"mixup_mode": "pair"}, "mixup_mode"),
        ({"mean": (0.5, 0.5, 0.5), "std": None}, "mean"),
        ({"std": (0.2, 0, 0.2)}, "std"),
        ({"scale": (0.5, 0.1)}, "scale"),
        ({"auto_augment": "v0"}, "auto_augment"),
        ({"color_jitter": "strong", "auto_augment": None}, "color_jitter"),
        ({"batch_size": 1}, "batch_size"),
        ({"hflip": 2}, "hflip"),
        ({"epochs": 0}, "epochs"),
        ({"data_dir": "/tmp"}, "data_dir"),
        ({"source": 42}, "source"),
        ({"source": "/no/such/records-*"}, "no TFRecord file"),
        ({"source": (["a.jpg", "b.jpg"], [0])}, "as many labels"),
    ],
)
def test_bad_arguments_are_named(folder, kwargs, match):
    kwargs = dict(kwargs)
    source = kwargs.pop("source", str(folder))
    with pytest.raises(ValueError, match=match):
        p.train_pipeline(source, 3, SIZE, kwargs.pop("batch_size", 4), **kwargs)


def test_tfds_sources_are_read_offline_only(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        p.train_pipeline("tfds:no_such_dataset_here", 3, SIZE, 4, data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="not available offline"):
        p.eval_pipeline("tfds:mnist/test", 10, SIZE, data_dir=str(tmp_path))


@pytest.mark.slow
def test_tfds_source_is_read_with_images_left_encoded(tmp_path):
    from tests.data.tiny_tfds import prepare

    prepare(tmp_path)
    train = batches(p.train_pipeline("tfds:tiny_photos", 3, SIZE, 6, data_dir=str(tmp_path), seed=0, epochs=1))
    assert len(train) == 3 and all(x.shape == (6, SIZE, SIZE, 3) for x, _ in train)
    test = batches(p.eval_pipeline("tfds:tiny_photos/test", 3, SIZE, batch_size=4, data_dir=str(tmp_path)))
    assert [len(y) for _, y in test] == [4, 4, 1]
    assert sorted(np.concatenate([y for _, y in test]).argmax(1).tolist()) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    with pytest.raises(ValueError, match="cannot read split"):
        p.eval_pipeline("tfds:tiny_photos/nosuchsplit", 3, SIZE, data_dir=str(tmp_path))
