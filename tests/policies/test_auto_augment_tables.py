"""The AutoAugment tables: shape, vocabulary, ranges, and entries checked by hand against the sources.

Pure Python. The module is loaded from its file because `import tfaug` imports TensorFlow, and these
tables must stay usable (and testable) without it.
"""

import ast
import importlib.util
import pathlib

import pytest

_PATH = pathlib.Path(__file__).resolve().parents[2] / "tfaug" / "policies" / "auto_augment.py"


def _load():
    spec = importlib.util.spec_from_file_location("_tfaug_auto_augment_tables", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


aa = _load()

OP_NAMES = frozenset(
    "identity auto_contrast equalize invert posterize solarize solarize_add color contrast brightness "
    "sharpness rotate shear_x shear_y translate_x translate_y cutout".split()
)
MAGNITUDE_FREE = {"auto_contrast", "equalize", "invert"}
NAMES = ("imagenet", "cifar10", "svhn")


def _ops(name):
    return [op for sub_policy in aa.POLICIES[name] for op in sub_policy]


def test_module_imports_nothing():
    tree = ast.parse(_PATH.read_text())
    imports = [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert imports == []


def test_policy_names():
    assert set(aa.POLICIES) == set(NAMES)
    assert aa.NUM_LEVELS == 10
    assert aa.MAGNITUDE_FREE_OPS == MAGNITUDE_FREE


@pytest.mark.parametrize("name", NAMES)
def test_25_sub_policies_of_two_ops(name):
    policy = aa.POLICIES[name]
    assert isinstance(policy, tuple) and len(policy) == 25
    for sub_policy in policy:
        assert isinstance(sub_policy, tuple) and len(sub_policy) == 2
        for op in sub_policy:
            assert isinstance(op, tuple) and len(op) == 3


@pytest.mark.parametrize("name", NAMES)
def test_op_names_in_vocabulary(name):
    assert {op for op, _, _ in _ops(name)} <= OP_NAMES


@pytest.mark.parametrize("name", NAMES)
def test_probabilities_in_unit_interval(name):
    for op, probability, _ in _ops(name):
        assert isinstance(probability, float), (op, probability)
        assert 0.0 <= probability <= 1.0, (op, probability)
        # The paper searched probabilities in steps of 0.1 (11 values).
        assert round(probability * 10) == pytest.approx(probability * 10), (op, probability)


@pytest.mark.parametrize("name", NAMES)
def test_level_none_exactly_for_magnitude_free_ops(name):
    for op, _, level in _ops(name):
        if op in MAGNITUDE_FREE:
            assert level is None, (op, level)
        else:
            # bool is an int subclass; a level must be a plain int.
            assert type(level) is int and 0 <= level <= 9, (op, level)


def test_ops_used_by_each_policy():
    used = {name: {op for op, _, _ in _ops(name)} for name in NAMES}
    assert used["imagenet"] == set(
        "posterize rotate solarize auto_contrast equalize color invert contrast sharpness shear_x".split()
    )
    assert used["svhn"] == set(
        "shear_x shear_y invert equalize solarize rotate auto_contrast translate_x translate_y contrast".split()
    )
    assert used["cifar10"] == OP_NAMES - {"identity", "solarize_add", "cutout", "shear_x"}
    # None of the three final policies uses these, though the search space (or tfaug) has them.
    assert not (used["imagenet"] | used["cifar10"] | used["svhn"]) & {"identity", "solarize_add", "cutout"}


@pytest.mark.parametrize(
    "name, index, expected",
    [
        # Same in torchvision, timm `original`, Model Garden `reduced_imagenet`, DeepVoltaire.
        ("imagenet", 0, (("posterize", 0.4, 8), ("rotate", 0.6, 9))),
        ("imagenet", 1, (("solarize", 0.6, 5), ("auto_contrast", 0.6, None))),
        ("imagenet", 12, (("equalize", 0.0, None), ("equalize", 0.8, None))),
        ("imagenet", 18, (("shear_x", 0.6, 5), ("equalize", 1.0, None))),
        ("imagenet", 24, (("equalize", 0.8, None), ("equalize", 0.6, None))),
        # Also the first entries of `exp0_0` / `exp0_1` in the authors' research/autoaugment/policies.py.
        ("cifar10", 0, (("invert", 0.1, None), ("contrast", 0.2, 6))),
        ("cifar10", 1, (("rotate", 0.7, 2), ("translate_x", 0.3, 9))),
        ("cifar10", 14, (("solarize", 0.5, 2), ("invert", 0.0, None))),
        ("cifar10", 19, (("brightness", 0.1, 3), ("color", 0.7, 0))),
        ("cifar10", 24, (("translate_y", 0.7, 9), ("auto_contrast", 0.9, None))),
        ("svhn", 0, (("shear_x", 0.9, 4), ("invert", 0.2, None))),
        ("svhn", 14, (("contrast", 0.3, 3), ("rotate", 0.8, 4))),
        ("svhn", 15, (("invert", 0.8, None), ("translate_y", 0.0, 2))),
        ("svhn", 24, (("shear_x", 0.7, 2), ("invert", 0.1, None))),
    ],
)
def test_verified_entries(name, index, expected):
    assert aa.POLICIES[name][index] == expected


def test_repeated_entries_are_kept():
    def repeats(policy):
        return [(i, j) for i in range(len(policy)) for j in range(i + 1, len(policy)) if policy[i] == policy[j]]

    assert repeats(aa.POLICIES["imagenet"]) == [(1, 21), (2, 24), (4, 20), (13, 22), (14, 23)]
    assert repeats(aa.POLICIES["cifar10"]) == []
    assert repeats(aa.POLICIES["svhn"]) == [(3, 13), (4, 9)]


def test_tables_are_immutable():
    for name in NAMES:
        with pytest.raises(TypeError):
            aa.POLICIES[name][0] = aa.POLICIES[name][1]
