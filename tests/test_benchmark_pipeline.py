"""benchmarks/pipeline.py: the JPEGs it writes, its table, and (slow) a tiny run of every pipeline."""

import importlib.util
import json
import pathlib

import numpy as np
import pytest
from PIL import Image

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "pipeline.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("benchmark_pipeline", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_jpegs_are_imagenet_sized_distinct_and_labelled_by_folder(bench, tmp_path):
    files, labels = bench.write_jpegs(tmp_path, 8)
    sizes = [Image.open(f).size for f in files]
    assert set(sizes) <= {(500, 375), (375, 500)} and (375, 500) in sizes
    assert [pathlib.Path(f).parent.name for f in files] == [bench.PHOTOS[label] for label in labels]
    pixels = [np.asarray(Image.open(f)).tobytes() for f in files]
    assert len(set(pixels)) == len(files)


def test_table_gives_ratios_to_the_floor_and_to_keras(bench):
    rows = {
        case: {"images_per_s": speed, "images_per_cpu_s": speed / 2}
        for case, speed in zip(bench.CASES, [400, 100, 300, 200, 50])
    }
    results = {"settings": dict(images=9, batch=4, warmup=1, batches=2, rounds=1, size=224), "rows": rows}
    text = bench.table(dict(results, machine="test machine", load_average=[1.0, 2.0]))
    assert f"| {bench.TFAUG} | 200.0 | 100.0 | 0.50x | 4.00x |" in text
    assert "Machine: test machine; load average 1.0 at the start, 2.0 at the end." in text


@pytest.mark.slow
def test_tiny_run_of_every_pipeline_writes_its_files(bench, tmp_path):
    out = tmp_path / "pipeline"
    bench.main(
        ["--images", "12", "--batch", "4", "--warmup", "1", "--batches", "1", "--rounds", "1", "--out", str(out)]
    )
    results = json.loads(out.with_suffix(".json").read_text())
    assert list(results["rows"]) == list(bench.CASES)
    assert all(row["images_per_s"] > 0 for row in results["rows"].values())
    assert bench.KERAS in out.with_suffix(".md").read_text()
