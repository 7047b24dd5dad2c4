"""Smoke test of the digits results script: its main function runs end to end on a tiny setting."""

import importlib.util
import json
import pathlib

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "digits_results.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("digits_results", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_digits_results_quick(tmp_path):
    script = _load_script()
    # RandAugment's first trace takes ~20 s on a loaded 2-core machine (its layer has its own tests): the
    # recipes' fast path trains the distillation teacher, the students and the noisy student without it.
    script.RECIPE_AUGMENT = None
    methods = "baseline,cutmix,mixup_cutmix,distillation,noisy_student,tta"
    argv = ["--quick", "--epochs", "1", "--seeds", "1", "--methods", methods, "--out", str(tmp_path)]
    report = script.main(argv)

    results = report["results"][0]
    keys = ["baseline", "cutmix", "mixup_cutmix", "teacher", "distill_labeled", "distill_all",
            "baseline_tta_scales", "baseline_tta_five_crop"]
    try:
        import recipes.noisy_student  # noqa: F401  (written separately; the table has a TODO row without it)

        keys += ["noisy_round0", "noisy_round1", "noisy_round2"]
    except ImportError:
        assert "TODO" in report["table"]
    for key in keys:
        assert 0.0 <= results[key] <= 1.0, key
    assert results["baseline_single"] == results["baseline"]
    assert "| Small CNN, no augmentation (baseline) |" in report["table"]
    assert "| + CutMix (alpha 1, p 1) |" in report["table"]
    written = (tmp_path / "digits.md").read_text()
    assert report["table"] in written and "Settings:" in written
    assert json.loads((tmp_path / "digits.json").read_text())["results"]["0"]["baseline"] == results["baseline"]
