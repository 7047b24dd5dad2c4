"""A persistent cache of XLA's compiled programs, so a new process loads them instead of compiling again.

tfaug's kernels and policy programs are XLA computations (`tfaug.ops._xla`); compiling one takes most of a
layer's first call. TensorFlow can keep the compiled executables on disk (its `TF_XLA_FLAGS` option
`--tf_xla_persistent_cache_directory`): a later process that builds the same computation for the same
device loads it. TensorFlow keys an entry by the computation (its HLO, compared in full on loading) and the
device type, not by the TensorFlow build or the CPU, so the entries here carry a prefix naming both: a
cache shared by two TensorFlow versions or two kinds of machine keeps apart what each compiled.

TensorFlow reads `TF_XLA_FLAGS` once, at its first XLA compilation, so the cache must be enabled before
that: right after `import tfaug`, or by the environment variable `TFAUG_COMPILATION_CACHE` (a directory),
which `import tfaug` applies.

An entry is found by a process that builds the same computations in the same order: TensorFlow names each
traced function with a process-wide counter, and the name is part of the key. A script, a notebook run from
the top or a test file run again finds its entries; code that traces other functions first (another cell
run before, another test selected) gets other names and compiles again (a miss costs only the compilation).
"""

import hashlib
import os
import platform
import re
import threading
import uuid

import tensorflow as tf

ENVIRONMENT_VARIABLE = "TFAUG_COMPILATION_CACHE"
_DIRECTORY_FLAG = "--tf_xla_persistent_cache_directory"
_PREFIX_FLAG = "--tf_xla_persistent_cache_prefix"
_lock = threading.Lock()


def _machine():
    """The CPU's model and features (an executable compiled for one CPU may not run on another)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            lines = cpuinfo.read().splitlines()
        facts = [next((line for line in lines if line.startswith(key)), "") for key in ("model name", "flags")]
    except OSError:
        facts = [platform.processor()]
    return "|".join([platform.machine(), *facts])


def cache_prefix():
    """The prefix of this process's cache entries: the TensorFlow version and a digest of the machine."""
    digest = hashlib.sha256(_machine().encode()).hexdigest()[:12]
    return re.sub(r"[^A-Za-z0-9]", "_", f"tfaug_tf{tf.__version__}_{digest}")


def _flag_value(flags, name):
    match = re.search(rf"{name}=(\S*)", flags)
    return match.group(1) if match else None


def _set_flags(directory):
    """Adds the cache flags to `TF_XLA_FLAGS`; a different cache directory already set there is refused."""
    flags = os.environ.get("TF_XLA_FLAGS", "")
    current = _flag_value(flags, _DIRECTORY_FLAG)
    if current is None:
        os.environ["TF_XLA_FLAGS"] = f"{flags} {_DIRECTORY_FLAG}={directory} {_PREFIX_FLAG}={cache_prefix()}".strip()
    elif os.path.abspath(current) != directory:
        raise ValueError(
            f"`TF_XLA_FLAGS` already sets the XLA cache directory {current!r}; got `directory`={directory!r}. "
            "Pass the same directory, or leave the flag out of `TF_XLA_FLAGS`."
        )


def _probe_writes(directory):
    """Whether an XLA compilation now writes an entry into `directory` (the entry is removed again)."""
    marker = f"tfaug_cache_probe_{uuid.uuid4().hex}"
    before = set(os.listdir(directory))

    def probe(x):
        return x * 3.0 + 1.0

    # A unique name makes a unique computation (the name is in its HLO), so it cannot be a cache hit.
    probe.__name__ = marker
    tf.function(probe, jit_compile=True, autograph=False)(tf.constant([1.0])).numpy()
    written = False
    for name in set(os.listdir(directory)) - before:
        path = os.path.join(directory, name)
        try:
            with open(path, "rb") as entry:
                if marker.encode() in entry.read():
                    os.remove(path)
                    written = True
        except OSError:
            continue  # another process's entry, renamed or removed meanwhile
    return written


def enable_compilation_cache(directory):
    """Keeps XLA's compiled programs in `directory`, so later processes load them instead of compiling.

    A policy layer's first call in a fresh process then traces its program and loads the compiled program
    instead of compiling it (see `benchmarks/first_call.py` for the numbers). The results are the same
    executables, so the outputs are the same bits. Entries carry a prefix naming the TensorFlow version and
    the CPU (`cache_prefix`), so a directory shared by machines or versions keeps them apart; TensorFlow
    writes each entry atomically, so processes may share a directory. Nothing is ever deleted: remove the
    directory to reclaim its space.

    Call it before this process compiles anything with XLA (right after `import tfaug`), or set the
    environment variable `TFAUG_COMPILATION_CACHE` to the directory before starting Python. It checks that
    the cache works by compiling one tiny computation.

    Args:
        directory: a directory path (created if missing).

    Returns:
        The absolute path of the directory.

    Raises:
        ValueError: `TF_XLA_FLAGS` names another cache directory.
        RuntimeError: this process has compiled with XLA already, so TensorFlow has read its flags.

    Example:
        >>> import tfaug
        >>> tfaug.ops.enable_compilation_cache("~/.cache/tfaug-xla")
    """
    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"`directory` must be a path (str or os.PathLike), got {type(directory).__name__}.")
    directory = os.path.abspath(os.path.expanduser(os.fspath(directory)))
    with _lock:
        os.makedirs(directory, exist_ok=True)
        flags = os.environ.get("TF_XLA_FLAGS")
        _set_flags(directory)
        if not _probe_writes(directory):
            # Left set, the flags would reach child processes that this call told nothing.
            if flags is None:
                del os.environ["TF_XLA_FLAGS"]
            else:
                os.environ["TF_XLA_FLAGS"] = flags
            raise RuntimeError(
                f"The XLA compilation cache in {directory!r} is not in use: TensorFlow read `TF_XLA_FLAGS` at this "
                "process's first XLA compilation, before this call. Call `enable_compilation_cache` right after "
                f"`import tfaug`, or set the environment variable {ENVIRONMENT_VARIABLE} before starting Python."
            )
    return directory


def apply_environment():
    """`import tfaug`: sets the cache flags for the directory in `TFAUG_COMPILATION_CACHE`, if any (no check:
    nothing is compiled at import)."""
    directory = os.environ.get(ENVIRONMENT_VARIABLE)
    if directory:
        directory = os.path.abspath(os.path.expanduser(directory))
        os.makedirs(directory, exist_ok=True)
        _set_flags(directory)
