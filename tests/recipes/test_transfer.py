"""Tests of the two-stage transfer-learning recipe on tiny backbones (32x32 inputs), no network."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfaug
from recipes import transfer
from recipes.layers import GeM

SHAPE = (32, 32, 3)


def small_backbone(name="small_backbone"):
    """Two conv + BatchNormalization blocks: a 4-D feature map like an application without its top."""
    inputs = keras.Input(SHAPE)
    x = keras.layers.Conv2D(8, 3, strides=2, name="conv1")(inputs)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU(name="relu1")(x)
    x = keras.layers.Conv2D(16, 3, strides=2, name="conv2")(x)
    x = keras.layers.BatchNormalization(name="bn2")(x)
    x = keras.layers.ReLU(name="relu2")(x)
    return keras.Model(inputs, x, name=name)


def rand_augment():
    # Two ops, not the default fourteen: the first trace of all fourteen takes about 20 s on a CPU.
    return tfaug.RandAugment(num_ops=1, magnitude=5, ops=["rotate", "brightness"], seed=0)


def mobilenet(**kwargs):
    return keras.applications.MobileNetV3Small(
        input_shape=SHAPE, include_top=False, weights=None, minimalistic=True, **kwargs
    )


@pytest.fixture
def data(rng):
    images = rng.uniform(0, 255, size=(16, *SHAPE)).astype("float32")
    labels = np.arange(16) % 3
    return images, labels


def dataset(data):
    return tf.data.Dataset.from_tensor_slices(data).batch(8)


def snapshot(layer):
    return {v.path: v.numpy().copy() for v in layer.weights}


def batchnorm_layers(model):
    return [layer for layer in model.backbone.layers if isinstance(layer, keras.layers.BatchNormalization)]


def test_stage1_changes_the_head_and_nothing_of_the_backbone(data):
    model = transfer.build_classifier(small_backbone(), num_classes=3)
    backbone_before, head_before = snapshot(model.backbone), model.head.kernel.numpy().copy()

    head_history, finetune_history = transfer.fit_transfer(
        model, dataset(data), head_epochs=2, finetune_epochs=0, lr=0.05, optimizer="sgd", verbose=0
    )

    assert finetune_history is None and len(head_history.history["loss"]) == 2
    for path, value in snapshot(model.backbone).items():
        np.testing.assert_array_equal(value, backbone_before[path], err_msg=path)
    assert not np.allclose(model.head.kernel.numpy(), head_before)


def test_stage2_fine_tunes_convolutions_but_keeps_batchnorm_exactly(data):
    model = transfer.build_classifier(small_backbone(), num_classes=3, dropout=0.2, augment=[rand_augment()])
    before = snapshot(model.backbone)

    head_history, finetune_history = transfer.fit_transfer(
        model, dataset(data), dataset(data), head_epochs=1, finetune_epochs=2, lr=0.05, optimizer="sgd", verbose=0
    )

    assert finetune_history.epoch == [1, 2] and "val_loss" in finetune_history.history
    assert len(head_history.history["loss"]) == 1
    after = snapshot(model.backbone)
    for layer in batchnorm_layers(model):
        assert not layer.trainable
        for variable in layer.weights:  # gamma, beta, moving mean and variance
            np.testing.assert_array_equal(after[variable.path], before[variable.path], err_msg=variable.path)
    for path in ("conv1/kernel", "conv2/kernel"):
        assert not np.allclose(after[path], before[path]), path


def test_backbone_call_stays_in_inference_mode_even_if_batchnorm_is_made_trainable(data):
    # The second safeguard alone: a literal training=False in `call` keeps the moving statistics.
    # Seeded, with a small rate: with BatchNorm frozen, [0, 255] inputs reach the head unnormalised, and at
    # lr 0.05 some initialisations (the global generator's state depends on the tests run before) diverge.
    keras.utils.set_random_seed(0)
    model = transfer.build_classifier(small_backbone(), num_classes=3)
    model.unfreeze_backbone()
    for layer in batchnorm_layers(model):
        layer.trainable = True
    model.compile(
        optimizer=transfer.fine_tuning_optimizer(model, lr=0.001, optimizer="sgd"),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    stats = {v.path: v.numpy().copy() for layer in batchnorm_layers(model) for v in layer.non_trainable_weights}
    assert len(stats) == 4

    model.fit(dataset(data), epochs=2, verbose=0)

    for layer in batchnorm_layers(model):
        for variable in layer.non_trainable_weights:
            np.testing.assert_array_equal(variable.numpy(), stats[variable.path], err_msg=variable.path)
    # Its running statistics would have moved in training mode: the data is far from mean 0, variance 1.
    features = keras.ops.convert_to_numpy(model.backbone.get_layer("conv1")(data[0]))
    assert abs(features.mean()) > 1


def test_one_sgd_step_scales_backbone_updates_by_the_factor(data):
    lr, factor = 0.5, 0.1
    model = transfer.build_classifier(small_backbone(), num_classes=3)
    transfer.compile_fine_tuning(model, lr=lr, backbone_lr_factor=factor, optimizer="sgd")
    images, labels = data[0][:8] / 255.0, data[1][:8]
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        value = loss(labels, model(images, training=True))
    variables = model.trainable_variables
    grads = {v.path: g.numpy() for v, g in zip(variables, tape.gradient(value, variables))}
    before = {v.path: v.numpy().copy() for v in variables}
    backbone_paths = {v.path for v in model.backbone.trainable_variables}
    assert backbone_paths == {"conv1/kernel", "conv1/bias", "conv2/kernel", "conv2/bias"}
    assert len(variables) == 6  # plus the head's kernel and bias

    model.train_on_batch(images, labels)

    for variable in variables:
        expected = -(lr * factor if variable.path in backbone_paths else lr) * grads[variable.path]
        delta = variable.numpy() - before[variable.path]
        assert np.abs(expected).max() > 0, variable.path
        np.testing.assert_allclose(delta, expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())


def test_unfreeze_from_unfreezes_exactly_the_layers_from_that_name_on(data):
    model = transfer.build_classifier("MobileNetV3Small", num_classes=3, input_shape=SHAPE, minimalistic=True)
    layers = model.backbone.layers
    start = [layer.name for layer in layers].index("expanded_conv_3_expand")
    assert not model.backbone.trainable_weights  # stage 1 state

    unfrozen = model.unfreeze_backbone("expanded_conv_3_expand")

    for index, layer in enumerate(layers):
        is_batchnorm = isinstance(layer, keras.layers.BatchNormalization)
        assert layer.trainable == (index >= start and not is_batchnorm), layer.name
    batchnorm = keras.layers.BatchNormalization
    assert unfrozen == [layer.name for layer in layers[start:] if not isinstance(layer, batchnorm)]
    trainable_layers = {v.path.split("/")[0] for v in model.backbone.trainable_variables}
    assert "expanded_conv_3_expand" in trainable_layers and "expanded_conv_2_expand" not in trainable_layers

    # One step: frozen layers and every BatchNormalization unchanged, the first unfrozen layer updated.
    transfer.compile_fine_tuning(model, lr=0.5, unfreeze_from="expanded_conv_3_expand", optimizer="sgd")
    before = snapshot(model.backbone)
    model.train_on_batch(data[0][:8], data[1][:8])
    after = snapshot(model.backbone)
    for index, layer in enumerate(layers):
        if index < start or isinstance(layer, keras.layers.BatchNormalization):
            for variable in layer.weights:
                np.testing.assert_array_equal(after[variable.path], before[variable.path], err_msg=variable.path)
    assert not np.array_equal(after["expanded_conv_3_expand/kernel"], before["expanded_conv_3_expand/kernel"])

    with pytest.raises(ValueError, match="unfreeze_from.*no_such_layer"):
        model.unfreeze_backbone("no_such_layer")


def test_weights_from_a_local_file_give_identical_backbone_weights(tmp_path, rng):
    source = mobilenet()
    for layer in source.layers:  # non-default statistics, so that a silent no-op load cannot pass
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(rng.normal(size=layer.moving_mean.shape).astype("float32"))
    path = str(tmp_path / "mobilenet_notop.weights.h5")
    source.save_weights(path)

    model = transfer.build_classifier(
        "MobileNetV3Small", num_classes=3, input_shape=SHAPE, weights=path, minimalistic=True
    )

    assert len(model.backbone.weights) == len(source.weights)
    for loaded, saved in zip(model.backbone.weights, source.weights):
        assert loaded.path == saved.path
        np.testing.assert_array_equal(loaded.numpy(), saved.numpy(), err_msg=saved.path)

    # A model backbone takes the same path argument.
    custom = small_backbone()
    custom_path = str(tmp_path / "custom.weights.h5")
    custom.save_weights(custom_path)
    model = transfer.build_classifier(small_backbone(), num_classes=3, weights=custom_path)
    for loaded, saved in zip(model.backbone.weights, custom.weights):
        np.testing.assert_array_equal(loaded.numpy(), saved.numpy(), err_msg=saved.path)


def test_save_and_load_round_trip_predicts_the_same(tmp_path, data):
    model = transfer.build_classifier(
        small_backbone(),
        num_classes=3,
        dropout=0.3,
        augment=[rand_augment()],
        preprocessing="ResNet50",
    )
    transfer.fit_transfer(
        model, dataset(data), head_epochs=1, finetune_epochs=1, backbone_lr_factor=0.1, optimizer="sgd", verbose=0
    )
    path = str(tmp_path / "classifier.keras")
    model.save(path)

    loaded = keras.models.load_model(path)

    assert isinstance(loaded, transfer.TransferClassifier) and loaded.preprocessing == "ResNet50"
    assert isinstance(loaded.augment[0], tfaug.RandAugment)
    np.testing.assert_allclose(loaded.predict(data[0], verbose=0), model.predict(data[0], verbose=0), rtol=1e-6)
    assert not any(layer.trainable for layer in batchnorm_layers(loaded))
    # The restored MultiOptimizer still gives the backbone a tenth of the head's learning rate.
    optimizer_map = loaded.optimizer.get_config()["optimizer_map"]
    rates = {float(keras.ops.convert_to_numpy(o.learning_rate)) for o in loaded.optimizer.optimizers}
    assert sorted(rates) == pytest.approx([1e-4, 1e-3]), rates
    backbone_map = keras.optimizers.OptimizerMap.from_config(optimizer_map["config"])
    for variable in loaded.trainable_variables:
        lr = float(keras.ops.convert_to_numpy(backbone_map(variable).learning_rate))
        in_backbone = any(variable is v for v in loaded.backbone.trainable_variables)
        assert lr == pytest.approx(1e-4 if in_backbone else 1e-3), variable.path


def test_gem_pooling_trains_p_with_the_head_and_survives_saving(tmp_path, data):
    model = transfer.build_classifier(small_backbone(), num_classes=3, pooling="gem")
    assert isinstance(model.pool, GeM) and model.get_config()["pooling"] == "gem"
    transfer.compile_feature_extraction(model, lr=0.1, optimizer="sgd")
    assert {v.path for v in model.trainable_variables} == {model.pool.p.path, *(v.path for v in model.head.weights)}
    backbone = snapshot(model.backbone)

    model.train_on_batch(data[0][:8], data[1][:8])

    assert float(model.pool.p) != 3.0
    for path, value in snapshot(model.backbone).items():
        np.testing.assert_array_equal(value, backbone[path], err_msg=path)
    # Stage 2 gives p the head's learning rate, not the backbone's.
    model.unfreeze_backbone()
    optimizer = transfer.fine_tuning_optimizer(model, lr=1e-3, backbone_lr_factor=0.1, optimizer="sgd")
    optimizer_map = keras.optimizers.OptimizerMap.from_config(optimizer.get_config()["optimizer_map"]["config"])
    rate = lambda variable: float(keras.ops.convert_to_numpy(optimizer_map(variable).learning_rate))
    assert rate(model.pool.p) == pytest.approx(1e-3)
    assert rate(model.backbone.get_layer("conv1").kernel) == pytest.approx(1e-4)
    path = str(tmp_path / "gem_classifier.keras")
    model.save(path)

    loaded = keras.models.load_model(path)

    assert loaded.pooling == "gem" and float(loaded.pool.p) == float(model.pool.p)
    np.testing.assert_allclose(loaded.predict(data[0], verbose=0), model.predict(data[0], verbose=0), rtol=1e-6)


def test_augmentation_and_preprocessing_apply_where_documented(data):
    images = data[0][:4]
    model = transfer.build_classifier(small_backbone(), num_classes=3, augment=rand_augment())
    inference = keras.ops.convert_to_numpy(model(images, training=False))
    np.testing.assert_array_equal(model.predict(images, verbose=0), model.predict(images, verbose=0))
    np.testing.assert_allclose(model.predict(images, verbose=0), inference, rtol=1e-6)
    assert not np.allclose(keras.ops.convert_to_numpy(model(images, training=True)), inference)

    plain = transfer.build_classifier(small_backbone(), num_classes=3, preprocessing="ResNet50")
    raw = transfer.TransferClassifier(plain.backbone, 3)
    raw(images)
    raw.head.set_weights(plain.head.get_weights())
    preprocessed = keras.applications.resnet50.preprocess_input(images.copy())
    np.testing.assert_allclose(plain.predict(images, verbose=0), raw.predict(preprocessed, verbose=0), rtol=1e-5)


class SubclassedBackbone(keras.Model):
    """A backbone without a symbolic input or output, its BatchNormalization nested in a block."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.block = keras.Sequential([keras.layers.Conv2D(4, 3, name="conv"), keras.layers.BatchNormalization()])

    def call(self, inputs):
        return self.block(inputs)


def test_a_subclassed_backbone_needs_input_shape_and_its_nested_batchnorm_stays_frozen():
    with pytest.raises(ValueError, match="`input_shape`"):
        transfer.build_classifier(SubclassedBackbone(), num_classes=3)
    model = transfer.build_classifier(SubclassedBackbone(), num_classes=3, input_shape=SHAPE)
    assert model.predict(np.zeros((2, *SHAPE)), verbose=0).shape == (2, 3)

    model.unfreeze_backbone()

    nested = model.backbone.block.layers[1]
    assert model.backbone.block.layers[0].trainable and not nested.trainable
    assert {v.path for v in model.backbone.trainable_variables} == {
        v.path for v in model.backbone.block.layers[0].weights
    }


class ConvBlock(keras.layers.Layer):
    """A custom layer (not a model) holding a convolution and a BatchNormalization in a list."""

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.parts = [keras.layers.Conv2D(filters, 3, padding="same", name="block_conv")]
        self.parts.append(keras.layers.BatchNormalization(name="block_bn"))

    def call(self, inputs):
        for part in self.parts:
            inputs = part(inputs)
        return inputs


def nested_backbone():
    """conv1, then a sub-model (conv, BatchNormalization, a ConvBlock), then a BatchNormalization."""
    stage = keras.Sequential(
        [
            keras.Input((15, 15, 8)),
            keras.layers.Conv2D(8, 3, name="stage_conv"),
            keras.layers.BatchNormalization(name="stage_bn"),
            ConvBlock(8, name="block"),
        ],
        name="stage",
    )
    inputs = keras.Input(SHAPE)
    x = keras.layers.Conv2D(8, 3, strides=2, name="conv1")(inputs)
    x = keras.layers.BatchNormalization(name="top_bn")(stage(x))
    return keras.Model(inputs, x, name="nested_backbone")


def test_batchnorm_nested_in_a_sub_model_and_a_custom_block_stays_frozen(data):
    model = transfer.build_classifier(nested_backbone(), num_classes=3)
    walked = transfer.all_layers(model.backbone)
    nested = [layer for layer in walked if isinstance(layer, keras.layers.BatchNormalization)]
    assert sorted(layer.name for layer in nested) == ["block_bn", "stage_bn", "top_bn"]
    before = snapshot(model.backbone)

    transfer.fit_transfer(model, dataset(data), head_epochs=0, finetune_epochs=1, lr=0.05, optimizer="sgd", verbose=0)

    assert not any(layer.trainable for layer in nested)
    trainable = {v.path for v in model.backbone.trainable_variables}
    assert {p.split("/")[-2] for p in trainable} == {"conv1", "stage_conv", "block_conv"}
    after = snapshot(model.backbone)
    for layer in nested:
        for variable in layer.weights:  # gamma, beta, moving mean and variance
            np.testing.assert_array_equal(after[variable.path], before[variable.path], err_msg=variable.path)
    for path in trainable:
        if path.endswith("kernel"):
            assert not np.allclose(after[path], before[path]), path


def test_imagenet_weights_are_requested_and_a_failed_download_is_explained(monkeypatch):
    calls = []

    def fake_application(**kwargs):
        calls.append(kwargs)
        return small_backbone()

    monkeypatch.setattr(keras.applications, "MobileNetV3Small", fake_application)
    transfer.build_classifier("MobileNetV3Small", 3, input_shape=SHAPE, weights="imagenet", preprocessing=None)
    assert calls == [{"include_top": False, "weights": "imagenet", "input_shape": SHAPE}]

    def offline_application(**kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- no network")

    monkeypatch.setattr(keras.applications, "MobileNetV3Small", offline_application)
    with pytest.raises(RuntimeError, match="network.*`weights`"):
        transfer.build_classifier("MobileNetV3Small", 3, input_shape=SHAPE, weights="imagenet", preprocessing=None)


def dense_backbone():
    inputs = keras.Input(SHAPE)
    x = keras.layers.Conv2D(4, 3)(inputs)
    return keras.Model(inputs, keras.layers.Dense(5)(keras.layers.Flatten()(x)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(backbone="NoSuchNet"), "`backbone`.*NoSuchNet"),
        (dict(backbone="resnet50"), "`backbone`"),  # a module of keras.applications, not a model
        (dict(backbone=dense_backbone), "`backbone` must output 4-D.*\\(None, 5\\)"),
        (dict(backbone=3), "`backbone`"),
        (dict(num_classes=0), "`num_classes`.*0"),
        (dict(num_classes=2.5), "`num_classes`"),
        (dict(dropout=1.0), "`dropout`"),
        (dict(weights="/no/such/file.weights.h5"), "`weights`"),
        (dict(weights=3), "`weights`"),
        (dict(augment=["flip"]), "`augment`"),
        (dict(input_shape=(32, 32)), "`input_shape`"),
        (dict(preprocessing="NoSuchNet"), "`preprocessing`"),
        (dict(alpha=0.5), "backbone"),  # application arguments need an application
        (dict(pooling="max"), "`pooling`.*max"),
    ],
)
def test_build_classifier_rejects_bad_arguments(kwargs, match):
    arguments = dict(backbone=small_backbone, num_classes=3)
    arguments.update(kwargs)
    if callable(arguments["backbone"]):
        arguments["backbone"] = arguments["backbone"]()
    with pytest.raises(ValueError, match=match):
        transfer.build_classifier(**arguments)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(head_epochs=-1), "`head_epochs`"),
        (dict(finetune_epochs=1.5), "`finetune_epochs`"),
        (dict(lr=0), "`lr`"),
        (dict(backbone_lr_factor=0), "`backbone_lr_factor`"),
        (dict(optimizer="no_such_optimizer"), "`optimizer`"),
        (dict(optimizer=keras.optimizers.SGD()), "`optimizer`.*instance"),
        (dict(unfreeze_from="no_such_layer"), "`unfreeze_from`"),
        (dict(finetune_lr=-1.0), "`finetune_lr`"),
    ],
)
def test_fit_transfer_rejects_bad_arguments(kwargs, match, data):
    model = transfer.build_classifier(small_backbone(), num_classes=3)
    arguments = dict(head_epochs=1, finetune_epochs=1, verbose=0)
    arguments.update(kwargs)
    head = model.head.kernel.numpy().copy()
    with pytest.raises(ValueError, match=match):
        transfer.fit_transfer(model, dataset(data), **arguments)
    np.testing.assert_array_equal(model.head.kernel.numpy(), head)  # raised before any training


def test_compile_helpers_are_importable_from_transfer():
    from recipes import fine_tuning

    assert set(fine_tuning.__all__) <= set(transfer.__all__)
    for name in transfer.__all__:
        assert callable(getattr(transfer, name)), name
    for name in fine_tuning.__all__:
        assert getattr(transfer, name) is getattr(fine_tuning, name), name
