"""recipes.streaming: folder and TFDS datasets read from disk every epoch, what `tfaug train` uses for them."""

import json

import keras
import numpy as np
import pytest
from PIL import Image

import tfaug
from recipes import streaming
from recipes import train as recipe
from tfaug import cli


def image_folder(root, photos, per_class=5):
    for name in ("astronaut", "chelsea", "coffee"):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(photos[name]).rotate(20 * i).resize((40, 30)).save(root / name / f"{i}.jpg")
    return root


def test_folder_stream_holds_file_names_and_reads_batches(tmp_path, photos):
    folder = image_folder(tmp_path / "imgs", photos)
    data = streaming.load_stream(f"folder:{folder}", size=8, seed=0)
    files, labels = data.train
    assert all(isinstance(f, str) and f.endswith(".jpg") for f in files)  # names, no pixels in memory
    assert data.counts() == {"labeled": 12, "unlabeled": 0, "test": 3} and data.image_shape == (8, 8, 3)
    assert sorted(np.bincount(data.test[1])) == [1, 1, 1]  # stratified test split, as load_data's
    cutmix = tfaug.CutMix(num_classes=3, seed=0)
    ds, steps = data.training_batches([cutmix], batch_size=4, seed=0)
    assert steps == 3
    first = [(x.numpy(), y.numpy()) for x, y in ds.take(3)]
    again = [(x.numpy(), y.numpy()) for x, y in data.training_batches([cutmix], batch_size=4, seed=0)[0].take(3)]
    for (x, y), (x2, y2) in zip(first, again):
        assert x.shape == (4, 8, 8, 3) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 255
        np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-6)
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)
    assert any((np.sort(y, axis=1)[:, -2] > 0).any() for _, y in first)  # CutMix mixed some labels
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(3)])
    logits, test_labels = data.test_logits(model)
    assert logits.shape == (3, 3) and np.array_equal(test_labels, data.test[1])
    images, _ = data.test_examples()
    assert images.shape == (3, 8, 8, 3) and images.dtype == np.uint8


def test_noisy_student_is_refused_on_streamed_data(tmp_path, photos):
    data = streaming.load_stream(f"folder:{image_folder(tmp_path / 'imgs', photos)}", size=8)
    with pytest.raises(ValueError, match="keeps its images in memory"):
        recipe.train(data, tmp_path / "run", recipe="noisy-student", epochs=1)
    with pytest.raises(ValueError, match="'folder:PATH' or 'tfds:NAME'"):
        streaming.load_stream("digits")


@pytest.mark.slow
def test_tfaug_train_streams_a_tfds_dataset(tmp_path, capsys):
    from tests.data.tiny_tfds import prepare

    prepare(tmp_path / "tfds")
    argv = ["train", "--dataset", "tfds:tiny_photos", "--data-dir", str(tmp_path / "tfds"), "--augment", "cutmix"]
    argv += ["--epochs", "1", "--size", "8", "--width", "2", "--batch-size", "4", "--out", str(tmp_path / "run")]
    assert cli.main(argv) == 0
    assert "18 labeled, 0 unlabeled, 9 test images 8x8x3, streamed" in capsys.readouterr().out
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["data"]["labeled"] == 18 and metrics["data"]["test"] == 9
    assert sum(map(sum, metrics["confusion_matrix"])) == 9
