"""The compile step of each transfer-learning stage, and the optimizer of stage 2.

`compile_feature_extraction` (stage 1) freezes the backbone and compiles the head alone;
`compile_fine_tuning` (stage 2) unfreezes the backbone, BatchNormalization excepted, and compiles
`fine_tuning_optimizer`: a `keras.optimizers.MultiOptimizer` that gives the backbone's variables
`backbone_lr_factor` times the head's learning rate. They work on a `recipes.transfer.TransferClassifier`
(any model with `backbone`, `freeze_backbone` and `unfreeze_backbone`); `recipes.transfer.fit_transfer`
runs both stages, and `recipes.transfer` re-exports these names.

    >>> model = transfer.build_classifier(backbone, num_classes=10, input_shape=(96, 96, 3))
    >>> compile_feature_extraction(model, lr=1e-3).fit(train_ds, epochs=5)
    >>> compile_fine_tuning(model, lr=1e-4, backbone_lr_factor=0.1).fit(train_ds, epochs=10)
"""

import re

import keras

from tfaug import validation as v

__all__ = ["compile_feature_extraction", "compile_fine_tuning", "fine_tuning_optimizer"]


def _make_optimizer(optimizer, lr):
    if isinstance(optimizer, keras.optimizers.Optimizer):
        raise ValueError(
            "`optimizer` must be a name ('adam', 'sgd', ...) or a factory called as optimizer(learning_rate=...), "
            f"not an instance: the recipe builds one per learning rate. Got {optimizer!r}."
        )
    if isinstance(optimizer, str):
        try:
            return keras.optimizers.get({"class_name": optimizer, "config": {"learning_rate": lr}})
        except ValueError:
            raise ValueError(f"`optimizer` {optimizer!r} is not a Keras optimizer name.") from None
    if callable(optimizer):
        instance = optimizer(learning_rate=lr)
        if isinstance(instance, keras.optimizers.Optimizer):
            return instance
    raise ValueError(
        f"`optimizer` must be a name or a callable returning a keras.optimizers.Optimizer, got {optimizer!r}."
    )


def fine_tuning_optimizer(model, lr, backbone_lr_factor=0.1, optimizer="adam"):
    """A `MultiOptimizer`: the backbone's trainable variables at `backbone_lr_factor * lr`, the rest at `lr`.

    `MultiOptimizer` routes a variable by its path (an exact key, else a regular expression matched in full).
    A backbone's variable paths carry no prefix of the backbone (`conv/kernel`), and the head's change when a
    saved model is loaded, so the map names the backbone's variables exactly, as one escaped alternation (one
    key, one optimizer, which serialises once), and the head takes the default optimizer.

    Args:
        model: a `TransferClassifier` (its `backbone` is the part that gets the lower rate), unfrozen as wanted.
        lr: the head's learning rate, > 0.
        backbone_lr_factor: the backbone's learning rate over the head's, > 0. Default 0.1.
        optimizer: a Keras optimizer name or a factory `f(learning_rate=...)`, not an instance (one is
            built per learning rate). Default "adam".

    Returns:
        A `keras.optimizers.MultiOptimizer` for `model.compile`.

    Raises:
        ValueError: for a bad `lr`, `backbone_lr_factor` or `optimizer`, or if a head variable shares a path
            with a backbone variable (it would silently get the backbone's learning rate).
    """
    lr = v.check_positive("lr", lr)
    backbone_lr_factor = v.check_positive("backbone_lr_factor", backbone_lr_factor)
    backbone_paths = [variable.path for variable in model.backbone.trainable_variables]
    backbone_ids = {id(variable) for variable in model.backbone.trainable_variables}
    clashes = [v.path for v in model.trainable_variables if id(v) not in backbone_ids and v.path in backbone_paths]
    if clashes:
        raise ValueError(f"`model` has head variables with the same paths as backbone variables: {clashes}.")
    head_optimizer = _make_optimizer(optimizer, lr)
    optimizer_map = keras.optimizers.OptimizerMap(default_optimizer=head_optimizer)
    if backbone_paths:
        pattern = "(?:" + "|".join(re.escape(path) for path in backbone_paths) + ")"
        optimizer_map[pattern] = _make_optimizer(optimizer, lr * backbone_lr_factor)
    return keras.optimizers.MultiOptimizer(optimizer_map)


def _compile_arguments(loss, metrics):
    if loss is None:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return loss, ["accuracy"] if metrics is None else metrics


def compile_feature_extraction(model, lr=1e-3, optimizer="adam", loss=None, metrics=None, **compile_kwargs):
    """Stage 1: freezes the backbone and compiles `model` to train the head at `lr`.

    Args:
        model: a `TransferClassifier`.
        lr: the head's learning rate, > 0. Default 1e-3.
        optimizer: a Keras optimizer name or a factory `f(learning_rate=...)`. Default "adam".
        loss: default sparse categorical cross-entropy on logits (integer labels); pass
            `keras.losses.CategoricalCrossentropy(from_logits=True)` for one-hot or mixed labels (CutMix, MixUp).
        metrics: `compile` metrics. Default `["accuracy"]`.
        **compile_kwargs: more `model.compile` arguments (`jit_compile`, ...).

    Returns:
        `model`, compiled.

    Raises:
        ValueError: for a bad `lr` or `optimizer`.
    """
    model.freeze_backbone()
    loss, metrics = _compile_arguments(loss, metrics)
    optimizer = _make_optimizer(optimizer, v.check_positive("lr", lr))
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics, **compile_kwargs)
    return model


def compile_fine_tuning(
    model,
    lr=1e-4,
    backbone_lr_factor=0.1,
    unfreeze_from=None,
    optimizer="adam",
    loss=None,
    metrics=None,
    **compile_kwargs,
):
    """Stage 2: unfreezes the backbone (from `unfreeze_from` on) and compiles with `fine_tuning_optimizer`.

    BatchNormalization layers stay frozen and in inference mode. Arguments as in `fine_tuning_optimizer`,
    `TransferClassifier.unfreeze_backbone` and `compile_feature_extraction`; `lr` defaults to 1e-4.

    Returns:
        `model`, compiled.

    Raises:
        ValueError: for a bad argument (named), or an `unfreeze_from` that names no backbone layer.
    """
    model.unfreeze_backbone(unfreeze_from)
    loss, metrics = _compile_arguments(loss, metrics)
    multi = fine_tuning_optimizer(model, lr, backbone_lr_factor, optimizer)
    model.compile(optimizer=multi, loss=loss, metrics=metrics, **compile_kwargs)
    return model
