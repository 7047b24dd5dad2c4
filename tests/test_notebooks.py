"""The tutorials in notebooks/: each runs top to bottom in a fresh kernel, and the stored copies carry no outputs."""

import pathlib
import shutil

import nbclient
import nbformat
import pytest

NOTEBOOK_DIR = pathlib.Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = ["01_augmentation_layers", "02_transfer_learning", "03_distillation_noisy_student"]
#: Seconds one cell may take before the run fails; a whole notebook takes under a minute on 2 CPU cores.
CELL_TIMEOUT = 300
#: Notebooks that must draw pictures (matplotlib figures shown inline).
WITH_PICTURES = {"01_augmentation_layers", "02_transfer_learning"}
#: Run before the notebook's own cells: every `fit` trains one epoch of at most `FIT_STEPS` batches (and
#: validates on at most as many), so each cell runs as written in a fraction of the time (the tutorials'
#: accuracies are not what this test checks; their data pipelines, models and pictures are).
FIT_STEPS = 3
SHORT_FITS = f"""
import keras

_fit = keras.Model.fit


def _short_fit(self, *args, epochs=1, initial_epoch=0, steps_per_epoch=None, validation_steps=None, **kwargs):
    return _fit(
        self,
        *args,
        epochs=min(epochs, initial_epoch + 1),
        initial_epoch=initial_epoch,
        steps_per_epoch=min(steps_per_epoch or {FIT_STEPS}, {FIT_STEPS}),
        validation_steps=min(validation_steps or {FIT_STEPS}, {FIT_STEPS}),
        **kwargs,
    )


keras.Model.fit = _short_fit
"""


def test_the_three_tutorials_are_there():
    assert [path.stem for path in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs_top_to_bottom(path, tmp_path):
    # A temporary copy, run from its own folder: the run writes nothing next to the stored notebook.
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    notebook = nbformat.read(copy, as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(SHORT_FITS))
    client = nbclient.NotebookClient(
        notebook, kernel_name="python3", timeout=CELL_TIMEOUT, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError on the first cell that fails

    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.execution_count is not None for cell in code)
    outputs = [output for cell in code for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    if path.stem in WITH_PICTURES:
        assert any("image/png" in output.get("data", {}) for output in outputs), "no picture was drawn"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_stored_notebook_has_no_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        assert cell.outputs == [], f"cell {index} of {path.name} has stored outputs"
        assert cell.execution_count is None, f"cell {index} of {path.name} has an execution count"
        assert "execution" not in cell.metadata, f"cell {index} of {path.name} has execution timings"
