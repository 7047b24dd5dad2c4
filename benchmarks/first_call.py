"""First-call latency of tfaug's policy layers: what a notebook user or a test waits before the first batch.

Each (layer, mode) runs in a fresh Python process, so no trace or compilation is reused: the process imports
TensorFlow and tfaug, builds the layer, makes the batch (float32, values in [0, 255]) and times the first call
and then the median of a few more calls. The difference is what the first call costs beyond a steady call:
tracing the Python code into a graph and optimising it (`tf.function`), or compiling it (XLA).

Each (layer, mode) runs twice, in two processes that share a fresh compilation cache
(`tfaug.ops.enable_compilation_cache`): the first compiles and fills it (the cold first call), the second
traces the same computations and loads the compiled programs (a first call with a warm cache, what a rerun
of the same script or notebook gets). `--no-cache` runs the first process only, without a cache.

Modes: `eager` (the layer called directly), `function` (inside `tf.function`), `xla`
(`tf.function(jit_compile=True)`), `tf_data` (the map function `tfaug.data.<name>` in a `Dataset.map` after
`batch`: time to the first batch, against the next batches).

    python benchmarks/first_call.py                                   # the README table (64 x 224 x 224)
    python benchmarks/first_call.py --layers RandAugment --modes function --batch 8 --size 64   # quick
    python benchmarks/first_call.py --out benchmarks/results                  # also write first_call.{md,json}
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time

LAYERS = ("RandAugment", "AutoAugment", "TrivialAugmentWide", "AugMix")
MODES = ("eager", "function", "xla", "tf_data")
MAP_FUNCTIONS = {
    "RandAugment": "rand_augment",
    "AutoAugment": "auto_augment",
    "TrivialAugmentWide": "trivial_augment_wide",
    "AugMix": "aug_mix",
}
STEADY_CALLS = 3


def measure(layer_name, mode, batch, size):
    """In this process: `{"first": seconds, "steady": median seconds}` of `layer_name` in `mode`."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    import tensorflow as tf

    import tfaug

    images = tf.constant(np.random.default_rng(0).uniform(0, 255, (batch, size, size, 3)).astype("float32"))
    if mode == "tf_data":
        map_function = getattr(tfaug.data, MAP_FUNCTIONS[layer_name])(seed=0)
        iterators = []

        def call():
            # `Dataset.map` traces the map function when the pipeline is built: that is part of the first call.
            if not iterators:
                dataset = tf.data.Dataset.from_tensors(images).repeat().enumerate()
                iterators.append(iter(dataset.map(lambda i, x: map_function(i, x))))
            return next(iterators[0])

    else:
        layer = getattr(tfaug, layer_name)(seed=0)
        call = layer if mode == "eager" else tf.function(layer, jit_compile=mode == "xla")
        call = (lambda fn: lambda: fn(images))(call)
    times = []
    for _ in range(1 + STEADY_CALLS):
        start = time.perf_counter()
        output = call()
        float(tf.reshape(tf.nest.flatten(output)[0], [-1])[0])  # wait for the result
        times.append(time.perf_counter() - start)
    return {"first": times[0], "steady": statistics.median(times[1:])}


def run_fresh(layer_name, mode, batch, size, cache=None):
    """`measure` in a fresh process (with the compilation cache `cache`, a directory, if given); returns its
    result or `{"error": text}`."""
    code = (
        f"import json, sys; sys.path.insert(0, {str(pathlib.Path(__file__).resolve().parent)!r}); "
        f"sys.path.insert(0, {str(pathlib.Path(__file__).resolve().parents[1])!r}); import first_call; "
        f"print(json.dumps(first_call.measure({layer_name!r}, {mode!r}, {batch}, {size})))"
    )
    env = dict(os.environ)
    env.pop("TFAUG_COMPILATION_CACHE", None)
    if cache is not None:
        env["TFAUG_COMPILATION_CACHE"] = cache
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1][:160] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_pair(layer_name, mode, batch, size, cache=True):
    """The cold first call and, with `cache`, the first call of a second process that finds the first one's
    compiled programs (`first_cached`)."""
    if not cache:
        return run_fresh(layer_name, mode, batch, size)
    with tempfile.TemporaryDirectory() as directory:
        cold = run_fresh(layer_name, mode, batch, size, directory)
        warm = run_fresh(layer_name, mode, batch, size, directory)
    if "error" in cold or "error" in warm:
        return cold if "error" in cold else warm
    return dict(cold, first_cached=warm["first"])


def machine():
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}"
    )


def tf_version():
    from importlib.metadata import version

    return version("tensorflow")


def table(results):
    lines = [
        "| layer | mode | first call (s) | first call, cache warm (s) | steady call (s) |",
        "|---|---|---:|---:|---:|",
    ]
    for (layer_name, mode), result in results.items():
        if "error" in result:
            lines.append(f"| {layer_name} | {mode} | n/a | n/a | {result['error']} |")
            continue
        cached = f"{result['first_cached']:.2f}" if "first_cached" in result else "not run"
        lines.append(f"| {layer_name} | {mode} | {result['first']:.2f} | {cached} | {result['steady']:.3f} |")
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", nargs="+", default=list(LAYERS), choices=LAYERS)
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--batch", type=int, default=64, help="images a batch (default 64)")
    parser.add_argument("--size", type=int, default=224, help="image side (default 224)")
    parser.add_argument("--no-cache", action="store_true", help="skip the second, cache-warm process")
    parser.add_argument("--out", default=None, help="folder for first_call.{md,json} (default: print only)")
    args = parser.parse_args(argv)
    if args.batch < 1 or args.size < 8:
        parser.error("--batch must be >= 1 and --size >= 8")
    return args


def main(argv=None):
    args = parse_args(argv)
    results = {}
    for layer_name in args.layers:
        for mode in args.modes:
            results[(layer_name, mode)] = run_pair(layer_name, mode, args.batch, args.size, not args.no_cache)
            print(f"{layer_name} {mode}: {results[(layer_name, mode)]}", file=sys.stderr, flush=True)
    header = (
        f"First calls, {args.batch} x {args.size} x {args.size} x 3 float32, a fresh process each; {machine()}; "
        f"TensorFlow {tf_version()}"
    )
    text = table(results)
    print(f"{header}\n\n{text}")
    if args.out:
        out = pathlib.Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        saved = {"machine": machine(), "results": [dict(layer=k[0], mode=k[1], **v) for k, v in results.items()]}
        (out / "first_call.json").write_text(json.dumps(saved, indent=1) + "\n")
        (out / "first_call.md").write_text(f"{header}\n\n{text}\n")
    return results


if __name__ == "__main__":
    main()
