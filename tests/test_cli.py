"""The `tfaug` command line, run in-process (one TensorFlow import for the whole suite)."""

import json
import math
import os
import pathlib
import runpy
import sys

import keras
import numpy as np
import pytest
from PIL import Image

import tfaug
import tfaug.viz
from tfaug import cli


def test_preview_writes_a_png_grid_of_the_sample_photos(tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert cli.main(["preview", "--augment", "cutmix,mixup", "--size", "32", "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    with Image.open(out) as image:
        assert image.format == "PNG"
        width, height = image.size
    assert width > 2 * height  # one column per photo, two rows


def test_preview_reads_a_user_folder(tmp_path):
    folder = tmp_path / "imgs"
    for name, colour in (("red", (255, 0, 0)), ("blue", (0, 0, 255)), ("green", (0, 255, 0))):
        (folder / name).mkdir(parents=True)
        Image.fromarray(np.full((20, 30, 3), colour, np.uint8)).save(folder / name / "a.png")
    (folder / "notes.txt").write_text("not an image")
    out = tmp_path / "grid.png"
    argv = ["preview", "--augment", "mixup_cutmix", "--images", str(folder), "--size", "16", "--out", str(out)]
    code = cli.main(argv)
    assert code == 0 and out.exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["preview", "--augment", "cutmix,shear", "--out", "{tmp}/g.png"], "unknown augmentation shear"),
        (["preview", "--augment", "cutmix,rand-n2-x9", "--out", "{tmp}/g.png"], "cannot parse 'x9'"),
        (["preview", "--augment", "rand-n2-m99", "--out", "{tmp}/g.png"], "--augment 'rand-n2-m99': `magnitude`"),
        (["preview", "--augment", " , ", "--out", "{tmp}/g.png"], "at least one name"),
        (["preview", "--augment", "cutmix", "--out", "{tmp}/exists.png"], "pass --overwrite"),
        (["preview", "--augment", "cutmix", "--out", "{tmp}/missing/g.png"], "does not exist"),
        (["preview", "--augment", "cutmix", "--images", "{tmp}/empty", "--out", "{tmp}/g.png"], "no readable images"),
        (["preview", "--augment", "cutmix", "--images", "{tmp}/nowhere", "--out", "{tmp}/g.png"], "does not exist"),
        (["preview", "--augment", "cutmix", "--out", "{tmp}/grid.txt"], "unsupported suffix .txt; use .png, .jpg"),
        (["preview", "--augment", "cutmix", "--out", "{tmp}/folder"], "is a folder; give an image file"),
        (["preview", "--augment", "cutmix", "--out", "{tmp}/exists"], "exists.png exists; pass --overwrite"),
        (["preview", "--augment", "cutmix", "--out", "{tmp}/exists.png/g.png"], "exists.png is not a folder"),
        (["preview", "--augment", "cutmix", "--size", "100000", "--out", "{tmp}/g.png"], "--size must be in [8, 1024]"),
        (["preview", "--augment", "cutmix", "--size", "4", "--out", "{tmp}/g.png"], "--size must be in [8, 1024]"),
    ],
)
def test_user_mistakes_end_with_one_line_and_status_2(tmp_path, capsys, argv, message):
    (tmp_path / "exists.png").write_bytes(b"")
    (tmp_path / "empty").mkdir()
    (tmp_path / "folder").mkdir()
    code = cli.main([arg.replace("{tmp}", str(tmp_path)) for arg in argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("tfaug: error: ") and message in err
    assert len(err.strip().splitlines()) == 1


def test_help_lists_the_augmentations(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["preview", "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert all(f"{name}:" in text for name in tfaug.layers.AUGMENTATIONS)
    assert all(alias in text for alias in cli.ALIASES) and "rand-n2-m9-mstd0.5" in text


# -- names --------------------------------------------------------------------------------------------------


def test_augment_names_are_the_registry_names_and_earlier_names_are_aliases():
    names = list(tfaug.layers.AUGMENTATIONS)
    assert cli.parse_augmentations(",".join(names)) == names
    assert set(cli.SETTINGS) <= set(names)
    old = cli.parse_augmentations("randaugment, autoaugment,trivialaugment,augmix,mixup-cutmix")
    assert old == ["rand_augment", "auto_augment", "trivial_augment_wide", "aug_mix", "mixup_cutmix"]
    built = [cli.build_layer(name, 10, seed=0, image_size=(8, 8)) for name in names]
    assert [type(layer) for layer in built] == list(tfaug.layers.AUGMENTATIONS.values())
    cutout = built[names.index("cutout")]
    assert (cutout.size, cutout.fill_value) == (0.4, 128)  # the command's settings
    assert built[names.index("random_resized_crop")].output_size == (8, 8)  # the images' own size


def test_a_layer_added_to_the_registry_is_an_augment_name(monkeypatch):
    class Identity(tfaug.layers.Cutout):
        pass

    monkeypatch.setitem(tfaug.layers.AUGMENTATIONS, "identity", Identity)
    assert cli.parse_augmentations("identity,cutmix") == ["identity", "cutmix"]
    assert type(cli.build_layer("identity", 3, seed=0)) is Identity


def test_recipe_choices_are_the_recipes_registry(monkeypatch):
    from recipes import train as recipe

    assert set(cli.DEFAULT_AUGMENT) == set(recipe.RECIPES)
    monkeypatch.setitem(recipe.RECIPES, "custom", recipe.RECIPES["plain"])
    args = cli.build_parser().parse_args(["train", "--recipe", "custom", "--out", "unused"])
    assert args.recipe == "custom"


def test_randaugment_strings_are_parsed_with_from_string():
    assert cli.parse_augmentations("rand-n2-m9-mstd0.5,cutmix") == ["rand-n2-m9-mstd0.5", "cutmix"]
    layer = cli.build_layer("rand-n3-m7-mstd0.5-p0.8", 10, seed=4)
    assert isinstance(layer, tfaug.RandAugment)
    assert (layer.num_ops, layer.magnitude, layer.magnitude_std, layer.probability) == (3, 7, 0.5, 0.8)
    assert layer.num_classes == 10 and layer.seed == 4


def test_preview_with_a_randaugment_string(tmp_path, capsys):
    out = tmp_path / "ra.png"
    argv = ["preview", "--augment", "rand-n2-m9-mstd0.5,cutmix", "--size", "16", "--out", str(out)]
    assert cli.main(argv) == 0
    assert f"wrote {out}" in capsys.readouterr().out and out.exists()


# -- train ------------------------------------------------------------------------------------------------

TRAIN_FILES = {"metrics.json", "model.keras", "curves.png", "confusion_matrix.png"}
if hasattr(tfaug.viz, "class_activation_maps"):
    TRAIN_FILES.add("cam.png")


def _png_size(path):
    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.size


@pytest.mark.parametrize(
    "recipe, augment",
    # The distill and noisy-student runs train two and three models (the recipes have their own tests): slow.
    [
        ("plain", "cutmix,cutout"),
        pytest.param("distill", "mixup_cutmix", marks=pytest.mark.slow),
        pytest.param("noisy-student", None, marks=pytest.mark.slow),
    ],
)
def test_train_writes_every_output_with_sane_numbers(tmp_path, capsys, recipe, augment):
    out = tmp_path / "runs" / "digits"  # parent folders are created
    argv = ["train", "--recipe", recipe, "--epochs", "1", "--width", "4", "--out", str(out)]
    assert cli.main(argv + (["--augment", augment] if augment else [])) == 0
    augment = augment or cli.DEFAULT_AUGMENT[recipe]
    printed = capsys.readouterr().out
    assert "/step - accuracy: " in printed and "test accuracy" in printed  # the Keras progress bar, then the result
    assert {path.name for path in out.iterdir()} == TRAIN_FILES
    for name in TRAIN_FILES - {"metrics.json", "model.keras"}:
        width, height = _png_size(out / name)
        assert width >= 300 and height >= 150

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["settings"]["recipe"] == recipe and metrics["settings"]["augment"] == augment.split(",")
    assert metrics["settings"]["epochs"] == 1 and metrics["data"]["test"] == 360
    history = metrics["history"]
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(history)
    assert all(len(values) == 1 and math.isfinite(values[0]) for values in history.values())
    accuracy, loss = metrics["test"]["accuracy"], metrics["test"]["loss"]
    assert 0.0 <= accuracy <= 1.0 and 0.0 < loss < 20.0
    confusion = np.array(metrics["confusion_matrix"])
    assert confusion.shape == (10, 10) and confusion.sum() == 360
    assert np.trace(confusion) / 360 == pytest.approx(accuracy)
    if recipe == "distill":
        assert 0.0 <= metrics["teacher"]["test"]["accuracy"] <= 1.0
    if recipe == "noisy-student":
        assert [r["round"] for r in metrics["rounds"]] == [0, 1]
        assert metrics["rounds"][1]["pseudo_labels"]["total"] == metrics["data"]["unlabeled"] > 0
        assert metrics["rounds"][1]["test"] == metrics["test"]

    # The saved model is the small CNN the metrics describe: same test accuracy when reloaded.
    from recipes import data as recipe_data

    model = keras.saving.load_model(out / "model.keras")
    assert isinstance(model.layers[-1], keras.layers.Dense)
    test = list(recipe_data.load("digits", split="test", size=16).batch(512).as_numpy_iterator())[0]
    logits = np.asarray(model(test[0].astype(np.float32), training=False))
    assert logits.shape == (360, 10)
    assert np.mean(logits.argmax(-1) == test[1]) == pytest.approx(accuracy)


def test_train_with_a_randaugment_string_on_gray_digits(tmp_path):
    out = tmp_path / "run"
    argv = [
        "train",
        "--augment",
        "rand-n2-m9-mstd0.5",
        "--epochs",
        "1",
        "--size",
        "8",
        "--batch-size",
        "32",
        "--width",
        "2",
        "--out",
        str(out),
    ]
    assert cli.main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["settings"]["augment"] == ["rand-n2-m9-mstd0.5"]
    [config] = metrics["augment"]
    assert (config["num_ops"], config["magnitude"], config["magnitude_std"]) == (2, 9, 0.5)
    assert metrics["data"]["image_shape"] == [8, 8, 1] and math.isfinite(metrics["test"]["loss"])


def _image_folder(folder, per_class=5):
    """`folder` with red/, green/ and blue/ holding `per_class` 12x10 PNGs each (noise, one channel at 200)."""
    rng = np.random.default_rng(0)
    for name, channel in (("red", 0), ("green", 1), ("blue", 2)):
        (folder / name).mkdir(parents=True)
        for i in range(per_class):
            image = rng.integers(0, 60, (12, 10, 3), dtype=np.uint8)
            image[..., channel] = 200
            Image.fromarray(image).save(folder / name / f"{i}.png")
    return folder


def _truncate(path):
    """Writes (or cuts) `path` to the first half of a PNG: an image file that no decoder reads."""
    Image.fromarray(np.zeros((12, 10, 3), np.uint8)).save(path, format="PNG")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


#: A train run of seconds: one epoch of a CNN of width 2 on 8x8 images.
TINY_TRAIN = ["--augment", "none", "--epochs", "1", "--size", "8", "--width", "2"]


def test_train_on_an_image_folder_and_overwrite(tmp_path, capsys):
    folder = _image_folder(tmp_path / "imgs")
    out = tmp_path / "run"
    out.mkdir()
    (out / "cam.png").write_bytes(b"stale")
    argv = [
        "train",
        "--dataset",
        f"folder:{folder}",
        "--augment",
        "none",
        "--epochs",
        "2",
        "--size",
        "8",
        "--batch-size",
        "4",
        "--width",
        "2",
        "--out",
        str(out),
        "--overwrite",
    ]
    assert cli.main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["classes"] == ["blue", "green", "red"] and metrics["data"]["image_shape"] == [8, 8, 3]
    assert metrics["data"]["labeled"] + metrics["data"]["test"] == 15 and metrics["augment"] == []
    assert len(metrics["history"]["loss"]) == 2
    assert (out / "cam.png").read_bytes() != b"stale"  # replaced, or removed when there are no CAMs


def test_unreadable_images_are_skipped_with_one_line_in_train_and_preview(tmp_path, capsys):
    folder = _image_folder(tmp_path / "imgs")
    _truncate(folder / "blue" / "5.png")
    (folder / "green" / "scan.jpg").write_bytes(b"not a jpeg")
    (folder / "notes.txt").write_text("not an image")  # not an image file: ignored, not reported
    skipped = f"tfaug: skipped 2 unreadable images (first: {folder / 'blue' / '5.png'})"

    argv = ["train", "--dataset", f"folder:{folder}", *TINY_TRAIN, "--batch-size", "4", "--out", str(tmp_path / "run")]
    assert cli.main(argv) == 0
    assert [line for line in capsys.readouterr().err.splitlines() if "tfaug" in line] == [skipped]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["data"]["labeled"] + metrics["data"]["test"] == 15

    argv = ["preview", "--augment", "mixup", "--images", str(folder), "--size", "8", "--out", str(tmp_path / "g.png")]
    assert cli.main(argv) == 0
    assert [line for line in capsys.readouterr().err.splitlines() if "tfaug" in line] == [skipped]


def test_nothing_readable_in_a_class_or_a_folder_is_one_error_line(tmp_path, capsys):
    folder = _image_folder(tmp_path / "imgs", per_class=2)
    for file in (folder / "red").iterdir():
        _truncate(file)
    argv = ["train", "--dataset", f"folder:{folder}", *TINY_TRAIN, "--out", str(tmp_path / "run")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("tfaug: error: ") and len(err.splitlines()) == 1
    assert f"{folder / 'red'}" in err and "no readable images" in err
    assert not (tmp_path / "run").exists()

    for file in (folder / "blue").iterdir():
        _truncate(file)
    argv = ["preview", "--augment", "mixup", "--images", str(folder / "blue"), "--out", str(tmp_path / "g.png")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("tfaug: error: ") and len(err.splitlines()) == 1
    assert f"{folder / 'blue'}" in err and "no readable images" in err


@pytest.mark.parametrize(
    "per_class, message",
    [
        (None, "every class needs at least 2 images to make a test split; class 'green' has 1"),
        (2, "every class needs a test image, but a 20% test split of 6 images has 2 for 3 classes; add images"),
    ],
)
def test_too_few_images_to_split_is_said_in_the_commands_terms(tmp_path, capsys, per_class, message):
    folder = _image_folder(tmp_path / "imgs", per_class=per_class or 3)
    if per_class is None:
        for file in sorted((folder / "green").iterdir())[1:]:
            file.unlink()
    argv = ["train", "--dataset", f"folder:{folder}", *TINY_TRAIN, "--out", str(tmp_path / "run")]
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == f"tfaug: error: {message}\n"


@pytest.mark.parametrize("command", [["train", *TINY_TRAIN], ["preview", "--augment", "cutout", "--size", "8"]])
def test_an_unwritable_out_is_one_error_line(tmp_path, capsys, monkeypatch, command):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    if os.geteuid() == 0:  # root writes anywhere: access(2) answers as it would for anyone else
        access = os.access
        monkeypatch.setattr(
            os,
            "access",
            lambda path, mode, **kw: access(path, mode, **kw) and not (pathlib.Path(path) == locked and mode & os.W_OK),
        )
    out = locked / ("run" if command[0] == "train" else "g.png")
    code = cli.main(command + ["--out", str(out)])
    locked.chmod(0o755)
    assert code == 2
    assert capsys.readouterr().err == f"tfaug: error: cannot write into {locked}: permission denied\n"
    assert list(locked.iterdir()) == []


@pytest.mark.parametrize("name, written", [("grid", "grid.png"), ("grid.jpg", "grid.jpg")])
def test_preview_reports_the_file_it_wrote(tmp_path, capsys, name, written):
    argv = ["preview", "--augment", "cutout", "--size", "8", "--out", str(tmp_path / name)]
    assert cli.main(argv) == 0
    assert capsys.readouterr().out == f"wrote {tmp_path / written}\n"
    assert [path.name for path in tmp_path.iterdir()] == [written]


def test_an_interrupted_train_leaves_nothing_that_blocks_the_rerun(tmp_path, capsys, monkeypatch):
    from recipes import report

    runs = tmp_path / "runs"
    # A folder of 15 images, not the digits: what is tested is the output folder, not the data.
    folder = _image_folder(tmp_path / "imgs")
    argv = ["train", "--dataset", f"folder:{folder}", *TINY_TRAIN, "--batch-size", "4", "--out", str(runs / "digits")]

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:  # Ctrl-C after metrics.json, model.keras and curves.png are written
        patch.setattr(report, "plot_confusion_matrix", interrupt)
        assert cli.main(argv) == 130
    assert capsys.readouterr().err.splitlines()[-1] == "tfaug: interrupted"
    assert list(runs.iterdir()) == []

    assert cli.main(argv) == 0  # no --overwrite needed
    assert {path.name for path in (runs / "digits").iterdir()} == TRAIN_FILES
    before = {path.name: path.read_bytes() for path in (runs / "digits").iterdir()}

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(report, "write_cams", fail)
        with pytest.raises(RuntimeError, match="disk full"):
            cli.main(argv + ["--overwrite", "--seed", "1"])
    assert list(runs.iterdir()) == [runs / "digits"]
    assert {path.name: path.read_bytes() for path in (runs / "digits").iterdir()} == before  # the last run, intact


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--augment", "cutmix,warp", "--out", "{tmp}/r"], "unknown augmentation warp"),
        (["train", "--augment", "rand-m9-m5", "--out", "{tmp}/r"], "--augment 'rand-m9-m5': 'm' is given twice"),
        (
            ["train", "--recipe", "noisy-student", "--augment", "rand-n2,label-smoothing", "--out", "{tmp}/r"],
            "label_smoothing changes labels",
        ),
        (["train", "--recipe", "fixmatch", "--out", "{tmp}/r"], "invalid choice: 'fixmatch'"),
        (["train", "--dataset", "folder:{tmp}/empty", "--out", "{tmp}/r"], "holds no images"),
        (["train", "--dataset", "folder:{tmp}/nowhere", "--out", "{tmp}/r"], "does not exist"),
        (["train", "--dataset", "mnist", "--out", "{tmp}/r"], "--dataset must be 'digits', 'tfds:NAME'"),
        (
            ["train", "--dataset", "tfds:mnist", "--data-dir", "{tmp}/empty", "--out", "{tmp}/r"],
            "not available offline",
        ),
        (["train", "--out", "{tmp}/exists"], "pass --overwrite"),
        (["train", "--out", "{tmp}/exists.png", "--overwrite"], "is not a folder"),
        (["train", "--out", "{tmp}/exists.png/r"], "exists.png is not a folder"),
        (["train", "--out", "{tmp}/exists.png/runs/r"], "exists.png is not a folder"),
        (["train", "--size", "100000", "--out", "{tmp}/r"], "--size must be in [8, 1024], got 100000"),
        (["train", "--epochs", "0", "--out", "{tmp}/r"], "--epochs must be at least 1"),
        (["train", "--epochs", "two", "--out", "{tmp}/r"], "invalid int value: 'two'"),
        (["train", "--batch-size", "1", "--out", "{tmp}/r"], "--batch-size must be at least 2"),
        (["train", "--labeled-fraction", "1.5", "--out", "{tmp}/r"], "--labeled-fraction must be in (0, 1]"),
        (["train", "--recipe", "noisy-student", "--augment", "mixup", "--out", "{tmp}/r"], "mixup changes labels"),
        (["train", "--recipe", "noisy-student", "--labeled-fraction", "1", "--out", "{tmp}/r"], "needs unlabeled"),
        (["train", "--out", "{tmp}/r", "--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["train"], "the following arguments are required: --out"),
        (["fly"], "invalid choice: 'fly'"),
        (["bench", "--rounds", "0"], "must be >= 1"),
        (["bench", "--only", "torch"], "invalid choice: 'torch'"),
    ],
)
def test_train_and_bench_mistakes_end_with_one_line_and_status_2(tmp_path, capsys, argv, message):
    (tmp_path / "exists").mkdir()
    (tmp_path / "exists.png").write_bytes(b"")
    (tmp_path / "empty").mkdir()
    code = cli.main([arg.replace("{tmp}", str(tmp_path)) for arg in argv])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.startswith("tfaug: error: ") and message in captured.err, captured.err
    assert len(captured.err.strip().splitlines()) == 1 and captured.out == ""
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("command", [[], ["train"], ["preview"], ["bench"]])
def test_every_command_has_help(capsys, command):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(command + ["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    expected = {
        (): ["train", "preview", "bench"],
        ("train",): ["--dataset", "--augment", "--recipe", "noisy-student", "--epochs", "--out", "--overwrite"],
        ("preview",): ["--augment", "--images"],
        ("bench",): ["usage: tfaug bench", "--rounds", "--only", "--cases", "--batch", "--size"],
    }[tuple(command)]
    assert all(word in text for word in expected), text


# -- bench ------------------------------------------------------------------------------------------------


def test_bench_passes_its_options_to_the_throughput_script(capsys):
    argv = [
        "bench",
        "--only",
        "tfaug",
        "--cases",
        "cutmix",
        "--rounds",
        "1",
        "--warmup",
        "1",
        "--batch",
        "2",
        "--size",
        "8",
    ]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "batch 2x8x8x3 float32; median of 1 rounds" in out
    rows = [line.split("|")[1].strip() for line in out.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows == ["case", "elementwise x * 1.0001", "tfaug CutMix", "tfaug MixUpCutMix"]


def test_bench_outside_a_source_checkout_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(tfaug, "__file__", str(tmp_path / "site-packages" / "tfaug" / "__init__.py"))
    assert cli.main(["bench"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tfaug: error: tfaug bench runs benchmarks/throughput.py from a source checkout")
    assert len(err.strip().splitlines()) == 1


def test_python_dash_m_tfaug_runs_the_command_line(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["tfaug", "train", "--epochs", "0", "--out", "unused"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("tfaug", run_name="__main__")
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == "tfaug: error: --epochs must be at least 1, got 0\n"
