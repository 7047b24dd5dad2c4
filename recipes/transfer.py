"""Transfer learning in two stages: train a new head on a frozen backbone, then fine-tune the backbone slower.

    >>> import tfaug
    >>> from recipes import transfer
    >>> model = transfer.build_classifier(
    ...     "MobileNetV3Small", num_classes=10, input_shape=(224, 224, 3), weights="imagenet",
    ...     dropout=0.2, augment=[tfaug.RandAugment(num_ops=2, magnitude=9, seed=0)])
    >>> head_history, finetune_history = transfer.fit_transfer(
    ...     model, train_ds, val_ds, head_epochs=5, finetune_epochs=10, lr=1e-3, finetune_lr=1e-4,
    ...     backbone_lr_factor=0.1, unfreeze_from="expanded_conv_6_expand")

Stage 1 (feature extraction) freezes the backbone and trains the head. Stage 2 (fine-tuning) unfreezes the
backbone, all of it or from a named layer on, and compiles a `keras.optimizers.MultiOptimizer` that gives the
backbone's variables `backbone_lr_factor` times the head's learning rate. This module builds the model
(`TransferClassifier`, `build_classifier`) and runs both stages (`fit_transfer`); the optimizer and the
compile step of each stage (`fine_tuning_optimizer`, `compile_feature_extraction`, `compile_fine_tuning`)
live in `recipes.fine_tuning` and are importable from here too.

BatchNormalization stays in inference mode throughout, with its moving statistics and its scale and offset
frozen. In Keras <= 3.15.1, `base(x, training=False)` inside a *functional* model does not keep it frozen once
the base is unfrozen (the moving statistics move again), so `TransferClassifier` is a subclassed model whose
`call` passes a literal `training=False` to the backbone, and stage 2 also sets every BatchNormalization layer
`trainable=False`.
"""

import inspect
import numbers
import os

import keras

from recipes.fine_tuning import compile_feature_extraction
from recipes.fine_tuning import compile_fine_tuning
from recipes.fine_tuning import fine_tuning_optimizer
from recipes.layers import GeM
from tfaug import validation as v

__all__ = [
    "TransferClassifier",
    "build_classifier",
    "compile_feature_extraction",
    "compile_fine_tuning",
    "fine_tuning_optimizer",
    "fit_transfer",
]


#: The global pooling of the backbone's features, by `pooling` name (each layer is named "pool").
POOLINGS = {"avg": lambda: keras.layers.GlobalAveragePooling2D(name="pool"), "gem": lambda: GeM(name="pool")}


def _application_names():
    return sorted(n for n in dir(keras.applications) if n[:1].isupper() and callable(getattr(keras.applications, n)))


def _check_application(name, argument):
    if name not in _application_names():
        raise ValueError(
            f"`{argument}` must be a keras.applications model name such as 'MobileNetV3Small', 'ResNet50' or "
            f"'EfficientNetB0' (one of {_application_names()}), got {name!r}."
        )
    return getattr(keras.applications, name)


def _preprocess_function(name):
    """The `preprocess_input` of the keras.applications module that defines the model `name`."""
    return inspect.getmodule(_check_application(name, "preprocessing")).preprocess_input


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"`{name}` must be an int >= {low}, got {value!r}.")
    return int(value)


def all_layers(layer):
    """Every layer nested in `layer` (itself left out), each once, depth first.

    Keras has no public recursive walk. A `keras.Model` lists its direct layers in `.layers` (a nested model
    is one of them, walked in turn); a custom `keras.layers.Layer` block lists none, so its sublayers are
    taken from its attributes, directly or inside lists, tuples and dicts, where Keras finds them too.
    """
    found, seen = [], {id(layer)}
    stack = _children(layer)[::-1]
    while stack:
        child = stack.pop()
        if id(child) not in seen:
            seen.add(id(child))
            found.append(child)
            stack.extend(_children(child)[::-1])
    return found


def _children(layer):
    if isinstance(layer, keras.Model):
        return list(layer.layers)
    children, values, seen = [], list(vars(layer).values()), set()
    while values:
        value = values.pop(0)
        if isinstance(value, keras.layers.Layer):
            children.append(value)
        elif isinstance(value, (list, tuple, dict)) and id(value) not in seen:
            seen.add(id(value))
            values.extend(value.values() if isinstance(value, dict) else value)
    return children


@keras.saving.register_keras_serializable(package="recipes")
class TransferClassifier(keras.Model):
    """A backbone, optional augmentation in front, then global pooling, dropout and a new Dense head.

    The augmentation layers run only in training (`fit`, or a call with `training=True`); their randomness is
    their own (see each layer). The backbone always runs in inference mode, so its BatchNormalization uses
    and keeps its moving statistics, and its own dropout is off.

    Args:
        backbone: a Keras model with one 4-D output `[B, H', W', C']`.
        num_classes: number of classes, >= 1.
        augment: Keras layers (e.g. tfaug layers) applied in order to the images in training. Default none.
        dropout: dropout rate before the head, in [0, 1). Default 0.
        preprocessing: a keras.applications model name whose `preprocess_input` maps the images (pixels in
            [0, 255]) to what the backbone expects, after augmentation; or None (default) for no mapping.
        pooling: "avg" (global average pooling, default) or "gem" (`recipes.layers.GeM`, learnable p
            initialised to 3: p is a weight of the model outside the backbone, so it trains with the head).

    Inputs: images `[B, H, W, 3]` of any dtype; outputs: logits `[B, num_classes]` float32 (use a loss with
    `from_logits=True`).

    Raises:
        ValueError: for a bad argument (named).
    """

    def __init__(self, backbone, num_classes, augment=None, dropout=0.0, preprocessing=None, pooling="avg", **kwargs):
        super().__init__(**kwargs)
        self.pooling = v.check_choice("pooling", pooling, POOLINGS)
        if not isinstance(backbone, keras.Model):
            raise ValueError(f"`backbone` must be a keras.Model, got {type(backbone).__name__}.")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0 <= dropout < 1:
            raise ValueError(f"`dropout` must be a number in [0, 1), got {dropout!r}.")
        if isinstance(augment, keras.layers.Layer):
            augment = [augment]
        augment = list(augment or [])
        for layer in augment:
            if not isinstance(layer, keras.layers.Layer):
                raise ValueError(f"`augment` must be a list of Keras layers, got an item {layer!r}.")
        self.preprocessing = preprocessing
        self._preprocess = None if preprocessing is None else _preprocess_function(preprocessing)
        self.backbone = backbone
        self.num_classes = _check_int("num_classes", num_classes, 1)
        self.dropout = float(dropout)
        self.augment = augment
        self.pool = POOLINGS[pooling]()
        self.head_dropout = keras.layers.Dropout(self.dropout, name="head_dropout")
        self.head = keras.layers.Dense(self.num_classes, name="classifier_head")

    def build(self, input_shape):
        # Augmentation and preprocessing keep the shape; loading a saved model builds through here.
        features = self.backbone.compute_output_spec(keras.KerasTensor(input_shape)).shape
        self.pool.build(features)
        self.head.build(self.pool.compute_output_shape(features))

    def call(self, inputs, training=None):
        x = inputs
        if training:
            for layer in self.augment:
                x = layer(x, training=True)
        x = self.head_dropout(self.features(x), training=training)
        return self.head(x)

    def features(self, inputs):
        """The pooled backbone features `[B, C']` of images, the head's input before dropout (no augmentation)."""
        x = keras.ops.cast(inputs, self.compute_dtype)
        if self._preprocess is not None:
            x = self._preprocess(x)
        # A literal False, not `training`: keeps BatchNormalization in inference mode in both stages.
        x = self.backbone(x, training=False)
        return self.pool(x)

    def freeze_backbone(self):
        """Stage 1: makes the whole backbone untrainable."""
        self.backbone.trainable = False

    def unfreeze_backbone(self, unfreeze_from=None):
        """Stage 2: makes the backbone trainable from layer `unfreeze_from` on (all of it when None).

        Layers before `unfreeze_from` (in `backbone.layers` order) stay frozen; BatchNormalization layers stay
        frozen everywhere. Recompile afterwards (`compile_fine_tuning` does both).

        Returns:
            The names of the backbone's top-level layers that are now trainable.

        Raises:
            ValueError: if `unfreeze_from` names no layer of the backbone.
        """
        start = self._first_unfrozen(unfreeze_from)
        self.backbone.trainable = True
        for index, layer in enumerate(self.backbone.layers):
            layer.trainable = index >= start
        for layer in all_layers(self.backbone):
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
        return [layer.name for layer in self.backbone.layers if layer.trainable]

    def _first_unfrozen(self, unfreeze_from):
        names = [layer.name for layer in self.backbone.layers]
        if unfreeze_from is None:
            return 0
        if unfreeze_from not in names:
            raise ValueError(
                f"`unfreeze_from` must name a layer of the backbone {self.backbone.name!r}, got "
                f"{unfreeze_from!r}; its layers are {names[:5]} ... {names[-5:]}."
            )
        return names.index(unfreeze_from)

    def get_config(self):
        config = super().get_config()
        config.update(
            backbone=keras.saving.serialize_keras_object(self.backbone),
            num_classes=self.num_classes,
            augment=[keras.saving.serialize_keras_object(layer) for layer in self.augment],
            dropout=self.dropout,
            preprocessing=self.preprocessing,
            pooling=self.pooling,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        config["augment"] = [keras.saving.deserialize_keras_object(layer) for layer in config["augment"]]
        return cls(**config)


def _feature_shape(backbone, input_shape):
    try:
        output = backbone.output
    except (AttributeError, ValueError):  # a subclassed backbone has no symbolic output
        output = backbone.compute_output_spec(keras.KerasTensor((1, *input_shape)))
    if isinstance(output, (list, tuple, dict)):
        raise ValueError(f"`backbone` must have a single 4-D feature output, got {len(output)} outputs.")
    return tuple(output.shape)


def build_classifier(
    backbone,
    num_classes,
    input_shape=None,
    weights=None,
    dropout=0.0,
    augment=None,
    preprocessing="auto",
    pooling="avg",
    name=None,
    **backbone_kwargs,
):
    """Builds a `TransferClassifier` on a keras.applications backbone or on any Keras feature extractor.

    Args:
        backbone: a keras.applications name ("MobileNetV3Small", "ResNet50", "EfficientNetB0", ...), called
            with `include_top=False`, `input_shape`, `weights` and `backbone_kwargs`; or a Keras model with a
            4-D output `[B, H', W', C']`.
        num_classes: number of classes, >= 1.
        input_shape: `(H, W, C)`. Default: the application's default, or the model's input shape.
        weights: None (random initialisation, default), "imagenet" (downloads; needs network), or the path of
            a weights file of the backbone without its top (`*.weights.h5`). With a model `backbone`, a path is
            loaded into it.
        dropout: dropout rate before the head, in [0, 1). Default 0.
        augment: Keras layers (e.g. `[tfaug.RandAugment(seed=0)]`) applied to the images only in training.
        preprocessing: "auto" (default): the application's `preprocess_input` for a name, nothing for a model;
            None: nothing; or a keras.applications name. Inputs are then pixels in [0, 255].
        pooling: "avg" (global average pooling, default) or "gem" (GeM pooling with a learnable p).
        name: the classifier's name. Default "transfer_classifier".
        **backbone_kwargs: more arguments of the application (e.g. `minimalistic=True`, `alpha=0.75`).

    Returns:
        A built `TransferClassifier` with a frozen backbone, ready for `compile_feature_extraction`.

    Raises:
        ValueError: for an unknown application name, a backbone whose output is not 4-D, `num_classes` < 1,
            a missing weights file, or another bad argument (each named).
        RuntimeError: if the "imagenet" weights cannot be downloaded.
    """
    _check_int("num_classes", num_classes, 1)
    v.check_choice("pooling", pooling, POOLINGS)
    if input_shape is not None:
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
            raise ValueError(f"`input_shape` must be a tuple (height, width, channels), got {input_shape!r}.")
        input_shape = tuple(input_shape)
    if weights not in (None, "imagenet") and not (isinstance(weights, (str, os.PathLike)) and os.path.isfile(weights)):
        raise ValueError(f"`weights` must be None, 'imagenet' or an existing weights file, got {weights!r}.")
    if preprocessing == "auto":
        preprocessing = backbone if isinstance(backbone, str) else None
    elif preprocessing is not None:
        _check_application(preprocessing, "preprocessing")

    if isinstance(backbone, str):
        application = _check_application(backbone, "backbone")
        arguments = dict(include_top=False, weights=None if weights is None else str(weights), **backbone_kwargs)
        if input_shape is not None:
            arguments["input_shape"] = input_shape
        try:
            backbone = application(**arguments)
        except Exception as error:
            if weights == "imagenet":
                raise RuntimeError(
                    f"Could not get the ImageNet weights of {application.__name__} (the download needs network): "
                    f"{error}. Download the 'notop' weights file elsewhere and pass its path as `weights`."
                ) from error
            raise
    elif isinstance(backbone, keras.Model):
        if backbone_kwargs:
            raise ValueError(f"Application arguments {sorted(backbone_kwargs)} need `backbone` as a name.")
        if weights == "imagenet":
            raise ValueError("`weights`='imagenet' needs `backbone` as a keras.applications name, got a model.")
        if weights is not None:
            backbone.load_weights(weights)
    else:
        raise ValueError(
            f"`backbone` must be a keras.applications name or a keras.Model, got {type(backbone).__name__}."
        )

    if input_shape is None:
        try:
            input_shape = tuple(backbone.input_shape[1:])
        except (AttributeError, ValueError):
            raise ValueError("`input_shape` is required for a backbone without a defined input.") from None
    feature_shape = _feature_shape(backbone, input_shape)
    if len(feature_shape) != 4:
        raise ValueError(
            f"`backbone` must output 4-D features [batch, height, width, channels], got shape {feature_shape}; "
            "pass a model without its pooling or top (include_top=False, pooling=None)."
        )

    model = TransferClassifier(
        backbone,
        num_classes,
        augment=augment,
        dropout=dropout,
        preprocessing=preprocessing,
        pooling=pooling,
        name=name or "transfer_classifier",
    )
    model(keras.Input(shape=input_shape))
    model.freeze_backbone()
    return model


def fit_transfer(
    model,
    train_ds,
    val_ds=None,
    head_epochs=5,
    finetune_epochs=10,
    lr=1e-3,
    backbone_lr_factor=0.1,
    finetune_lr=None,
    unfreeze_from=None,
    optimizer="adam",
    loss=None,
    metrics=None,
    callbacks=None,
    verbose="auto",
):
    """Runs both stages with `model.fit`: `head_epochs` on the head alone, then `finetune_epochs` fine-tuning.

    Args:
        model: a `TransferClassifier` (see `build_classifier`).
        train_ds, val_ds: datasets of `(images, labels)` batches, as `model.fit` takes them; `val_ds` optional.
        head_epochs, finetune_epochs: epochs of each stage, >= 0; a stage with 0 epochs is skipped.
        lr: the head's learning rate in stage 1, > 0. Default 1e-3.
        backbone_lr_factor: the backbone's learning rate over the head's in stage 2, > 0. Default 0.1.
        finetune_lr: the head's learning rate in stage 2. Default `lr`.
        unfreeze_from: the first backbone layer to unfreeze in stage 2; None (default) unfreezes all.
        optimizer: a Keras optimizer name or factory `f(learning_rate=...)`. Default "adam".
        loss, metrics, callbacks, verbose: as in `compile_feature_extraction` and `model.fit`.

    Returns:
        `(head_history, finetune_history)`, the `History` of each stage, None for a skipped stage. Stage 2's
        epochs are numbered on from stage 1's.
    """
    _check_int("head_epochs", head_epochs, 0)
    _check_int("finetune_epochs", finetune_epochs, 0)
    # Stage 2's arguments are checked before stage 1 runs, not after it.
    lr = v.check_positive("lr", lr)
    finetune_lr = v.check_positive("finetune_lr", lr if finetune_lr is None else finetune_lr)
    v.check_positive("backbone_lr_factor", backbone_lr_factor)
    model._first_unfrozen(unfreeze_from)
    fit = dict(validation_data=val_ds, callbacks=callbacks, verbose=verbose)
    head_history = finetune_history = None
    if head_epochs:
        compile_feature_extraction(model, lr, optimizer, loss, metrics)
        head_history = model.fit(train_ds, epochs=head_epochs, **fit)
    if finetune_epochs:
        compile_fine_tuning(model, finetune_lr, backbone_lr_factor, unfreeze_from, optimizer, loss, metrics)
        finetune_history = model.fit(train_ds, initial_epoch=head_epochs, epochs=head_epochs + finetune_epochs, **fit)
    return head_history, finetune_history
