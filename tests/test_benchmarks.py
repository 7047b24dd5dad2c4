"""The benchmark scripts: the digits results end to end on a tiny setting; the throughput script's timing
of layers that freeze their draws at trace time."""

import importlib.util
import json
import pathlib
import random

import numpy as np
import pytest
import tensorflow as tf

BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPT = BENCHMARKS / "digits_results.py"


def _load_script(path=SCRIPT):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _TraceTimeDraw:
    """Scales the images by a factor drawn from Python's `random` when traced (as Keras core's AugMix
    picks its chains)."""

    # Not converted by AutoGraph: its conversion cache, keyed by code objects, can hand back another function's
    # conversion in a long test process.
    @tf.autograph.experimental.do_not_convert
    def __call__(self, images):
        return images * random.random()


def test_frozen_draws_are_separate_traces_seeded_per_draw():
    throughput = _load_script(BENCHMARKS / "throughput.py")
    draws = throughput._frozen_draws(_TraceTimeDraw, 3)
    images, labels = tf.ones([2, 4, 4, 3]), tf.zeros([2, 10])
    factors = [float(tf.function(fn)(images, labels)[0, 0, 0, 0]) for fn in draws]
    np.testing.assert_allclose(factors, [random.Random(i).random() for i in range(3)], rtol=1e-6)
    entries = [("floor", "floor", lambda images, labels: images * 1.0001), ("keras", "draws", draws)]
    results = throughput.measure(entries, images, labels, rounds=2, warmup=1, jit=False)
    assert results["draws"] > 0.0 and results["floor"] > 0.0


def _recording(recipe, name, calls):
    """`recipe`, recording its name and number of augmentation layers on each call."""

    def run(data, layers, **kwargs):
        calls.append((name, len(layers)))
        return recipe(data, layers, **kwargs)

    return run


@pytest.mark.slow
def test_digits_results_quick(tmp_path, monkeypatch):
    from recipes import train as recipe_train

    script = _load_script()
    # RandAugment's first trace takes ~20 s on a loaded 2-core machine (its layer has its own tests): the
    # recipes' fast path trains the distillation teacher, the students and the noisy student without it.
    script.RECIPE_AUGMENT = None
    # The small CNNs and the noisy student are recipes.train's recipes (the script only composes them).
    calls = []
    for name, recipe in list(recipe_train.RECIPES.items()):
        monkeypatch.setitem(recipe_train.RECIPES, name, _recording(recipe, name, calls))
    methods = "baseline,cutmix,mixup_cutmix,distillation,noisy_student,tta"
    argv = ["--quick", "--epochs", "1", "--seeds", "1", "--methods", methods, "--out", str(tmp_path)]
    report = script.main(argv)
    assert calls == [("plain", 0), ("plain", 1), ("plain", 1), ("noisy-student", 0)]

    results = report["results"][0]
    keys = [
        "baseline",
        "cutmix",
        "mixup_cutmix",
        "teacher",
        "distill_labeled",
        "distill_all",
        "baseline_tta_scales",
        "baseline_tta_five_crop",
        "noisy_round0",
        "noisy_round1",
        "noisy_round2",
    ]
    for key in keys:
        assert 0.0 <= results[key] <= 1.0, key
    assert results["baseline_single"] == results["baseline"]
    assert "| Small CNN, no augmentation (baseline) |" in report["table"]
    assert "| + CutMix (alpha 1, p 1) |" in report["table"]
    written = (tmp_path / "digits.md").read_text()
    assert report["table"] in written and "Settings:" in written
    assert json.loads((tmp_path / "digits.json").read_text())["results"]["0"]["baseline"] == results["baseline"]


def test_robustness_table_and_arguments():
    script = _load_script(BENCHMARKS / "robustness.py")
    run = {"clean_error": 0.1, "mean_error": 0.3, "mce": None, "relative_mce": None}
    better = {"clean_error": 0.05, "mean_error": 0.2, "mce": 60.0, "relative_mce": 80.0}
    text = script.table({"all": {"none": [run, run], "aug_mix": [better, dict(better, mce=70.0)]}}, seeds=(0, 1))
    assert "| none | 90.0 ± 0.0 | 70.0 ± 0.0 | 100.0 ± 0.0 | 100.0 ± 0.0 |" in text
    assert "| aug_mix | 95.0 ± 0.0 | 80.0 ± 0.0 | 65.0 ± 5.0 | 80.0 ± 0.0 |" in text
    args = script.parse_args(["--configs", "none,aug_mix_jsd", "--regimes", "few", "--seeds", "2"])
    assert args.configs == ["none", "aug_mix_jsd"] and args.regimes == ["few"] and args.seeds == 2
    # Only the held-out corruptions may be trained on.
    for factories in script.CONFIGS.values():
        for factory in factories:
            layer = factory(0)
            names = getattr(layer, "corruptions", ()) or (getattr(layer, "corruption", None),)
            assert set(names) - {None} <= set(script.HELD_OUT)


@pytest.mark.slow
def test_robustness_quick(tmp_path):
    """The script end to end: two configurations, one seed, two epochs, the all-labels regime."""
    script = _load_script(BENCHMARKS / "robustness.py")
    script.main(["--quick", "--regimes", "all", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "robustness_quick.json").read_text())
    runs = saved["results"]["all"]
    assert set(runs) == {"none", "aug_mix"} and runs["aug_mix"][0]["mce"] > 0
    assert "| aug_mix |" in (tmp_path / "robustness_quick.md").read_text()


def test_shifted_digit_domains():
    """The test domains: inversion exact, colours legible, photo blends from photos no training recipe sees."""
    shifted_digits = _load_script(BENCHMARKS / "shifted_digits.py")
    assert not set(shifted_digits.TEST_PHOTOS) & set(shifted_digits.STYLE_PHOTOS)
    rng = np.random.default_rng(0)
    x = np.zeros([6, 32, 32, 3], np.float32)
    x[:, 8:24, 12:20] = 255.0  # a bar of ink on a black ground
    domains = shifted_digits.shifted(x, seed=0)
    assert set(domains) == set(shifted_digits.DOMAINS)
    np.testing.assert_array_equal(domains["inverted"], 255.0 - x)
    coloured = domains["coloured"]
    gray = coloured @ np.array([0.299, 0.587, 0.114], np.float32)
    assert np.all(np.abs(gray[:, 16, 16] - gray[:, 0, 0]) >= shifted_digits.MIN_CONTRAST - 1e-3)
    assert np.all(np.ptp(coloured[:, :8].reshape(6, -1, 3), axis=1) == 0)  # a flat ground
    blend = domains["photo_blend"]
    replay = np.random.default_rng(0)
    shifted_digits._colour_pairs(6, replay)  # the draws `shifted` makes before the patches
    patches = shifted_digits.patches(shifted_digits.TEST_PHOTOS, 6, 32, replay)
    np.testing.assert_allclose(blend[:, :8], patches[:, :8])  # |patch - 0| on the ground
    np.testing.assert_allclose(blend[:, 8:24, 12:20], 255.0 - patches[:, 8:24, 12:20])
    assert shifted_digits.patches(shifted_digits.STYLE_PHOTOS, 4, 16, rng).shape == (4, 16, 16, 3)


def test_domain_shift_table_arguments_and_configurations():
    script = _load_script(BENCHMARKS / "domain_shift.py")
    domains = {"inverted": 0.1, "coloured": 0.2, "photo_blend": 0.3}
    run = {"clean_error": 0.1, "mean_error": 0.3, "mce": None, "domains": domains, "shifted_accuracy": 0.2}
    text = script.table({"few": {"none": [run, run]}}, seeds=(0, 1))
    header = "| configuration | clean | corrupted | mCE | shifted (mean) | inverted | coloured | photo_blend |"
    assert header in text
    assert (
        "| none | 90.0 ± 0.0 | 70.0 ± 0.0 | 100.0 ± 0.0 | 20.0 ± 0.0 | 10.0 ± 0.0 | 20.0 ± 0.0 | 30.0 ± 0.0 |" in text
    )
    args = script.parse_args(["--configs", "none,puzzle_mix", "--regimes", "few", "--seeds", "2"])
    assert args.configs == ["none", "puzzle_mix"] and args.regimes == ["few"] and args.seeds == 2
    with pytest.raises(SystemExit):
        script.parse_args(["--configs", "stylized_test_domain"])
    # No configuration trains on a corruption or on the photos of the test domains.
    for factories, _, _ in script.CONFIGS.values():
        for factory in factories:
            if factory is not script._style_augmentation:
                layer = factory(0, np.zeros([4, 32, 32, 3], np.float32))
                assert not hasattr(layer, "corruption") and not hasattr(layer, "corruptions")


@pytest.mark.slow
def test_domain_shift_quick(tmp_path):
    """The script end to end: none and RandConv, one seed, two epochs, the few-labels regime."""
    script = _load_script(BENCHMARKS / "domain_shift.py")
    script.main(["--quick", "--regimes", "few", "--out", str(tmp_path)])
    runs = json.loads((tmp_path / "domain_shift_quick.json").read_text())["results"]["few"]
    assert set(runs) == {"none", "rand_conv"}
    assert set(runs["rand_conv"][0]["domains"]) == {"inverted", "coloured", "photo_blend"}
    assert "| rand_conv |" in (tmp_path / "domain_shift_quick.md").read_text()


def test_long_tail_splits_groups_and_tables():
    script = _load_script(BENCHMARKS / "long_tail.py")
    np.testing.assert_array_equal(script.long_tailed_counts(100, n_max=130), [130, 77, 46, 28, 16, 10, 6, 3, 2, 1])
    assert script.long_tailed_counts(10, n_max=130)[[0, -1]].tolist() == [130, 13]
    y_train = np.repeat(np.arange(10), 150)
    train, val, counts = script.long_tailed_split(y_train, 100, seed=0)
    assert sorted(counts) == sorted(script.long_tailed_counts(100)) and not set(train) & set(val)
    np.testing.assert_array_equal(np.bincount(y_train[train], minlength=10), counts)
    np.testing.assert_array_equal(np.bincount(y_train[val], minlength=10), [script.VAL_PER_CLASS] * 10)
    again = script.long_tailed_split(y_train, 100, seed=0)
    np.testing.assert_array_equal(again[0], train)
    assert not np.array_equal(script.long_tailed_split(y_train, 100, seed=1)[2], counts)  # a new class order
    # Groups by training frequency: right on the three most frequent classes, wrong on the rest.
    y_test = np.repeat(np.arange(10), 4)
    ranked = np.argsort(-counts, kind="stable")
    predictions = np.where(np.isin(y_test, ranked[:3]), y_test, (y_test + 1) % 10)
    result = script.group_accuracies(predictions, y_test, counts)
    assert result == {"overall": 0.3, "many": 1.0, "medium": 0.0, "few": 0.0}
    runs = [{m: dict(result, tau=0.5) for m in ("ce", "tau_norm")}] * 2
    text = script.long_tail_table({"100": {"none": runs}}, seeds=(0, 1))
    assert "| CE | none | 30.0 ± 0.0 | 100.0 ± 0.0 | 0.0 ± 0.0 | 0.0 ± 0.0 |" in text
    assert "| tau-norm (tau 0.5, 0.5) | none |" in text
    args = script.parse_args(["--ratios", "10", "--parts", "long_tail", "--seeds", "2"])
    assert args.ratios == [10.0] and args.parts == ["long_tail"] and args.seeds == 2
    with pytest.raises(SystemExit):
        script.parse_args(["--ratios", "0.5"])


@pytest.mark.slow
def test_long_tail_quick(tmp_path):
    """The script end to end: every method and the few-shot part, one seed, a few steps, no augmentation."""
    script = _load_script(BENCHMARKS / "long_tail.py")
    script.EPISODES, script.PROBE_STEPS, script.CRT_STEPS = 2, 5, 5
    report = script.main(["--quick", "--ratios", "100", "--augments", "none", "--out", str(tmp_path)])
    (run,) = report["long_tail"]["100"]["none"]
    assert set(run) == set(script.METHODS)
    assert all(0.0 <= run[m][g] <= 1.0 for m in script.METHODS for g in ("overall", "many", "medium", "few"))
    (shots,) = report["few_shot"]["none"]
    assert set(shots) == {f"{c}_{s}" for c in ("nn", "ncm", "linear") for s in script.SHOTS}
    assert "| LDAM-DRW | none |" in (tmp_path / "long_tail_quick.md").read_text()


def test_randaugment_search_arguments_and_mean_over_seeds():
    from recipes import RandAugmentSearchResult

    script = _load_script(BENCHMARKS / "randaugment_search.py")
    args = script.parse_args(["--num-ops", "1,2", "--magnitudes", "3,4.5", "--seeds", "2", "--tuner", "keras_tuner"])
    assert (args.num_ops, args.magnitudes, args.seeds, args.tuner) == ((1, 2), (3, 4.5), 2, "keras_tuner")
    default = script.parse_args([])
    assert (default.num_ops, default.magnitudes, default.tuner) == ((1, 2, 3), (3, 5, 7, 9), None)
    assert default.epochs == script.digits_results.EPOCHS
    # Seed 0 alone prefers (1, 3), seed 1 (2, 3); the mean picks (2, 3).
    grid = ((1, 2), (3,))
    seed0 = RandAugmentSearchResult(*grid, {(1, 3): 0.9, (2, 3): 0.8}, (1, 3))
    seed1 = RandAugmentSearchResult(*grid, {(1, 3): 0.5, (2, 3): 0.7}, (2, 3))
    mean = script.combine([seed0, seed1])
    assert mean.best == (2, 3) and mean.scores[(1, 3)] == pytest.approx(0.7)
    assert "| 1 | 70.0 ± 28.3 |" in script.spread_table([seed0, seed1])
    # Equal means tie whatever the float sums' order: the fewest ops win, and the page says so.
    seed1_tied = RandAugmentSearchResult(*grid, {(1, 3): 0.7, (2, 3): 0.8}, (2, 3))
    document, report = script.render([seed0, seed1_tied], [0.6, 0.65], default, None, "a machine", 60.0)
    assert report["best"] == {"num_ops": 1, "magnitude": 3, "accuracy": 0.8, "tied_with": [[2, 3]]}
    assert "Best: **N = 1, M = 3** (80.0%, tied with (2, 3)" in document and "62.5% ± 3.5" in document


def test_data_service_summary_medians_and_ratios():
    script = _load_script(BENCHMARKS / "data_service.py")

    def outcome(seconds, first, server_cpu):
        return {
            "first_batch_s": first,
            "epoch_s": first + seconds + 1.0,
            "batches": 12,
            "images": 80,  # 10 timed batches of 8 after 2 untimed ones
            "seconds": seconds,
            "cpu_s": 2.0,
            "server_cpu_s": server_cpu,
        }

    results = {
        script.LOCAL: [outcome(1.0, 0.5, None), outcome(4.0, 0.5, None), outcome(2.0, 0.1, None)],
        "service": [outcome(8.0, 3.0, 6.0), outcome(4.0, 5.0, 4.0), outcome(2.0, 4.0, 5.0)],
    }
    local, served = script.summarise(results, batch=8)
    assert local["steady_images_per_s"] == 40.0 and served["steady_images_per_s"] == 20.0  # medians of 80 / s
    assert served["steady_vs_local"] == 0.5
    assert served["first_batch_s"] == 4.0 and served["server_cpu_s_per_epoch"] == 5.0
    assert local["server_cpu_s_per_epoch"] is None
    assert local["epoch_images_per_s"] == pytest.approx(96 / 3.1)  # median of 12 batches of 8 over 2.5, 5.5, 3.1 s
    assert "| service | 20 | 0.50x | 4.00 |" in script.markdown([local, served], 2)


@pytest.mark.slow
def test_data_service_benchmark_quick(tmp_path):
    script = _load_script(BENCHMARKS / "data_service.py")
    argv = ["--size", "16", "--batch", "4", "--batches", "3", "--warmup-batches", "1", "--rounds", "1"]
    report = script.main([*argv, "--out", str(tmp_path / "ds")])
    assert [row["case"] for row in report["rows"]] == [
        script.LOCAL,
        "tf.data service, 1 worker process",
        "tf.data service, 2 worker processes",
    ]
    assert all(row["steady_images_per_s"] > 0 and row["first_batch_s"] > 0 for row in report["rows"])
    assert json.loads((tmp_path / "ds.json").read_text())["rows"] == report["rows"]
    assert "tf.data service, 2 worker processes" in (tmp_path / "ds.md").read_text()
