"""Decoupled classifiers for long-tailed data: keep the learned representation, re-balance only the classifier.

Kang et al. train the representation with plain instance-balanced sampling, then fix the classifier's bias
towards the frequent classes in one of two ways, both here:

- cRT (`retrain_classifier`): re-initialise the linear classifier and re-train it alone, with class-balanced
  sampling, on the frozen representation.
- tau-normalisation (`tau_normalize`, `choose_tau`): divide each class's weight vector by its norm to the
  power tau, with tau chosen on a validation split; no training.

    >>> model = recipes.models.small_cnn((32, 32, 3), 10)   # trained on the long-tailed data as usual
    >>> recipes.retrain_classifier(model, train_pairs, 10, epochs=10, seed=0)   # cRT, or:
    >>> tau, accuracies = recipes.choose_tau(model, (x_val, y_val))
    >>> recipes.tau_normalize(model, tau)

Both act on the Dense layer that produces the logits (`classifier_head`): a `recipes.TransferClassifier`'s
`head`, or a functional model's output Dense (`recipes.models.small_cnn`'s "logits"). `feature_extractor`
is the model from images to that layer's input, e.g. for `recipes.NearestMeanClassifier` (NCM).

Reference:
    Kang et al., "Decoupling Representation and Classifier for Long-Tailed Recognition", ICLR 2020.
"""

import keras
import numpy as np
import tensorflow as tf

from recipes.sampling import STRATEGIES
from recipes.sampling import count_classes
from recipes.sampling import resample
from recipes.train import augmenter
from recipes.transfer import all_layers
from tfaug import validation as v

__all__ = ["TAUS", "choose_tau", "classifier_head", "feature_extractor", "retrain_classifier", "tau_normalize"]

#: The taus `choose_tau` tries by default: 0, 0.1, ..., 1.
TAUS = tuple(i / 10 for i in range(11))


def classifier_head(model):
    """The Dense layer that produces `model`'s logits.

    Args:
        model: a `keras.Model` with a `head` Dense attribute (`recipes.TransferClassifier`), or a functional
            or Sequential model whose single output is a Dense layer's output.

    Returns:
        The built `keras.layers.Dense` (linear activation); its kernel is `[D, K]`, class `j`'s weights are
        column `j`.

    Raises:
        ValueError: if the model has no such layer, or its activation is not linear (softmax outputs are no
            logits).
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"`model` must be a keras.Model, got {type(model).__name__}.")
    head = getattr(model, "head", None)
    if head is None:
        head = _output_layer(model)
    if not isinstance(head, keras.layers.Dense) or not head.built:
        raise ValueError(
            f"`model` {model.name!r} must end in a built Dense layer giving its logits (a `head` attribute, or "
            f"the layer of a functional model's single output), got {type(head).__name__}."
        )
    if head.activation is not keras.activations.linear:
        raise ValueError(
            f"`model`'s head {head.name!r} must have a linear activation (it gives logits), got "
            f"{getattr(head.activation, '__name__', head.activation)!r}."
        )
    return head


def feature_extractor(model):
    """The model from `model`'s inputs to its head's input features `[B, D]`, sharing `model`'s layers.

    Run it with `training=False` for the features the head sees in inference. For a
    `recipes.TransferClassifier` these are its pooled backbone features before dropout (`model.features`,
    no augmentation); for a functional model, the tensor its output Dense is applied to.

    Args:
        model: as for `classifier_head`; a subclassed model also needs a `features(images)` method.

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: for a model without a Dense head (see `classifier_head`), a subclassed model without a
            `features` method, or head inputs that are not 2-D.
    """
    head = classifier_head(model)
    if getattr(model, "head", None) is head:
        if not callable(getattr(model, "features", None)):
            raise ValueError(f"`model` {model.name!r} has a `head` but no `features(images)` method giving its input.")
        return _Features(model, name=f"{model.name}_features")
    features = head.input
    if len(features.shape) != 2:
        raise ValueError(
            f"`model`'s head {head.name!r} must read 2-D features [batch, dim], got shape {tuple(features.shape)}."
        )
    return keras.Model(model.input, features, name=f"{model.name}_features")


def retrain_classifier(
    model,
    dataset,
    num_classes,
    *,
    epochs,
    batch_size=128,
    learning_rate=0.05,
    strategy="class_balanced",
    seed=None,
    class_counts=None,
    steps_per_epoch=None,
    augment=None,
    optimizer=None,
    verbose=0,
):
    """Classifier re-training (cRT): a fresh head trained alone, with class-balanced sampling, in place.

    The head (`classifier_head`) is re-initialised with its own initializers; every other layer is frozen
    (`trainable=False`, so BatchNormalization runs in inference mode and keeps its moving statistics); the
    model is trained with softmax cross-entropy on batches of `resample(dataset, ...)`; then every layer's
    `trainable` flag is set back. Only the head's weights change. Training runs through a wrapper model, so
    `model`'s own compile state (optimizer, loss) is left as it was. Layers that act only in training still
    do: dropout before the head, and a `TransferClassifier`'s augmentation.

    Departures from the reference code: the default optimizer is SGD with momentum 0.9 and a cosine decay to
    0 over the run, as there, but without its weight decay, and the learning rate is its 0.2 at batch 512
    scaled linearly to batch 128; classes are drawn independently at each step (see `resample`), not cycled.

    Args:
        model: a built model with a Dense head (see `classifier_head`), trained on the long-tailed data.
        dataset: a finite `tf.data.Dataset` of UNBATCHED `(x, y)` pairs (`y` an int class index or one-hot).
        num_classes: number of classes `K`, the head's units.
        epochs: epochs, >= 1 (keyword only).
        batch_size: examples a step, >= 1. Default 128.
        learning_rate: initial learning rate of the default optimizer, > 0. Default 0.05.
        strategy: sampling strategy of `resample`: "class_balanced" (default, cRT), "square_root", "instance".
        seed: int seed of the sampling and of the head's re-initialisation. Default None. Dropout draws from
            Keras's global generator (`keras.utils.set_random_seed` for a reproducible run).
        class_counts: examples of each class `[K]`, counted from `dataset` when None.
        steps_per_epoch: steps an epoch, >= 1. Default: `sum(class_counts) // batch_size` (at least 1).
        augment: tfaug layers applied in order to each batch `(images, labels)` in the input pipeline, seeded
            by the batch's index (as `recipes.train.pipeline`); mixing layers make soft labels, handled.
        optimizer: a `keras.optimizers.Optimizer` instead of the default (then `learning_rate` is unused).
        verbose: as in `keras.Model.fit`. Default 0.

    Returns:
        The `keras.callbacks.History` of the training.

    Raises:
        ValueError: for a model without a Dense head, `num_classes` different from its units, or another bad
            argument (named).

    Example:
        >>> pairs = tf.data.Dataset.from_tensor_slices((x_train, y_train))
        >>> recipes.retrain_classifier(model, pairs, 10, epochs=10, batch_size=128, seed=0)

    Reference:
        Kang et al., "Decoupling Representation and Classifier for Long-Tailed Recognition", ICLR 2020.
    """
    head = classifier_head(model)
    num_classes = v.check_int("num_classes", num_classes, low=1)
    if num_classes != head.units:
        raise ValueError(f"`num_classes` ({num_classes}) must equal the head {head.name!r}'s units ({head.units}).")
    epochs = v.check_int("epochs", epochs, low=1)
    batch_size = v.check_int("batch_size", batch_size, low=1)
    learning_rate = v.check_positive("learning_rate", learning_rate)
    v.check_choice("strategy", strategy, STRATEGIES)
    if steps_per_epoch is not None:
        steps_per_epoch = v.check_int("steps_per_epoch", steps_per_epoch, low=1)
    augment = _check_augment(augment)
    if optimizer is not None and not isinstance(optimizer, keras.optimizers.Optimizer):
        raise ValueError(f"`optimizer` must be a keras.optimizers.Optimizer or None, got {optimizer!r}.")

    if class_counts is None:
        class_counts = count_classes(dataset, num_classes)
    batches = resample(dataset, num_classes, strategy, seed, class_counts)
    batches = batches.batch(batch_size, drop_remainder=True)
    if augment:
        batches = batches.enumerate().map(augmenter(augment), num_parallel_calls=tf.data.AUTOTUNE)
    batches = batches.prefetch(tf.data.AUTOTUNE)
    if steps_per_epoch is None:
        steps_per_epoch = max(1, int(np.sum(class_counts)) // batch_size)
    if optimizer is None:
        schedule = keras.optimizers.schedules.CosineDecay(learning_rate, epochs * steps_per_epoch)
        optimizer = keras.optimizers.SGD(schedule, momentum=0.9)
    sparse = batches.element_spec[1].shape.rank == 1
    loss = (keras.losses.SparseCategoricalCrossentropy if sparse else keras.losses.CategoricalCrossentropy)(
        from_logits=True
    )

    if not any(layer is head for layer in model.layers):
        raise ValueError(f"`model`'s head {head.name!r} must be one of its own layers (`model.layers`), not nested.")

    _reinitialize(head, seed)
    layers = [model, *all_layers(model)]
    flags = [layer.trainable for layer in layers]
    try:
        # Setting a layer's flag sets its sublayers' too, so the direct layers freeze everything but the head.
        model.trainable = True
        for layer in model.layers:
            layer.trainable = layer is head
        trainer = _Trainer(model, name=f"{model.name}_crt")
        trainer.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
        return trainer.fit(batches, epochs=epochs, steps_per_epoch=steps_per_epoch, shuffle=False, verbose=verbose)
    finally:
        # Parents come before their sublayers in `layers`, so each layer ends with its own saved flag.
        for layer, flag in zip(layers, flags):
            layer.trainable = flag


def tau_normalize(model, tau, *, keep_bias=False):
    """tau-normalisation of `model`'s classifier, in place: each class's weights `w_j` become `w_j / ||w_j||^tau`.

    `w_j` is column `j` of the head's `[D, K]` kernel. tau 0 leaves the weights as they are, tau 1 makes every
    column a unit vector; in between, the large norms of the frequent classes shrink towards the rare ones'.
    A column of zeros stays zeros. The bias is set to zero unless `keep_bias`: the authors' tau-normalisation
    code scores `features @ w` with the trained classifier's bias left out, for every tau.

    Args:
        model: a model with a Dense head (see `classifier_head`).
        tau: the exponent, a finite number >= 0 (the paper searches [0, 1]).
        keep_bias: keep the head's bias instead of zeroing it. Default False (the reference code).

    Raises:
        ValueError: for a negative or non-finite `tau`, or a model without a Dense head.

    Example:
        >>> tau, _ = recipes.choose_tau(model, (x_val, y_val))
        >>> recipes.tau_normalize(model, tau)

    Reference:
        Kang et al., "Decoupling Representation and Classifier for Long-Tailed Recognition", ICLR 2020.
    """
    tau = v.check_positive("tau", tau, allow_zero=True)
    v.check_bool("keep_bias", keep_bias)
    head = classifier_head(model)
    kernel = _normalized(keras.ops.convert_to_numpy(head.kernel).astype(np.float64), tau)
    head.kernel.assign(keras.ops.cast(kernel, head.kernel.dtype))
    if head.use_bias and not keep_bias:
        head.bias.assign(keras.ops.zeros_like(head.bias))


def choose_tau(model, val_data, taus=TAUS, *, keep_bias=False, batch_size=256):
    """The tau of `tau_normalize` with the best accuracy on `val_data`, and every tau's accuracy.

    The features are computed once (inference mode); each tau's logits are then `features @ W_tau (+ bias)`
    in float64, exactly what `tau_normalize(model, tau, keep_bias=keep_bias)` would give. `model` is not
    changed. Ties go to the first tau in `taus` order (the smallest, by default). Use a class-balanced
    validation split, as the paper does, so that accuracy weighs every class alike.

    Args:
        model: a model with a Dense head (see `classifier_head`) and a `feature_extractor`.
        val_data: a `tf.data.Dataset` of `(x, y)` batches, or a pair `(x, y)` of arrays; `y` int labels `[b]`
            or one-hot labels `[b, K]` (argmax).
        taus: the candidates, finite numbers >= 0. Default 0, 0.1, ..., 1.
        keep_bias: as in `tau_normalize`. Default False.
        batch_size: images a forward pass for an array `x`, >= 1. Default 256.

    Returns:
        `(best_tau, {tau: accuracy})`, accuracies as floats in [0, 1].

    Raises:
        ValueError: for a negative or non-finite tau, no taus, features that are not 2-D, or bad `val_data`.

    Reference:
        Kang et al., "Decoupling Representation and Classifier for Long-Tailed Recognition", ICLR 2020.
    """
    if isinstance(taus, (str, bytes)) or not hasattr(taus, "__iter__"):
        raise ValueError(f"`taus` must be a sequence of numbers >= 0, got {taus!r}.")
    taus = [v.check_positive("taus", tau, allow_zero=True) for tau in taus]
    if not taus:
        raise ValueError("`taus` must hold at least one tau, got none.")
    v.check_bool("keep_bias", keep_bias)
    batch_size = v.check_int("batch_size", batch_size, low=1)
    head = classifier_head(model)
    features, labels = _features(feature_extractor(model), val_data, batch_size)
    kernel = keras.ops.convert_to_numpy(head.kernel).astype(np.float64)
    if features.shape[1] != kernel.shape[0]:
        raise ValueError(f"The features have {features.shape[1]} dimensions, the head reads {kernel.shape[0]}.")
    bias = keras.ops.convert_to_numpy(head.bias).astype(np.float64) if head.use_bias and keep_bias else 0.0
    accuracies = {}
    for tau in taus:
        predictions = np.argmax(features @ _normalized(kernel, tau) + bias, axis=-1)
        accuracies[tau] = float(np.mean(predictions == labels))
    return max(taus, key=accuracies.__getitem__), accuracies


# -- helpers ---------------------------------------------------------------------------------------------


class _Features(keras.Model):
    """Images -> `model.features(images)`: a view of a subclassed classifier that shares its layers."""

    def __init__(self, model, **kwargs):
        super().__init__(**kwargs)
        self.classifier = model

    def call(self, inputs, training=None):
        return self.classifier.features(inputs)


class _Trainer(keras.Model):
    """Runs `model` unchanged, so compiling and fitting this leaves `model`'s own compile state alone."""

    def __init__(self, model, **kwargs):
        super().__init__(**kwargs)
        self.inner = model

    def call(self, inputs, training=None):
        return self.inner(inputs, training=training)


def _output_layer(model):
    """The layer whose output is a functional model's single output, or None."""
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        return None
    if not isinstance(outputs, (list, tuple)) or len(outputs) != 1:
        return None
    for layer in model.layers:
        try:
            if layer.output is outputs[0]:
                return layer
        except (AttributeError, ValueError):  # a layer called more than once has no single output
            continue
    return None


def _normalized(kernel, tau):
    """`kernel [D, K]` with each column divided by its L2 norm to the power tau; zero columns stay zero."""
    norms = np.linalg.norm(kernel, axis=0)
    return kernel / np.where(norms > 0, norms, 1.0) ** tau


def _reinitialize(head, seed):
    """Fresh head weights from the head's own initializers (seeded when `seed` is given)."""
    for variable, initializer in ((head.kernel, head.kernel_initializer), (head.bias, head.bias_initializer)):
        if variable is None:
            continue
        config = initializer.get_config()
        if seed is not None and "seed" in config:
            config["seed"] = seed
        fresh = type(initializer).from_config(config)
        variable.assign(fresh(variable.shape, variable.dtype))


def _check_augment(augment):
    if augment is None:
        return []
    layers = list(augment) if isinstance(augment, (list, tuple)) else [augment]
    for layer in layers:
        if not (callable(getattr(layer, "augment", None)) and callable(getattr(layer, "seed_for_index", None))):
            raise ValueError(f"`augment` must be a list of tfaug layers, got an item {layer!r}.")
    return layers


def _features(extractor, data, batch_size):
    """`(features float64 [n, D], int labels [n])` of `data`, batch by batch in inference mode."""
    if isinstance(data, tf.data.Dataset):
        batches = data
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = data
        if len(x) != len(y):
            raise ValueError(f"`val_data` must be (x, y) of equal lengths, got {len(x)} and {len(y)}.")
        batches = ((x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, len(x), batch_size))
    else:
        raise ValueError(f"`val_data` must be a tf.data.Dataset of (x, y) batches or a pair (x, y), got {data!r}.")
    features, labels = [], []
    for element in batches:
        if not isinstance(element, (tuple, list)) or len(element) != 2:
            raise ValueError("`val_data` must give (x, y) batches.")
        batch_features = keras.ops.convert_to_numpy(extractor(element[0], training=False))
        if batch_features.ndim != 2:
            raise ValueError(f"The features must be 2-D [batch, dim], got shape {batch_features.shape}.")
        batch_labels = np.asarray(element[1])
        features.append(batch_features.astype(np.float64))
        labels.append(np.argmax(batch_labels, axis=-1) if batch_labels.ndim == 2 else batch_labels.reshape(-1))
    if not features:
        raise ValueError("`val_data` is empty.")
    return np.concatenate(features), np.concatenate(labels).astype(np.int64)
