"""The `tfaug` command line, run in-process (one TensorFlow import for the whole suite)."""

import numpy as np
import pytest
from PIL import Image

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
    code = cli.main(["preview", "--augment", "mixup_cutmix", "--images", str(folder), "--size", "16", "--out", str(out)])
    assert code == 0 and out.exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["preview", "--augment", "cutmix,shear", "--out", "{tmp}/g.png"], "unknown augmentation shear"),
        (["preview", "--augment", " , ", "--out", "{tmp}/g.png"], "at least one name"),
        (["preview", "--augment", "cutmix", "--out", "{tmp}/exists.png"], "pass --overwrite"),
        (["preview", "--augment", "cutmix", "--out", "{tmp}/missing/g.png"], "does not exist"),
        (["preview", "--augment", "cutmix", "--images", "{tmp}/empty", "--out", "{tmp}/g.png"], "no readable images"),
        (["preview", "--augment", "cutmix", "--images", "{tmp}/nowhere", "--out", "{tmp}/g.png"], "does not exist"),
    ],
)
def test_user_mistakes_end_with_one_line_and_status_2(tmp_path, capsys, argv, message):
    (tmp_path / "exists.png").write_bytes(b"")
    (tmp_path / "empty").mkdir()
    code = cli.main([arg.replace("{tmp}", str(tmp_path)) for arg in argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("tfaug: error: ") and message in err
    assert len(err.strip().splitlines()) == 1


def test_help_lists_the_augmentations(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["preview", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert all(name in text for name in cli.AUGMENTATIONS)
