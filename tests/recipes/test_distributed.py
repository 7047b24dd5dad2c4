"""Scaling out: tfaug pipelines on the tf.data service, and one-step equivalence under MirroredStrategy.

What is tested here (all in this one process, on CPU):

- `tf.data.experimental.service`: a dispatcher and two workers started in-process on localhost (port 0, no
  work_dir, fault_tolerant_mode=False; shut down by the fixture). A tfaug pipeline (`range` -> identifiable
  images -> `batch` -> `tfaug.data.cutout`) distributed with `ShardingPolicy.DYNAMIC` delivers every element
  exactly once, each with its own image. A pipeline whose source yields whole batches, seeded by the batch
  index (`map_fn` called as `fn(index, batch)`), gives bit-identical batches to the local pipeline whichever
  worker runs them. `model.fit` trains one epoch on a service-distributed `tfaug.data.mixup_cutmix` pipeline.
- `tf.distribute.MirroredStrategy` on the two logical CPU devices of `tests/conftest.py`: one SGD step of the
  transfer recipe's fine-tuning stage (`build_classifier` on a tiny conv + BatchNormalization backbone,
  `compile_fine_tuning`, all under `strategy.scope()`), and one step of a plain Keras model fed by a
  `tfaug.data.mixup_cutmix` pipeline, give the same loss (rtol 1e-5) and weights (atol 1e-5) as one device on
  the same global batch.
- The noisy-student recipe under MirroredStrategy: `pseudo_label` gives the same selection and soft labels
  (an uneven 5 + 4 split of the unlabeled images over the replicas), and one step of `run_noisy_student`'s
  student (a trained teacher given, soft pseudo-labels, sample weights for `unlabeled_ratio`, RandAugment
  input noise in the pipeline) gives the same loss and weights as one device. The input noise runs on the
  global batch before the split, with a fixed seed and one draw for the batch (see the test for why the
  default counter-seeded, per-image noise cannot match). The model's own noise is switched off for the
  comparison (Dropout rate 0, StochasticDepth survival 1): each replica draws its own masks for its
  sub-batch, so with it on the two runs differ by design.
- tfaug layers inside a model under MirroredStrategy: each replica keeps its own copy of the seed counter,
  so every replica draws the same random parameters for its sub-batch (current behaviour, pinned so that
  `docs/scaling.md` stays true).

What is not tested:

- `MultiWorkerMirroredStrategy`: `model.fit` on two localhost workers fails (keras-team/keras#20585); a
  custom `strategy.run` loop is reported to work but has no test here.
- `TPUStrategy` (no TPU), GPUs, and the tf.data service across machines or with `ShardingPolicy.OFF` / static
  sharding policies. The service across processes on localhost (a worker killed mid-epoch, a dispatcher
  restarted with and without its journal) is in `tests/recipes/test_data_service.py`.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfaug
from recipes import noisy_student
from recipes import transfer
from recipes.layers import StochasticDepth

service = tf.data.experimental.service

K = 3  # classes
SIDE = 8  # image side of the tf.data service pipelines


# -- tf.data service ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dispatcher():
    """A dispatcher and two workers on localhost for this module; stopped afterwards."""
    server = service.DispatchServer(service.DispatcherConfig(port=0, work_dir=None, fault_tolerant_mode=False))
    address = server.target.split("://", 1)[1]
    # A short heartbeat: workers learn of new jobs sooner, and `stop` does not wait out a long interval.
    config = service.WorkerConfig(dispatcher_address=address, port=0, heartbeat_interval_ms=100)
    workers = []
    try:
        workers = [service.WorkerServer(config) for _ in range(2)]
        yield server
    finally:
        for worker in workers:
            worker.stop()
        server.stop()


def _distribute(dataset, dispatcher):
    return dataset.apply(service.distribute(processing_mode=service.ShardingPolicy.DYNAMIC, service=dispatcher.target))


def _identifiable(index):
    """Element `index`: an 8x8x3 image filled with `index + 1` (so Cutout's 0 fill is visible), label `index`."""
    return tf.fill([SIDE, SIDE, 3], tf.cast(index + 1, tf.float32)), index


def test_service_delivers_every_element_exactly_once(dispatcher):
    n, batch = 61, 4  # 61: a partial last batch somewhere
    dataset = tf.data.Dataset.range(n).map(_identifiable).batch(batch)
    dataset = dataset.map(tfaug.data.cutout(size=3, seed=0))
    ids, batches = [], 0
    for images, labels in _distribute(dataset, dispatcher):
        images, labels = images.numpy(), labels.numpy()
        batches += 1
        for image, label in zip(images, labels):
            ids.append(int(label))
            kept = image[image != 0]
            assert kept.size and np.all(kept == label + 1)  # its own image travelled with the label
            assert (image == 0).any()  # Cutout ran (probability 1, box centre inside the image)
    assert dispatcher._num_workers() == 2
    assert sorted(ids) == list(range(n))  # exactly once: no element lost, none repeated
    assert batches >= -(-n // batch)


def _whole_batch(index, batch=4):
    """Batch `index` built from the index alone: source elements are whole batches, so sharding can't regroup."""
    ids = index * batch + tf.range(batch, dtype=tf.int64)
    images = tf.fill([batch, SIDE, SIDE, 3], 1.0) * tf.cast(ids + 1, tf.float32)[:, None, None, None]
    return index, (images, ids % K)


def test_service_batch_index_seeds_are_independent_of_the_worker(dispatcher):
    # Under DYNAMIC sharding each worker groups its own share of the source into batches and counts its own
    # `enumerate()`; with whole batches as source elements and their index as seed, the output of a batch
    # depends only on its index, whichever worker computes it and in whatever order.
    def pipeline():
        mix = tfaug.data.mixup_cutmix(num_classes=K, seed=0)
        return tf.data.Dataset.range(10).map(_whole_batch).map(lambda i, b: (i, mix(i, b)))

    local = {int(i): (x.numpy(), y.numpy()) for i, (x, y) in pipeline()}
    remote = {int(i): (x.numpy(), y.numpy()) for i, (x, y) in _distribute(pipeline(), dispatcher)}
    assert sorted(remote) == list(range(10))
    for index, (images, labels) in local.items():
        np.testing.assert_array_equal(remote[index][0], images, err_msg=f"batch {index}")
        np.testing.assert_array_equal(remote[index][1], labels, err_msg=f"batch {index}")
    assert len({images.tobytes() for images, _ in local.values()}) == 10  # ten different seeds


class _CountBatches(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1


def test_fit_one_epoch_on_service_mixup_cutmix_pipeline(dispatcher):
    n, batch = 48, 6
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, size=(n, SIDE, SIDE, 3)).astype("float32")
    labels = np.arange(n) % K
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch, drop_remainder=True)
    # drop_remainder: each worker batches its own share, and MixUpCutMix needs at least two images.
    dataset = dataset.map(tfaug.data.mixup_cutmix(num_classes=K, seed=0)).prefetch(2)

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((SIDE, SIDE, 3)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(4, 3, name="conv"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(K, name="head"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.1),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),  # soft labels from MixUpCutMix
        jit_compile=False,
    )
    before = [w.copy() for w in model.get_weights()]
    counter = _CountBatches()
    history = model.fit(_distribute(dataset, dispatcher), epochs=1, verbose=0, callbacks=[counter])

    loss = history.history["loss"]
    assert len(loss) == 1 and np.isfinite(loss[0]) and loss[0] > 0
    # Each of the two workers drops at most one partial batch of its own share.
    assert n // batch - 2 <= counter.steps <= n // batch
    assert all(np.abs(w - b).max() > 0 for w, b in zip(model.get_weights(), before))


# -- MirroredStrategy ---------------------------------------------------------------------------------------

SHAPE = (16, 16, 3)
LR = 0.1


def _mirrored():
    # ReductionToOneDevice, not the default RING collectives on CPUs: every MirroredStrategy in a process
    # starts its collective keys at the same group and instance (100, ...), and TensorFlow remembers each
    # instance's shape, so a second strategy all-reducing differently sized gradients (another test's model,
    # e.g. tests/recipes/test_distillation.py) aborts with "Shape mismatch in the collective instance 100"
    # (tensorflow issue 62790). The gradient aggregation and loss scaling under test are Keras's either way.
    strategy = tf.distribute.MirroredStrategy(
        ["/cpu:0", "/cpu:1"], cross_device_ops=tf.distribute.ReductionToOneDevice()
    )
    assert strategy.num_replicas_in_sync == 2
    return strategy


def _backbone():
    inputs = keras.Input(SHAPE)
    x = keras.layers.Conv2D(4, 3, strides=2, name="conv1")(inputs)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU(name="relu1")(x)
    x = keras.layers.Conv2D(6, 3, name="conv2")(x)
    x = keras.layers.BatchNormalization(name="bn2")(x)
    x = keras.layers.ReLU(name="relu2")(x)
    return keras.Model(inputs, x, name="tiny_backbone")


def _fixed_weights(model, seed):
    """Deterministic weights of the right shapes; BatchNormalization's variances kept positive."""
    rng = np.random.default_rng(seed)
    weights = []
    for variable in model.weights:
        shape = tuple(variable.shape)
        if variable.path.endswith("moving_variance"):
            weights.append(rng.uniform(0.5, 2.0, size=shape).astype("float32"))
        else:
            weights.append((rng.normal(size=shape) * 0.3).astype("float32"))
    return weights


def _images(n, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, size=(n, *SHAPE)).astype("float32")


def _compare(results, before, moved):
    (loss_one, w_one), (loss_two, w_two) = results
    np.testing.assert_allclose(loss_two, loss_one, rtol=1e-5)
    for index, (one, two, start) in enumerate(zip(w_one, w_two, before)):
        if index in moved:
            assert np.abs(one - start).max() > 1e-3, index  # a 2x-too-large update would fail the next line
        np.testing.assert_allclose(two, one, atol=1e-5, err_msg=f"weight {index}")


def test_mirrored_fine_tuning_step_matches_one_device():
    x, y = _images(8), np.arange(8) % K
    results, initial = [], None
    for strategy in (tf.distribute.get_strategy(), _mirrored()):
        with strategy.scope():
            model = transfer.build_classifier(_backbone(), num_classes=K, input_shape=SHAPE)
            initial = _fixed_weights(model, seed=1) if initial is None else initial
            model.set_weights(initial)
            transfer.compile_fine_tuning(
                model, lr=LR, backbone_lr_factor=0.5, optimizer="sgd", metrics=[], jit_compile=False
            )
            history = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0).history
        results.append((history["loss"][0], model.get_weights()))
        paths = [v.path for v in model.weights]

    trainable = {v.path for v in model.trainable_weights}
    assert any("conv1" in p for p in trainable) and not any("bn" in p for p in trainable)
    # Kernels move by > 1e-3 (biases by less: raw 0-255 pixels), so a 2x-too-large update would show.
    moved = {i for i, p in enumerate(paths) if p in trainable and p.endswith("kernel")}
    assert len(moved) == 3  # conv1, conv2 (backbone, at backbone_lr_factor * lr) and the head
    _compare(results, initial, moved)
    frozen = [i for i, p in enumerate(paths) if p not in trainable]
    assert frozen  # the BatchNormalization statistics, scale and offset
    for index in frozen:  # ... bit-identical after the step on either strategy
        np.testing.assert_array_equal(results[1][1][index], initial[index])
        np.testing.assert_array_equal(results[0][1][index], initial[index])


def test_mirrored_step_with_tfaug_pipeline_matches_one_device():
    x, y = _images(8, seed=2), np.arange(8) % K
    results, initial = [], None
    for strategy in (tf.distribute.get_strategy(), _mirrored()):
        # The map runs on the global batch of 8; the strategy splits it afterwards (4 + 4).
        dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(8).enumerate()
        dataset = dataset.map(tfaug.data.mixup_cutmix(num_classes=K, seed=0))
        with strategy.scope():
            model = keras.Sequential(
                [
                    keras.Input(SHAPE),
                    keras.layers.Rescaling(1 / 255),
                    keras.layers.Conv2D(4, 3, strides=2),
                    keras.layers.ReLU(),
                    keras.layers.Flatten(),
                    keras.layers.Dense(K),
                ]
            )
            initial = _fixed_weights(model, seed=3) if initial is None else initial
            model.set_weights(initial)
            model.compile(
                optimizer=keras.optimizers.SGD(learning_rate=LR),
                loss=keras.losses.CategoricalCrossentropy(from_logits=True),
                jit_compile=False,
            )
            history = model.fit(dataset, epochs=1, verbose=0).history
        results.append((history["loss"][0], model.get_weights()))

    _compare(results, initial, moved=set(range(len(initial))))
    soft = next(iter(dataset))[1].numpy()
    assert soft.shape == (8, K) and soft.max() < 0.99  # mixed soft labels reached the loss


def test_in_model_layer_draws_differ_between_replicas():
    # The seed counter is a SyncOnRead variable with a copy per replica; the replica id is folded into
    # each seed, so replica 1's image i does not repeat replica 0's image i.
    strategy = _mirrored()
    with strategy.scope():
        layer = tfaug.layers.Cutout(size=3, seed=0)
    images = np.full((8, SIDE, SIDE, 3), 200.0, "float32")
    batch = next(iter(strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors(images))))

    @tf.function
    def step(per_replica):
        return strategy.run(lambda t: layer(t, training=True), args=(per_replica,))

    first = [t.numpy() for t in strategy.experimental_local_results(step(batch))]
    second = [t.numpy() for t in strategy.experimental_local_results(step(batch))]
    assert first[0].shape == (4, SIDE, SIDE, 3)
    assert len({(img == 0).tobytes() for img in first[0]}) > 1  # per-image draws within a replica
    assert not np.array_equal(first[1], first[0])
    assert not np.array_equal(second[1], second[0])
    assert not np.array_equal(second[0], first[0])  # the counter advances on every replica


def _noisy_teacher():
    """A probability teacher for 16x16x3 images in [0, 255]."""
    inputs = keras.Input(SHAPE)
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(4, 3, strides=4, name="teacher_conv")(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(K, activation="softmax", name="teacher_head")(x), name="teacher")


def _noisy_student_model():
    """A student with the recipe's model noise, switched off (Dropout 0, StochasticDepth survival 1)."""
    inputs = keras.Input(SHAPE)
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(4, 3, strides=2, activation="relu", name="student_conv")(x)
    x = keras.layers.Dense(6, activation="relu", name="student_dense")(keras.layers.Flatten()(x))
    branch = keras.layers.Dense(6, activation="relu", name="student_branch")(x)
    x = StochasticDepth(1.0, seed=0)([x, branch])
    x = keras.layers.Dropout(0.0, seed=0)(x)
    outputs = keras.layers.Dense(K, activation="softmax", name="student_head")(x)
    return keras.Model(inputs, outputs, name="student")


def test_mirrored_noisy_student_step_matches_one_device():
    # 7 labeled + 9 unlabeled (all kept: with 3 classes the top probability is >= 1/3 > threshold 0.3) = 16:
    # one global batch, so `fit` takes exactly one step.
    labeled = tf.data.Dataset.from_tensor_slices((_images(7, seed=4), np.arange(7) % K))
    unlabeled = tf.data.Dataset.from_tensor_slices(_images(9, seed=5))
    results, pseudo, summaries, traced, pipeline_runs = [], [], [], [], []
    teacher_init = student_init = None
    for strategy in (tf.distribute.get_strategy(), _mirrored()):
        with strategy.scope():
            teacher = _noisy_teacher()
            teacher_init = _fixed_weights(teacher, seed=6) if teacher_init is None else teacher_init
            teacher.set_weights(teacher_init)
        pseudo.append(noisy_student.pseudo_label(teacher, unlabeled, threshold=0.3, soft=True, batch_size=16))

        def make_model(round_index):
            nonlocal student_init
            model = _noisy_student_model()
            student_init = _fixed_weights(model, seed=7) if student_init is None else student_init
            model.set_weights(student_init)
            return model

        randaugment = tfaug.RandAugment(num_ops=1, magnitude=9, ops=("brightness",), batchwise=True, seed=0)
        calls = tf.Variable(0, dtype=tf.int64)

        def noise(images):
            # One fixed seed and one draw for the batch: under a strategy Keras 3.15's `fit` reads one batch
            # of the pipeline before training (`_maybe_symbolic_build`) and then restarts it, so there the
            # training batch comes from the pipeline's second pass: the layer's call counter is one further
            # on and the seeded reshuffle gives another order (per-image draws would land on other images).
            traced.append(images.shape.as_list())
            calls.assign_add(1)
            return randaugment.augment(images, seed=tf.constant([0, 1], tf.int64))

        records = noisy_student.run_noisy_student(
            make_model,
            labeled,
            unlabeled,
            rounds=1,
            teacher=teacher,
            threshold=0.3,
            soft=True,
            unlabeled_ratio=2.0,
            noise=noise,
            epochs=1,
            batch_size=16,
            optimizer=keras.optimizers.SGD(LR),
            metrics=(),
            strategy=strategy,
            seed=0,
        )
        student = records[1].model
        assert student.distribute_strategy is strategy
        summaries.append(records[1].pseudo_labels)
        pipeline_runs.append(int(calls.numpy()))
        results.append((records[1].history["loss"][0], student.get_weights()))
        paths = [v.path for v in student.weights]

    one, two = pseudo
    assert one.summary == two.summary and one.summary["selected"] == 9 and summaries[0] == summaries[1]
    np.testing.assert_array_equal(two.images, one.images)
    np.testing.assert_allclose(two.labels, one.labels, rtol=1e-6, atol=1e-7)
    assert one.labels.max() < 0.99 and np.abs(one.labels - 1 / K).max() > 0.05  # soft, and not uniform
    assert traced == [[None, *SHAPE]] * 2  # the input noise is in both pipelines (traced once each)
    assert pipeline_runs == [1, 2]  # ... and ran once more under the strategy (the peek described above)
    moved = {i for i, p in enumerate(paths) if p.endswith("kernel")}
    assert len(moved) == 4
    _compare(results, student_init, moved)
