"""tf.data service servers as separate processes: a dispatcher and its workers, the way a cluster runs them.

Each server is one process that starts a `tf.data.experimental.service.DispatchServer` or `WorkerServer` on an
explicit port and then serves until it is stopped (`join()`):

    python recipes/data_service.py dispatcher --port 5050
    python recipes/data_service.py worker --dispatcher dispatcher-host:5050 --port 5051 \\
        --worker-address worker-host:%port%

Run as a script the file imports TensorFlow only, not Keras or tfaug: a worker needs nothing else, because the
client sends it the pipeline as a serialized graph (tfaug's augmentations are plain TensorFlow ops in it).

`LocalDataServiceCluster` starts such processes on localhost, on free ports chosen when it starts, and stops
them again:

    >>> with recipes.LocalDataServiceCluster(num_workers=2) as cluster:
    ...     ds = ds.apply(tf.data.experimental.service.distribute(
    ...         processing_mode=tf.data.experimental.service.ShardingPolicy.DYNAMIC, service=cluster.target))
    ...     model.fit(ds, epochs=1)
"""

import argparse
import os
import pathlib
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import tensorflow as tf

__all__ = ["LocalDataServiceCluster", "free_port", "start_server"]

_READY = "READY"


def free_port(host="localhost"):
    """A TCP port on `host` that is free now (the system picks it; another process may take it before use)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def build_parser(prog=None):
    parser = argparse.ArgumentParser(prog=prog, description="Run a tf.data service dispatcher or worker.")
    roles = parser.add_subparsers(dest="role", required=True)
    dispatcher = roles.add_parser("dispatcher", help="the dispatcher: hands out splits and tracks the workers")
    dispatcher.add_argument("--port", type=int, required=True, help="port to serve on (0: any free port)")
    dispatcher.add_argument("--work-dir", help="directory for the dispatcher's journal (needed to survive restarts)")
    dispatcher.add_argument(
        "--fault-tolerant", action="store_true", help="journal the state before answering (needs --work-dir)"
    )
    worker = roles.add_parser("worker", help="a worker: runs the pipelines and serves their elements")
    worker.add_argument("--dispatcher", required=True, help="the dispatcher's host:port")
    worker.add_argument("--port", type=int, required=True, help="port to serve on (0: any free port)")
    worker.add_argument(
        "--worker-address",
        help="host:port the dispatcher tells clients to reach this worker at; %%port%% stands for the bound port "
        "(default localhost:%%port%%, which only works when the clients run on the same machine)",
    )
    worker.add_argument("--heartbeat-interval-ms", type=int, help="how often to report to the dispatcher")
    for sub in (dispatcher, worker):
        sub.add_argument(
            "--exit-when-stdin-closes",
            action="store_true",
            help="stop when standard input reaches its end (so a launcher's death stops this server too)",
        )
    return parser


def start_server(args):
    """Starts the server that parsed command-line `args` describe, in this process, and returns it.

    Args:
        args: an `argparse.Namespace` from `build_parser()` (role "dispatcher" or "worker").

    Returns:
        The started `DispatchServer` or `WorkerServer`.

    Raises:
        ValueError: for a negative port, or `--fault-tolerant` without `--work-dir`.
    """
    if args.port < 0:
        raise ValueError(f"--port must be >= 0 (0: any free port), got {args.port}")
    if args.role == "dispatcher":
        if args.fault_tolerant and not args.work_dir:
            raise ValueError("--fault-tolerant needs --work-dir: the journal is written there")
        config = tf.data.experimental.service.DispatcherConfig(
            port=args.port,
            work_dir=args.work_dir,
            fault_tolerant_mode=args.fault_tolerant,
        )
        return tf.data.experimental.service.DispatchServer(config)
    config = tf.data.experimental.service.WorkerConfig(
        dispatcher_address=args.dispatcher,
        worker_address=args.worker_address,
        port=args.port,
        heartbeat_interval_ms=args.heartbeat_interval_ms,
    )
    return tf.data.experimental.service.WorkerServer(config)


def _exit_at_stdin_eof():
    sys.stdin.read()
    # The main thread is blocked in `join()`; SIGTERM's default action ends the whole process.
    os.kill(os.getpid(), signal.SIGTERM)


def main(argv=None):
    args = build_parser(prog="data_service.py").parse_args(argv)
    server = start_server(args)
    if args.exit_when_stdin_closes:
        threading.Thread(target=_exit_at_stdin_eof, daemon=True).start()
    # One line on stdout says the server is up (a worker is registered with its dispatcher by then).
    print(_READY, args.role, args.port, flush=True)
    server.join()


class LocalDataServiceCluster:
    """A tf.data service dispatcher and `num_workers` workers, each a separate process on localhost.

    Every process runs this file as a script (`python recipes/data_service.py ...`) on a port chosen free
    when it starts. `close()` stops them all (so does leaving a `with` block, and the death of this process:
    each server exits when its standard input, a pipe from here, closes). Standard error of each server goes
    to `<log_dir>/<name>.log`.

    A worker is known to the dispatcher by its address. `kill_worker` stops one without notice, as a crash
    does; `restart_worker` starts a new process on the same port, and the dispatcher hands it the dead one's
    unfinished tasks. Under `ShardingPolicy.DYNAMIC` a job ends only when each of its tasks has ended, so a
    job whose worker died finishes only once that worker is back (TensorFlow 2.21).

    Args:
        num_workers: worker processes to start, >= 0 (more can be added with `add_worker`).
        heartbeat_interval_ms: how often each worker reports to the dispatcher (TensorFlow's default if None;
            a short interval lets workers pick up new jobs sooner).
        work_dir: the dispatcher's directory for datasets and its journal.
        fault_tolerant_mode: journal the dispatcher's state before it answers, so that a restarted dispatcher
            resumes its jobs (needs `work_dir`).
        log_dir: where the servers' logs go (a temporary directory, removed by `close()`, if None).
        start_timeout: seconds to wait for each server to report that it is up.

    Attributes:
        target: the dispatcher's address for `distribute(service=...)`, `"grpc://localhost:<port>"`.
        dispatcher_address: `"localhost:<port>"`.
        dispatcher, dispatcher_port: the dispatcher's current process (`subprocess.Popen`) and its port.
        workers: the current process of each worker (`subprocess.Popen`), by worker index.
        worker_ports: the port of each worker, by worker index.

    Raises:
        ValueError: for `num_workers < 0`, `start_timeout <= 0`, or `fault_tolerant_mode` without `work_dir`.
        RuntimeError: when a server does not come up (its log's last lines are in the message).
    """

    def __init__(
        self,
        num_workers=2,
        *,
        heartbeat_interval_ms=None,
        work_dir=None,
        fault_tolerant_mode=False,
        log_dir=None,
        start_timeout=120.0,
    ):
        if not isinstance(num_workers, int) or isinstance(num_workers, bool) or num_workers < 0:
            raise ValueError(f"num_workers must be an int >= 0, got {num_workers!r}")
        if not (isinstance(start_timeout, (int, float)) and start_timeout > 0):
            raise ValueError(f"start_timeout must be a number of seconds > 0, got {start_timeout!r}")
        if fault_tolerant_mode and not work_dir:
            raise ValueError("fault_tolerant_mode=True needs work_dir: the dispatcher's journal is written there")
        self._heartbeat = heartbeat_interval_ms
        self._start_timeout = start_timeout
        self._own_log_dir = log_dir is None
        self.log_dir = pathlib.Path(tempfile.mkdtemp(prefix="tfdata_service_") if log_dir is None else log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._processes = []
        self.workers, self.worker_ports = [], []
        try:
            options = []
            if work_dir:
                options += ["--work-dir", str(work_dir)] + (["--fault-tolerant"] if fault_tolerant_mode else [])
            self._dispatcher_arguments = ["dispatcher", *options]
            self.dispatcher, port = self._start("dispatcher", self._dispatcher_arguments)
            self.dispatcher_port = port
            self.dispatcher_address = f"localhost:{port}"
            self.target = f"grpc://{self.dispatcher_address}"
            for _ in range(num_workers):
                self.add_worker()
        except BaseException:
            self.close()
            raise

    def add_worker(self, cwd=None):
        """Starts one more worker process, in directory `cwd` (relative paths in a pipeline resolve there)."""
        process, port = self._start(f"worker{len(self.workers)}", self._worker_arguments(), cwd=cwd)
        self.workers.append(process)
        self.worker_ports.append(port)
        return process

    def kill_worker(self, index, sig=signal.SIGKILL):
        """Sends `sig` (default SIGKILL: no goodbye to the dispatcher) to worker `index` and waits for it."""
        process = self.workers[index]
        process.send_signal(sig)
        process.wait()

    def restart_worker(self, index, cwd=None):
        """Starts worker `index` again on its port (after `kill_worker`), in directory `cwd`."""
        if self.workers[index].poll() is None:
            raise ValueError(f"worker {index} is still running: kill it first")
        process, _ = self._start(f"worker{index}", self._worker_arguments(), port=self.worker_ports[index], cwd=cwd)
        self.workers[index] = process
        return process

    def kill_dispatcher(self, sig=signal.SIGKILL):
        """Sends `sig` (default SIGKILL) to the dispatcher and waits for it."""
        self.dispatcher.send_signal(sig)
        self.dispatcher.wait()

    def restart_dispatcher(self):
        """Starts the dispatcher again on its port (after `kill_dispatcher`), with the same `work_dir`."""
        if self.dispatcher.poll() is None:
            raise ValueError("the dispatcher is still running: kill it first")
        self.dispatcher, _ = self._start("dispatcher", self._dispatcher_arguments, port=self.dispatcher_port)
        return self.dispatcher

    def _worker_arguments(self):
        arguments = ["worker", "--dispatcher", self.dispatcher_address]
        if self._heartbeat is not None:
            arguments += ["--heartbeat-interval-ms", str(self._heartbeat)]
        return arguments

    def _start(self, name, arguments, port=None, cwd=None, attempts=3):
        # A port found free can be taken before the server binds it: then the server exits, and we retry (on
        # another port, unless the port is the worker's identity).
        log = self.log_dir / f"{name}.log"
        for _ in range(attempts):
            chosen = free_port() if port is None else port
            command = [sys.executable, os.path.abspath(__file__), *arguments, "--port", str(chosen)]
            command.append("--exit-when-stdin-closes")
            with open(log, "ab") as stderr:
                process = subprocess.Popen(
                    command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, cwd=cwd, text=True
                )
            self._processes.append(process)
            if self._wait_ready(process):
                return process, chosen
            process.kill()
            process.wait()
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-20:])
        raise RuntimeError(f"the tf.data service {name} did not start ({attempts} tries); log {log}:\n{tail}")

    def _wait_ready(self, process):
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            readable, _, _ = select.select([process.stdout], [], [], 0.2)
            if readable:
                return process.stdout.readline().startswith(_READY)
            if process.poll() is not None:
                return False
        return False

    def close(self):
        """Stops every server process this cluster started (killed if SIGTERM does not end it in 10 s)."""
        for process in self._processes:
            if process.poll() is None:
                process.terminate()
        for process in self._processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            process.stdin.close()
            process.stdout.close()
        self._processes = []
        if self._own_log_dir:
            shutil.rmtree(self.log_dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


if __name__ == "__main__":
    main()
