"""`tfaug robustness`, run in-process on a small saved model and the embedded digits."""

import json

import keras
import pytest

from tfaug import cli


def save_model(path, side=32, channels=1):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((side, side, channels)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10),
        ]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return path


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return save_model(tmp_path_factory.mktemp("run") / "model.keras")


ARGS = ["--corruptions", "contrast,gaussian_noise", "--severities", "1,5"]


def test_writes_errors_and_a_picture_beside_the_model(model_path, capsys):
    assert cli.main(["robustness", "--model", str(model_path), *ARGS]) == 0
    out = capsys.readouterr().out
    assert "clean error" in out and "wrote" in out
    result = json.loads((model_path.parent / "robustness.json").read_text())
    assert set(result["errors"]) == {"contrast", "gaussian_noise"} and result["severities"] == [1, 5]
    assert result["images"] == 360 and result["settings"]["dataset"] == "digits"
    assert (model_path.parent / "robustness.png").stat().st_size > 0


def test_a_baseline_gives_mce_and_out_elsewhere(model_path, tmp_path, capsys):
    baseline = tmp_path / "base"
    assert cli.main(["robustness", "--model", str(model_path), *ARGS, "--out", str(baseline)]) == 0
    argv = ["robustness", "--model", str(model_path), *ARGS, "--baseline", str(baseline / "robustness.json")]
    assert cli.main([*argv, "--out", str(tmp_path / "again")]) == 0
    assert "mCE 100.0" in capsys.readouterr().out
    assert json.loads((tmp_path / "again" / "robustness.json").read_text())["mce"] == pytest.approx(100.0)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--corruptions", "smog"], "unknown corruption smog"),
        (["--severities", "0,3"], "--severities must be comma-separated ints in 1..5"),
        (["--severities", "x"], "--severities must be comma-separated ints in 1..5"),
        (["--out", "{tmp}/exists"], "robustness.json exists; pass --overwrite"),
        (["--out", "{tmp}/file"], "is a file; give a folder"),
        (["--baseline", "{tmp}/missing.json"], "not a readable robustness.json"),
        (["--baseline", "{tmp}/other.json"], "not a robustness.json written by tfaug robustness"),
        (["--dataset", "digits", "--data-dir", "{tmp}"], "--data-dir applies to --dataset tfds:NAME only"),
        (["--dataset", "mnist"], "--dataset must be 'digits', 'tfds:NAME' or 'folder:PATH'"),
    ],
)
def test_user_mistakes_end_with_one_line(model_path, tmp_path, capsys, argv, message):
    (tmp_path / "exists").mkdir()
    (tmp_path / "exists" / "robustness.json").write_text("{}")
    (tmp_path / "file").write_text("")
    (tmp_path / "other.json").write_text('{"accuracy": 1}')
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    code = cli.main(["robustness", "--model", str(model_path), "--out", str(tmp_path / "new"), *argv])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("tfaug: error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "new").exists()


def test_models_the_corruptions_cannot_take_are_one_line(tmp_path, capsys):
    small = save_model(tmp_path / "small" / "model.keras", side=4)
    assert cli.main(["robustness", "--model", str(small)]) == 2
    err = capsys.readouterr().err
    assert "the model takes 4x4 images; the corruptions need at least 8 pixels" in err
    assert cli.main(["robustness", "--model", str(tmp_path / "none.keras")]) == 2
    (tmp_path / "text.keras").write_text("not a model")
    assert cli.main(["robustness", "--model", str(tmp_path / "text.keras")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "no such file" in err[0] and "not a Keras model file" in err[1] and len(err) == 2
