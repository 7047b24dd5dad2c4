"""The package as a whole: what `import tfaug` does (and does not do), and the layers' registry by name."""

import ast
import inspect
import os
import pathlib
import re
import subprocess
import sys
import textwrap

import keras
import pytest

import tfaug
from tfaug.layers import AUGMENTATIONS
from tfaug.layers import COMPOSITIONS
from tfaug.layers import MODEL_AUGMENTATIONS


def _python(code, tmp_path, **env):
    """Runs `code` in a fresh interpreter; returns `(stdout, stderr)` (the test fails on a non-zero exit)."""
    environ = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=dict(environ, **env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout, result.stderr


def _log_sources(stderr):
    """`file.cc:line` of each C++ log line (`I0000 00:00:1796633948.117 5031 port.cc:153] ...`)."""
    return re.findall(r"^[IWEF]\d{4} [^\]]* (\S+:\d+)\]", stderr, flags=re.MULTILINE)


def test_import_as_the_command_changes_neither_log_level_nor_stderr(tmp_path):
    # Started as the `tfaug` command, `import tfaug` logs what `import tensorflow` logs: no log level of its
    # own, no stderr redirect (the command line owns that).
    code = """
        import os, sys
        sys.argv[0] = os.path.join("bin", "tfaug")
        import {module}
        print(os.environ.get("TF_CPP_MIN_LOG_LEVEL"))
    """
    level, stderr = _python(code.format(module="tfaug"), tmp_path)
    expected_level, expected_stderr = _python(code.format(module="tensorflow"), tmp_path)
    assert level == expected_level
    assert _log_sources(stderr) == _log_sources(expected_stderr)


#: Arguments a layer cannot do without.
REQUIRED = {"corruption": {"corruption": "gaussian_noise"}, "random_resized_crop": {"size": 16}}


def _model_with_every_layer():
    images = keras.Input((16, 16, 3), name="images")
    labels = keras.Input((4,), name="labels")
    x, y = images, labels
    for index, (name, cls) in enumerate(AUGMENTATIONS.items()):
        layer = cls(num_classes=4, seed=index, name=name, **REQUIRED.get(name, {}))
        if cls.transforms_labels or cls.mixes_batch:
            x, y = layer((x, y))
        else:
            x = layer(x)
    return keras.Model([images, labels], [x, y])


def test_a_saved_model_loads_in_a_fresh_process_after_import_tfaug_only(tmp_path):
    path = tmp_path / "model.keras"
    _model_with_every_layer().save(path)
    code = f"""
        import keras
        import tfaug
        model = keras.saving.load_model({str(path)!r})
        print(" ".join(type(layer).__name__ for layer in model.layers[2:]))
    """
    loaded = _python(code, tmp_path, TF_CPP_MIN_LOG_LEVEL="3")[0].split()
    assert loaded == [cls.__name__ for cls in AUGMENTATIONS.values()]


# -- the registry -------------------------------------------------------------------------------------------


def test_registry_holds_every_augmentation_layer_once():
    exported = {
        obj
        for obj in vars(tfaug.layers).values()
        if isinstance(obj, type) and issubclass(obj, tfaug.layers.BaseAugmentation)
    }
    exported -= {tfaug.layers.BaseAugmentation}
    # The layers built around user models (StyleAugmentation) and the compositions (RandomApply) are in their own
    # registries: a name alone cannot build them, so they are no command-line names.
    registered = [*AUGMENTATIONS.values(), *MODEL_AUGMENTATIONS.values(), *COMPOSITIONS.values()]
    assert len({*AUGMENTATIONS, *MODEL_AUGMENTATIONS, *COMPOSITIONS}) == len(registered)
    assert sorted(registered, key=str) == sorted(exported, key=str)


def test_registry_names_are_the_data_map_functions():
    functions = {name for name in tfaug.data.__all__ if name not in ("map_fn", *tfaug.data.PIPELINE_FUNCTIONS)}
    assert set(AUGMENTATIONS) | set(MODEL_AUGMENTATIONS) | set(COMPOSITIONS) == functions
    for name, cls in AUGMENTATIONS.items():
        fn = getattr(tfaug.data, name)(num_classes=3, seed=0, **REQUIRED.get(name, {}))
        assert type(fn.layer) is cls, name
        assert cls.__name__ in inspect.getdoc(getattr(tfaug.data, name)), name


@pytest.mark.parametrize("name", [*AUGMENTATIONS, *MODEL_AUGMENTATIONS, *COMPOSITIONS])
def test_registry_name_is_the_layer_module(name):
    cls = {**AUGMENTATIONS, **MODEL_AUGMENTATIONS, **COMPOSITIONS}[name]
    assert cls.__module__ == f"tfaug.layers.{name}"


# -- public API only ------------------------------------------------------------------------------------------

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _private_uses(tree):
    """`(line, what)` of private names taken from other modules: imported, or read off an imported module."""
    found, imported = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                imported.add((alias.asname or alias.name).split(".")[0])
                if any(_private(part) for part in alias.name.split(".")):
                    found.append((node.lineno, f"import {alias.name}"))
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            if any(_private(part) for part in (node.module or "").split(".")):
                found.append((node.lineno, f"from {module} import ..."))
            for alias in node.names:
                imported.add(alias.asname or alias.name)
                if _private(alias.name):
                    found.append((node.lineno, f"from {module} import {alias.name}"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in imported:
                found.append((node.lineno, ast.unparse(node)))
    return found


def test_the_private_name_check_finds_each_form():
    code = "import a._b\nfrom a._b import c\nfrom a import _c\nfrom . import _d\nimport e\ne.f._g()\nself._h = 1\n"
    assert [line for line, _ in _private_uses(ast.parse(code))] == [1, 2, 3, 4, 6]


@pytest.mark.parametrize(
    "path",
    sorted([*ROOT.glob("recipes/*.py"), *ROOT.glob("benchmarks/*.py")]),
    ids=lambda path: f"{path.parent.name}/{path.name}",
)
def test_recipes_and_benchmarks_use_no_private_names_of_other_modules(path):
    assert _private_uses(ast.parse(path.read_text(), filename=str(path))) == []
