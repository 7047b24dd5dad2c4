"""The tf.data service across processes: `recipes.data_service` servers, and a worker killed mid-epoch.

- Default profile (in this process, no subprocess): the command line's servers on explicit ports serve a
  pipeline under `ShardingPolicy.DYNAMIC`, and bad arguments are refused.
- Slow: a dispatcher and two workers, each a separate process on localhost (`LocalDataServiceCluster`), feed `model.fit`
  a `tfaug.data.mixup_cutmix` pipeline. One worker is killed with SIGKILL mid-epoch and restarted on its port
  later. Each source element is a whole batch numbered by its index; every worker runs in its own directory
  and records there the index of each batch it takes from the dispatcher, and every batch carries its
  worker's name to the client. The test shows that training continued while the worker was down (the
  survivor took and delivered batches in that time), that the epoch finished once the worker was back, that
  no batch came twice, that the only batches lost are some the killed worker had taken (DYNAMIC sharding is
  at most once), and that every delivered batch is bit-identical to the local pipeline's batch of that index.
"""

import contextlib
import signal
import socket
import threading
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfaug
from recipes import data_service

service = tf.data.experimental.service

K = 3
SIDE = 8
BATCH = 4


# -- default profile ----------------------------------------------------------------------------------------


def test_command_line_servers_on_explicit_ports_serve_a_dynamic_pipeline():
    parser = data_service.build_parser()
    dispatcher_port, worker_port = data_service.free_port(), data_service.free_port()
    assert dispatcher_port != worker_port
    dispatcher = data_service.start_server(parser.parse_args(["dispatcher", "--port", str(dispatcher_port)]))
    worker = None
    try:
        assert dispatcher.target == f"grpc://localhost:{dispatcher_port}"
        arguments = ["worker", "--dispatcher", f"localhost:{dispatcher_port}", "--port", str(worker_port)]
        arguments += ["--worker-address", "localhost:%port%", "--heartbeat-interval-ms", "100"]
        worker = data_service.start_server(parser.parse_args(arguments))
        socket.create_connection(("localhost", worker_port), timeout=10).close()  # listening where told
        # Whole batches as source elements: one split (one request to the dispatcher) per batch.
        dataset = tf.data.Dataset.range(4).map(lambda i: i * 3 + tf.range(3, dtype=tf.int64))
        dataset = dataset.apply(
            service.distribute(processing_mode=service.ShardingPolicy.DYNAMIC, service=dispatcher.target)
        )
        assert sorted(np.concatenate(list(dataset.as_numpy_iterator())).tolist()) == list(range(12))
    finally:
        if worker is not None:
            worker.stop()
        dispatcher.stop()


def test_bad_arguments_are_refused():
    parser = data_service.build_parser()
    with pytest.raises(ValueError, match="--port"):
        data_service.start_server(parser.parse_args(["dispatcher", "--port", "-1"]))
    with pytest.raises(ValueError, match="--work-dir"):
        data_service.start_server(parser.parse_args(["dispatcher", "--port", "0", "--fault-tolerant"]))
    with pytest.raises(SystemExit):  # argparse: a worker needs its dispatcher
        parser.parse_args(["worker", "--port", "0"])
    with pytest.raises(ValueError, match="num_workers"):
        data_service.LocalDataServiceCluster(num_workers=-1)
    with pytest.raises(ValueError, match="start_timeout"):
        data_service.LocalDataServiceCluster(start_timeout=0)
    with pytest.raises(ValueError, match="work_dir"):
        data_service.LocalDataServiceCluster(fault_tolerant_mode=True)


# -- separate processes -------------------------------------------------------------------------------------


@pytest.fixture
def cluster(tmp_path):
    """A dispatcher and no workers yet, as processes; every process it started is stopped afterwards."""
    servers = data_service.LocalDataServiceCluster(num_workers=0, heartbeat_interval_ms=100, log_dir=tmp_path / "logs")
    yield servers
    servers.close()
    assert all(process.poll() is not None for process in [servers.dispatcher, *servers.workers])


def _worker_dir(root, name):
    """A worker's working directory: `name` holds its name, `taken/` receives one file per batch it takes."""
    directory = root / name
    (directory / "taken").mkdir(parents=True)
    (directory / "name").write_text(name)
    return directory


def _taken(directory):
    """{batch index: the time the worker took it from the dispatcher}."""
    return {int(path.name): path.stat().st_mtime for path in (directory / "taken").iterdir()}


def _pipeline(num_batches, record):
    """Whole batches from their index (ids `index * BATCH + [0, BATCH)`), MixUpCutMix seeded by the index.

    With `record`, the worker writes `taken/<index>` (relative: into its own directory) when it takes a batch
    from the dispatcher, and adds its name to each element.
    """
    mix = tfaug.data.mixup_cutmix(num_classes=K, seed=0)

    def whole_batch(index):
        ids = index * BATCH + tf.range(BATCH, dtype=tf.int64)
        images = tf.ones([BATCH, SIDE, SIDE, 3]) * tf.cast(ids + 1, tf.float32)[:, None, None, None]
        if record:
            with tf.control_dependencies([tf.io.write_file(tf.strings.format("taken/{}", index), "")]):
                images = tf.identity(images)
        return index, mix(index, (images, ids % K))

    dataset = tf.data.Dataset.range(num_batches).map(whole_batch)
    if record:
        dataset = dataset.map(lambda index, batch: (index, batch, tf.io.read_file("name")))
    return dataset


@pytest.mark.slow
def test_fit_continues_when_a_worker_process_is_killed_mid_epoch(cluster, tmp_path):
    num_batches = 96
    dirs = {name: _worker_dir(tmp_path, name) for name in ("w0", "w1", "w0_restarted")}
    cluster.add_worker(cwd=dirs["w0"])
    cluster.add_worker(cwd=dirs["w1"])

    delivered = []  # (batch index, worker name, images, labels) in the order fit received them

    def note(index, name, images, labels):
        delivered.append((int(index), name.numpy().decode(), images.numpy(), labels.numpy()))
        return index

    def strip(index, batch, name):
        index = tf.py_function(note, [index, name, *batch], tf.int64)
        with tf.control_dependencies([index]):
            return tf.identity(batch[0]), tf.identity(batch[1])

    dataset = _pipeline(num_batches, record=True).apply(
        service.distribute(processing_mode=service.ShardingPolicy.DYNAMIC, service=cluster.target)
    )
    dataset = dataset.map(strip)

    events = {}

    def restart():
        cluster.restart_worker(0, cwd=dirs["w0_restarted"])
        events["back"] = time.time()

    class KillWorker0(keras.callbacks.Callback):
        """SIGKILLs worker 0 once it has delivered a batch; restarts it on its port in the background."""

        def on_train_batch_end(self, batch, logs=None):
            time.sleep(0.02)  # a trainer's pace: the workers stay ahead of the consumer, not done with the epoch
            if "kill" not in events and any(name == "w0" for _, name, _, _ in delivered):
                cluster.kill_worker(0, signal.SIGKILL)
                events["kill"], events["steps_before"] = time.time(), batch + 1
                events["thread"] = threading.Thread(target=restart)
                events["thread"].start()

    class CountSteps(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.steps = 0

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((SIDE, SIDE, 3)),
            keras.layers.Rescaling(1 / (num_batches * BATCH)),
            keras.layers.Conv2D(4, 3),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(K),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    counter = CountSteps()
    history = model.fit(dataset, epochs=1, verbose=0, callbacks=[KillWorker0(), counter])
    assert "kill" in events, "worker 0 delivered no batch before the epoch ended"
    events["thread"].join()

    # Training ran through the kill, and the epoch ended (after the restart: a DYNAMIC job ends once every task
    # ends, and the dead worker's task ended only when its successor took it over).
    assert np.isfinite(history.history["loss"][0])
    assert counter.steps == len(delivered) > events["steps_before"]

    indices = [index for index, _, _, _ in delivered]
    assert len(set(indices)) == len(indices)  # at most once: no batch delivered twice
    taken = {name: _taken(directory) for name, directory in dirs.items()}
    killed, survivor, successor = set(taken["w0"]), set(taken["w1"]), set(taken["w0_restarted"])
    assert not (killed & survivor or killed & successor or survivor & successor)  # each split handed out once
    # The job ended, so every split was handed out: all are recorded, except perhaps one that the kill caught
    # between its arrival at worker 0 and the record.
    assert len(set(range(num_batches)) - killed - survivor - successor) <= 1
    assert survivor | successor <= set(indices)  # the live workers lost nothing
    lost = set(range(num_batches)) - set(indices)
    assert not lost & (survivor | successor)  # every lost batch had been handed to the killed worker
    assert {name for index, name, _, _ in delivered if index in killed} == {"w0"}
    # While worker 0 was down, the survivor took batches and they reached fit.
    while_down = [index for index, at in taken["w1"].items() if events["kill"] < at < events["back"]]
    assert while_down and set(while_down) <= set(indices)

    # The worker processes ran tfaug's MixUpCutMix from the serialized graph: bit-identical to local.
    local = {int(index): (images.numpy(), labels.numpy()) for index, (images, labels) in _pipeline(num_batches, False)}
    for index, _, images, labels in delivered:
        np.testing.assert_array_equal(images, local[index][0], err_msg=f"batch {index}")
        np.testing.assert_array_equal(labels, local[index][1], err_msg=f"batch {index}")


@pytest.mark.slow
@pytest.mark.parametrize("journal", [True, False], ids=["journal", "no_journal"])
def test_dispatcher_restart_mid_epoch(tmp_path, journal):
    # With `work_dir` and `fault_tolerant_mode` the restarted dispatcher replays its journal (datasets, jobs,
    # splits handed out): the epoch goes on, every element exactly once. Without, it has forgotten the job: the
    # trainer's next request (its own heartbeat, or a worker's request for a split) fails on an unknown iteration.
    num_batches = 120
    options = {"work_dir": tmp_path / "work", "fault_tolerant_mode": True} if journal else {}
    with data_service.LocalDataServiceCluster(
        num_workers=2, heartbeat_interval_ms=100, log_dir=tmp_path / "logs", **options
    ) as servers:
        dataset = tf.data.Dataset.range(num_batches).map(lambda i: i * BATCH + tf.range(BATCH, dtype=tf.int64))
        dataset = dataset.apply(
            service.distribute(processing_mode=service.ShardingPolicy.DYNAMIC, service=servers.target)
        )
        ids, restarts = [], []
        with contextlib.ExitStack() as stack:
            if not journal:
                stack.enter_context(pytest.raises(tf.errors.NotFoundError, match="[Ii]teration"))
            for batch in dataset:
                ids.extend(batch.numpy().tolist())
                time.sleep(0.01)
                if len(ids) == 10 * BATCH:
                    servers.kill_dispatcher(signal.SIGKILL)
                    restarts.append(threading.Thread(target=servers.restart_dispatcher))
                    restarts[0].start()
        restarts[0].join()
        assert servers.dispatcher.poll() is None  # the restarted dispatcher is up
    assert len(set(ids)) == len(ids)
    if journal:
        assert sorted(ids) == list(range(num_batches * BATCH))  # nothing lost, nothing repeated
        assert sorted(path.name for path in (tmp_path / "work").iterdir()) == ["datasets", "tf_data_dispatcher_journal"]
    else:
        assert len(ids) < num_batches * BATCH
