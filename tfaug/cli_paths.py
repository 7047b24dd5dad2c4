"""Where the `tfaug` commands write: `--out` is checked before any work, so a mistake costs no run.

A path that cannot be written is a `ValueError` in the command line's words; `tfaug.cli` reports it in one
`tfaug: error: ...` line.
"""

import os
import pathlib

#: The picture formats `tfaug preview` writes, by `--out`'s suffix (matplotlib's, less those needing more programs).
PREVIEW_SUFFIXES = (".png", ".jpg", ".jpeg", ".pdf", ".svg")


def preview_file(path, overwrite):
    """The file `preview` writes for `--out`, a `pathlib.Path`: a name without a suffix gets `.png`."""
    out = pathlib.Path(path)
    if out.is_dir():
        raise ValueError(f"--out {out} is a folder; give an image file such as {out / 'grid.png'}")
    out = out if out.suffix else out.with_suffix(".png")
    if out.suffix.lower() not in PREVIEW_SUFFIXES:
        raise ValueError(f"--out {out}: unsupported suffix {out.suffix}; use {', '.join(PREVIEW_SUFFIXES)}")
    if out.is_dir():
        raise ValueError(f"--out {out} is a folder")
    if out.exists() and not overwrite:
        raise ValueError(f"{out} exists; pass --overwrite to replace it")
    if not out.parent.exists():
        raise ValueError(f"the folder of {out} does not exist")
    _check_writable(out.parent, out)
    if out.exists() and not os.access(out, os.W_OK):
        raise ValueError(f"cannot write {out}: permission denied")
    return out


def train_folder(path, overwrite):
    """`train`'s `--out`, a `pathlib.Path`: a new folder, or an existing one with `--overwrite`.

    `recipes.train` writes into a folder beside it and creates missing parent folders: the nearest existing
    one must be writable.
    """
    out = pathlib.Path(path)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a folder")
    if out.exists() and not overwrite:
        raise ValueError(f"{out} exists; pass --overwrite to write into it")
    if out.exists():
        _check_writable(out, out)
        _check_writable(out.resolve().parent, out)
    else:
        _check_writable(next(folder for folder in out.parents if folder.exists()), out)
    return out


def _check_writable(folder, out):
    """Refuses an `--out` written into `folder` when that is a file or the user may not write there."""
    if not folder.is_dir():
        raise ValueError(f"--out {out}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write into {folder}: permission denied")
