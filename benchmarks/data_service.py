"""Images/s of a tfaug pipeline read locally and through the tf.data service (1 and 2 worker processes), in one run.

The pipeline: whole batches of `batch` uint8 images `size x size x 3` made from the batch index (stateless
uniform noise seeded by the index: no files, so the augmentation is the work) -> `tfaug.RandAugment` (2 ops,
magnitude 9) through `tfaug.data.rand_augment`, seeded by the batch index, `num_parallel_calls=AUTOTUNE` ->
`prefetch(AUTOTUNE)`. Cases:

- local: the pipeline runs in this process (the trainer's process in training).
- service, N workers: the same pipeline `distribute`d with `ShardingPolicy.DYNAMIC` to a dispatcher and N worker
  processes on localhost (`recipes.data_service.LocalDataServiceCluster`; both clusters stay up for the whole run);
  elements travel over gRPC with the default compression ("AUTO").

Each round reads one epoch of every case, round-robin (so that load on a shared machine hits the cases alike),
each from a fresh iterator, as `model.fit` makes one every epoch unless the dataset repeats: on the service that
is a new job, which each worker sets up before its first batch. An epoch is `warmup_batches + batches` batches.
The table gives medians over rounds of:

- images/s after the first `warmup_batches` batches (over the last `batches`): the pipeline at full speed,
  up to what its buffers held at that point;
- the time to the first batch (for the service: creating the job and setting up the pipeline on the workers);
- images/s over the whole epoch, start-up included;
- CPU seconds over the whole epoch, from `/proc/<pid>/stat` (Linux): "this process" is the trainer's share,
  "servers" the dispatcher's and workers' together.

One untimed round comes first: this process builds its pipeline functions once and reuses them; each new job
on the service builds them again on every worker.

On a machine with few cores the workers share the trainer's cores, so more workers cannot add compute: what
the service changes is where the augmentation runs (off the trainer's process), at the price of serialising,
compressing and sending every batch. With workers on other machines the same pipeline scales with them.

    python benchmarks/data_service.py                    # writes benchmarks/results/data_service.{md,json}
    python benchmarks/data_service.py --size 32 --batches 8 --rounds 2 --out /tmp/ds   # quick smoke run
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import tensorflow as tf  # noqa: E402

import tfaug  # noqa: E402
from recipes.data_service import LocalDataServiceCluster  # noqa: E402

service = tf.data.experimental.service

LOCAL = "local (in this process)"
WORKER_COUNTS = (1, 2)


def pipeline(batch, size, batches, seed=0):
    """`batches` whole uint8 batches from their index, then RandAugment seeded by the index."""
    augment = tfaug.data.rand_augment(num_ops=2, magnitude=9, seed=seed)

    def whole_batch(index):
        seed_pair = tf.stack([index, tf.constant(seed, tf.int64)])
        images = tf.random.stateless_uniform([batch, size, size, 3], seed_pair, maxval=256, dtype=tf.int32)
        return index, tf.cast(images, tf.uint8)

    dataset = tf.data.Dataset.range(batches).map(whole_batch)
    return dataset.map(augment, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def distributed(dataset, target):
    return dataset.apply(service.distribute(processing_mode=service.ShardingPolicy.DYNAMIC, service=target))


def cpu_seconds(pid):
    """User + system CPU seconds of process `pid` so far (Linux `/proc`; None elsewhere or if it is gone)."""
    try:
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _server_cpu(pids):
    values = [cpu_seconds(pid) for pid in pids]
    return None if not pids or any(v is None for v in values) else sum(values)


def epoch(dataset, warmup_batches, server_pids):
    """Reads a fresh iterator of `dataset` to its end. Returns the seconds to its first batch and to its end, the
    images and seconds after the first `warmup_batches` batches, and this process's and the servers' CPU seconds
    over the whole epoch (the servers' None without servers or `/proc`)."""

    def clocks():
        return time.perf_counter(), time.process_time(), _server_cpu(server_pids)

    start = mark = clocks()
    images = batches = 0
    first = None
    for augmented in dataset:
        batches += 1
        first = time.perf_counter() - start[0] if first is None else first
        if batches == warmup_batches:
            mark = clocks()
        elif batches > warmup_batches:
            images += int(augmented.shape[0])
    end = clocks()
    servers = None if start[2] is None or end[2] is None else end[2] - start[2]
    return {
        "first_batch_s": first,
        "epoch_s": end[0] - start[0],
        "batches": batches,
        "images": images,
        "seconds": end[0] - mark[0],
        "cpu_s": end[1] - start[1],
        "server_cpu_s": servers,
    }


def measure(cases, warmup_batches, rounds, warmup_rounds=1):
    """Times `cases` `{name: (dataset, server pids)}` round-robin, one fresh epoch of each a round, after
    `warmup_rounds` untimed rounds (this process builds its functions once); returns `{name: [epoch results]}`."""
    results = {name: [] for name in cases}
    for round_index in range(-warmup_rounds, rounds):
        for name, (dataset, pids) in cases.items():
            outcome = epoch(dataset, warmup_batches, pids)
            if round_index >= 0:
                results[name].append(outcome)
            label = f"round {round_index + 1}" if round_index >= 0 else "warm-up round"
            print(
                f"{label}: {name}: {outcome['images'] / outcome['seconds']:,.0f} images/s after "
                f"{warmup_batches} batches, first batch after {outcome['first_batch_s']:.2f} s",
                flush=True,
            )
    return results


def _median(values):
    return None if not values or any(v is None for v in values) else statistics.median(values)


def summarise(results, batch):
    """One row a case: medians over rounds."""
    rows = []
    for name, outcomes in results.items():
        steady = [o["images"] / o["seconds"] for o in outcomes]
        whole = [o["batches"] * batch / o["epoch_s"] for o in outcomes]
        rows.append(
            {
                "case": name,
                "steady_images_per_s": _median(steady),
                "steady_images_per_s_rounds": steady,
                "client_cpu_s_per_epoch": _median([o["cpu_s"] for o in outcomes]),
                "server_cpu_s_per_epoch": _median([o["server_cpu_s"] for o in outcomes]),
                "epoch_images_per_s": _median(whole),
                "epoch_images_per_s_rounds": whole,
                "first_batch_s": _median([o["first_batch_s"] for o in outcomes]),
            }
        )
    local = next(row for row in rows if row["case"] == LOCAL)
    for row in rows:
        row["steady_vs_local"] = row["steady_images_per_s"] / local["steady_images_per_s"]
        row["epoch_vs_local"] = row["epoch_images_per_s"] / local["epoch_images_per_s"]
    return rows


def _number(value, form="{:,.0f}"):
    return "n/a" if value is None else form.format(value)


def markdown(rows, warmup_batches):
    lines = [
        f"| pipeline | images/s after {warmup_batches} batches | vs local | first batch after (s) "
        "| images/s, whole epoch | vs local | CPU s an epoch, this process | CPU s an epoch, servers |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        servers = "" if row["case"] == LOCAL else _number(row["server_cpu_s_per_epoch"], "{:.1f}")
        lines.append(
            f"| {row['case']} | {_number(row['steady_images_per_s'])} | {row['steady_vs_local']:.2f}x "
            f"| {_number(row['first_batch_s'], '{:.2f}')} | {_number(row['epoch_images_per_s'])} "
            f"| {row['epoch_vs_local']:.2f}x | {_number(row['client_cpu_s_per_epoch'], '{:.1f}')} | {servers} |"
        )
    return "\n".join(lines)


def machine():
    """The machine in words: CPU model, cores, library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} CPU cores; Python {platform.python_version()}, TensorFlow {tf.__version__}"


def load_average():
    """The 1-minute load average (None where the system has none): how busy a shared machine was."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=64, help="image side (default 64)")
    parser.add_argument("--batch", type=int, default=64, help="images a batch (default 64)")
    parser.add_argument("--batches", type=int, default=96, help="timed batches an epoch (default 96)")
    parser.add_argument("--warmup-batches", type=int, default=8, help="untimed batches first (default 8)")
    parser.add_argument("--rounds", type=int, default=5, help="epochs of each case (default 5)")
    parser.add_argument(
        "--out",
        default=str(pathlib.Path(__file__).resolve().parent / "results" / "data_service"),
        help="write <out>.md and <out>.json ('' to skip)",
    )
    args = parser.parse_args(argv)
    if min(args.size, args.batch, args.batches, args.rounds) < 1 or args.warmup_batches < 1:
        parser.error("--size, --batch, --batches, --warmup-batches and --rounds must be >= 1")
    return args


def main(argv=None):
    """Runs the benchmark; returns `{"machine", "settings", "rows", "text"}`."""
    args = parse_args(argv)
    started = time.time()
    load_at_start = load_average()
    dataset = pipeline(args.batch, args.size, args.warmup_batches + args.batches)
    clusters = []
    try:
        cases = {LOCAL: (dataset, [])}
        for count in WORKER_COUNTS:
            cluster = LocalDataServiceCluster(num_workers=count, heartbeat_interval_ms=100)
            clusters.append(cluster)
            pids = [cluster.dispatcher.pid] + [worker.pid for worker in cluster.workers]
            name = f"tf.data service, {count} worker process{'es' if count > 1 else ''}"
            cases[name] = (distributed(dataset, cluster.target), pids)
        results = measure(cases, args.warmup_batches, args.rounds)
    finally:
        for cluster in clusters:
            cluster.close()
    rows = summarise(results, args.batch)
    settings = (
        f"RandAugment(2 ops, magnitude 9) on uint8 {args.size} x {args.size} x 3 images, batch {args.batch}; "
        f"epochs of {args.warmup_batches} + {args.batches} batches, each from a fresh iterator (a new job on the "
        f"service), {args.rounds} of each case after one untimed round, round-robin; DYNAMIC sharding, localhost"
    )
    text = (
        f"{settings}\n\nMachine: {machine()}; load average {_number(load_at_start, '{:.1f}')} at the start, "
        f"{_number(load_average(), '{:.1f}')} at the end; {time.time() - started:.0f} s\n\n"
        f"{markdown(rows, args.warmup_batches)}\n"
    )
    print(f"\n{text}")
    settings_json = {key: value for key, value in vars(args).items() if key != "out"}
    report = {
        "machine": machine(),
        "load_average": [load_at_start, load_average()],
        "settings": settings_json,
        "rows": rows,
        "text": text,
    }
    if args.out:
        out = pathlib.Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
        out.with_suffix(".md").write_text(text)
    return report


if __name__ == "__main__":
    main()
