"""The persistent XLA cache: a later process loads what an earlier one compiled, with the same outputs."""

import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from tfaug.ops import compilation_cache


def test_enabling_after_a_compilation_is_refused_and_leaves_the_flags_alone(tmp_path, monkeypatch):
    tf.function(lambda x: x + 1.0, jit_compile=True, autograph=False)(tf.constant(1.0)).numpy()
    monkeypatch.delenv("TF_XLA_FLAGS", raising=False)
    with pytest.raises(RuntimeError, match="right after `import tfaug`"):
        compilation_cache.enable_compilation_cache(tmp_path / "cache")
    assert "TF_XLA_FLAGS" not in os.environ
    assert os.listdir(tmp_path / "cache") == []


def test_another_directory_in_the_flags_and_a_bad_argument_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("TF_XLA_FLAGS", f"--tf_xla_persistent_cache_directory={tmp_path / 'other'}")
    with pytest.raises(ValueError, match="already sets the XLA cache directory"):
        compilation_cache.enable_compilation_cache(tmp_path / "cache")
    with pytest.raises(TypeError, match="`directory` must be a path"):
        compilation_cache.enable_compilation_cache(3)


def test_entries_are_keyed_by_tensorflow_version_and_machine(monkeypatch):
    prefix = compilation_cache.cache_prefix()
    assert re.fullmatch(r"tfaug_tf[0-9A-Za-z_]+_[0-9a-f]{12}", prefix)
    assert tf.__version__.replace(".", "_") in prefix
    monkeypatch.setattr(compilation_cache, "_machine", lambda: "another CPU")
    assert compilation_cache.cache_prefix() != prefix


def test_the_environment_variable_sets_the_flags_at_import(tmp_path, monkeypatch):
    monkeypatch.delenv("TF_XLA_FLAGS", raising=False)
    monkeypatch.setenv(compilation_cache.ENVIRONMENT_VARIABLE, str(tmp_path / "cache"))
    compilation_cache.apply_environment()
    flags = os.environ["TF_XLA_FLAGS"].split()
    assert f"--tf_xla_persistent_cache_directory={tmp_path / 'cache'}" in flags
    assert f"--tf_xla_persistent_cache_prefix={compilation_cache.cache_prefix()}" in flags
    assert (tmp_path / "cache").is_dir()


_RUN = """
    import os, sys
    import numpy as np
    import tfaug
    if sys.argv[1] == "cache":
        tfaug.ops.enable_compilation_cache(sys.argv[2])
    images = np.random.default_rng(0).integers(0, 256, (4, 12, 20, 3)).astype(np.uint8)
    layer = tfaug.RandAugment(num_ops=2, ops=["equalize", "solarize", "rotate", "color"], seed=0)
    np.save(sys.argv[3], layer(images).numpy())
"""


def _run(how, cache, out):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_XLA_FLAGS", compilation_cache.ENVIRONMENT_VARIABLE)}
    code = textwrap.dedent(_RUN)
    done = subprocess.run(
        [sys.executable, "-c", code, how, str(cache), str(out)], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return np.load(out)


@pytest.mark.slow
def test_a_second_process_loads_the_first_ones_programs_and_gives_the_same_output(tmp_path):
    cache = tmp_path / "cache"
    first = _run("cache", cache, tmp_path / "first.npy")
    entries = {path.name: path.stat().st_mtime_ns for path in cache.iterdir()}
    prefix = compilation_cache.cache_prefix()
    assert entries and all(name.startswith(prefix + "__") for name in entries)
    # The same script again: every computation is found, so nothing is compiled or written, and the loaded
    # executables give the same bits as compiling them.
    second = _run("cache", cache, tmp_path / "second.npy")
    assert {path.name: path.stat().st_mtime_ns for path in cache.iterdir()} == entries
    np.testing.assert_array_equal(second, first)
    np.testing.assert_array_equal(_run("none", cache, tmp_path / "uncached.npy"), first)
