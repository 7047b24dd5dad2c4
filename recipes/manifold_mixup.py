"""Manifold Mixup: a classifier trained on mixed hidden states and equally mixed labels.

`ManifoldMixup` wraps a functional (or Sequential) Keras classifier. At every training step it picks one
mixing point among the input and the layers the user names, runs the model with the hidden state after
that point mixed with a partner's, and trains on labels mixed by the same weights. `predict`, `evaluate`
and `call(training=False)` are the plain model; the weights are the model's own.
"""

import threading
from typing import NamedTuple

import keras
import tensorflow as tf

from tfaug import ops
from tfaug import random as tfr
from tfaug import validation as v
from tfaug.ops.dtypes import from_float
from tfaug.ops.dtypes import to_float
from tfaug.ops.mixing import PAIRINGS

_SPARSE_LOSSES = ("sparse_categorical_crossentropy", "SparseCategoricalCrossentropy")


class Mixing(NamedTuple):
    """One training step's draw: where to mix, by how much, with whom.

    Attributes:
        point: int32 scalar, index into `ManifoldMixup.mix_points` (0 is the input with `include_input`).
        lam: float32 `[B]`, the weight of each sample's own hidden state and label.
        partner: int32 `[B]`, the sample each one is mixed with.
    """

    point: tf.Tensor
    lam: tf.Tensor
    partner: tf.Tensor


@keras.saving.register_keras_serializable(package="recipes")
class ManifoldMixup(keras.Model):
    """Trains `model` with Manifold Mixup: `h_k <- lam h_k + (1 - lam) h_k[partner]`, labels likewise.

    Each training step draws (seeded, stateless):
    - the mixing point `k`, uniformly among `mix_points`: the model's input (with `include_input=True`,
      as in the paper) and the outputs of the named `layers`, in graph order;
    - `lam ~ Beta(alpha, alpha)`, per sample by default (one draw per batch with `batchwise=True`, as in
      the paper's code);
    - a partner for every sample (`pairing`).
    The model then runs with the hidden state after point `k` replaced by `lam h + (1 - lam) h[partner]`
    (broadcast over all but the batch axis), and the labels are mixed by the same `lam` and partner:
    sparse class ids `[B]` / `[B, 1]` become one-hot with `num_classes` taken from the model's output.

    How it runs: the model is cut at the named layers into consecutive sub-models (`keras.Model` from one
    intermediate tensor to the next) that share the model's layers, hence its weights. A training forward
    pass runs the segments one after another and, after each mixing point, a `tf.cond` that mixes only
    at the chosen one: one forward pass and one mixing, whichever point is drawn, in every execution mode
    (XLA included). The step's draw reaches `call` through `train_step`, which draws it, mixes the labels
    and hands over to `keras.Model.train_step` (loss scaling, distribution, metrics unchanged). BatchNorm,
    Dropout and every other layer run with `training=True` as in plain training. Under a distribution
    strategy each replica draws its own mixing for its share of the batch. Building the segments adds
    call records (nodes) to the model's layers, as any `keras.Model` built on its tensors does; the
    model's computation and its saved file are unchanged.

    Only a cut point can be mixed: a layer every path from the input to the output goes through. Mixing
    a layer that a skip connection bypasses would mix one branch of a residual block and not the other,
    so such a layer raises `ValueError` (name the block's output, e.g. the `Add`, instead). A layer
    called more than once in the graph is cut at its first call. Layers inside a nested model are not
    reachable by name; name the nested model itself or rebuild the graph flat.

    Why `lam` per sample by default: tfaug draws every mixing weight per sample (MixUp, CutMix); each
    step then covers the Beta distribution instead of one value of it. `batchwise=True` gives the
    paper's single `lam` per batch. The partner defaults to a random cyclic permutation (no sample mixed
    with itself; the paper's code used a plain permutation, which leaves about one per batch unmixed).

    Loss: `compile` defaults to `CategoricalCrossentropy(from_logits=True)` on the mixed labels (the
    paper's code used binary cross-entropy on softmax outputs); a model ending in softmax needs
    `loss=keras.losses.CategoricalCrossentropy()`. Sparse losses are refused: mixed labels are dense,
    and class ids are made one-hot wherever Keras computes the loss or metrics (`evaluate` included).

    Args:
        model: a built functional or Sequential `keras.Model` with one input and one output
            `[batch, num_classes]`; the model being trained (its weights are shared, not copied).
        layers: names of the layers after which hidden states may be mixed (a list of str). Default ().
        include_input: whether the input itself is a mixing point. Default True (the paper).
        alpha: Beta concentration, > 0. Default 2.0 (the paper's CIFAR value).
        batchwise: one `lam` per batch instead of per sample. Default False.
        pairing: `"permute"` (default, random cyclic permutation), `"flip"` (i <-> B-1-i) or `"roll"`
            (i <- i-1).
        seed: int or None, seeds the per-step draws (`[seed, step]`).
        **kwargs: `keras.Model` arguments (`name`, ...).

    Input/output: `call(x)` returns `model(x)`; in `fit`, `x` is what the model takes and `y` sparse
    class ids or dense labels `[batch, num_classes]`.

    Raises:
        ValueError: `model` not a functional/Sequential `keras.Model`, or with several inputs or outputs;
            a name in `layers` the model lacks (the available names are listed), repeated, or not a cut
            point; `layers` empty with `include_input=False`; `alpha <= 0`; a bad `pairing`,
            `batchwise` or `include_input`; a sparse `loss` given to `compile`; labels of another shape.

    Example:
        >>> trainer = ManifoldMixup(model, layers=["stage1", "stage2"], alpha=2.0, seed=0)
        >>> trainer.compile(optimizer="sgd", metrics=["accuracy"])
        >>> trainer.fit(train_ds, epochs=10)   # trains `model`
        >>> model.save("model.keras")          # the plain classifier

    Reference:
        Verma et al. "Manifold Mixup: Better Representations by Interpolating Hidden States", ICML 2019.
    """

    def __init__(
        self,
        model,
        *,
        layers=(),
        include_input=True,
        alpha=2.0,
        batchwise=False,
        pairing="permute",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.alpha = v.check_positive("alpha", alpha)
        if not isinstance(include_input, bool):
            raise ValueError(f"`include_input` must be a bool, got {include_input!r}.")
        if not isinstance(batchwise, bool):
            raise ValueError(f"`batchwise` must be a bool, got {batchwise!r}.")
        self.include_input = include_input
        self.batchwise = batchwise
        self.pairing = v.check_choice("pairing", pairing, PAIRINGS)
        self.seed = tfr.make_seed(seed)
        input_tensor, output_tensor = _graph_ends(model)
        self.num_classes = _num_classes(output_tensor)
        cut_layers = _cut_layers(model, layers, output_tensor)
        if not cut_layers and not include_input:
            raise ValueError("`layers` must name at least one layer when `include_input` is False, got none.")
        self.model = model
        self.layer_names = tuple(layer.name for layer in cut_layers)
        self.mix_points = (("<input>",) if include_input else ()) + self.layer_names
        self._prefix, self._segments = _segments(input_tensor, output_tensor, cut_layers, include_input)
        self._input_dtype = input_tensor.dtype
        self._seeds = tfr.SeedGenerator(self.seed)
        # Per thread: MirroredStrategy runs each replica's step in a thread of its own.
        self._step = threading.local()

    def call(self, inputs, training=None):
        mixing = getattr(self._step, "mixing", None)
        if training and mixing is not None:
            return self.mixed_call(inputs, mixing, training=True)
        return self.model(inputs, training=training)

    def draw(self, seed, batch_size):
        """The mixing of one step from a `[2]` seed: point, `lam` and partners for `batch_size` samples."""
        point_seed, lam_seed, partner_seed = tf.unstack(tfr.split_seed(seed, 3))
        point = tfr.randint(point_seed, [], 0, len(self.mix_points))
        lam = tfr.beta(lam_seed, [1] if self.batchwise else [batch_size], self.alpha)
        lam = tf.broadcast_to(lam, [batch_size])
        if self.pairing == "permute":
            partner = tfr.derangement(partner_seed, batch_size)
        else:
            partner = ops.fixed_partner(batch_size, self.pairing)
        # A sample paired with itself (a batch of one) stays exactly as it is.
        lam = tf.where(tf.equal(partner, tf.range(batch_size, dtype=partner.dtype)), 1.0, lam)
        return Mixing(point=point, lam=lam, partner=partner)

    def mixed_call(self, inputs, mixing, training=True):
        """The model's forward pass with the hidden state at `mix_points[mixing.point]` mixed."""
        # In the input's own dtype, as the model would take it: uint8 images are mixed as floats, unrounded.
        hidden = tf.cast(inputs, self._input_dtype)
        hidden = self._prefix(hidden, training=training) if self._prefix is not None else hidden
        for index, segment in enumerate(self._segments):
            hidden = tf.cond(
                tf.equal(mixing.point, index),
                lambda h=hidden: _mix(h, mixing.lam, mixing.partner),
                lambda h=hidden: h,
            )
            hidden = segment(hidden, training=training)
        return hidden

    def dense_labels(self, labels):
        """Class ids `[B]` / `[B, 1]` as one-hot float32 `[B, num_classes]`; dense labels as float32.

        Told apart by shape (Keras may hand over class ids as floats), as Keras's losses do.
        """
        labels = tf.convert_to_tensor(labels)
        if labels.shape.rank == 1 or (labels.shape.rank == 2 and labels.shape[-1] == 1):
            return ops.one_hot(labels, self.num_classes)
        if labels.shape.rank == 2 and labels.shape[-1] == self.num_classes:
            return tf.cast(labels, tf.float32)
        raise ValueError(
            f"Labels must be class ids [batch] or [batch, 1], or dense labels [batch, {self.num_classes}]; "
            f"got shape {tuple(labels.shape)}."
        )

    def mix_labels(self, labels, mixing):
        """`lam y + (1 - lam) y[partner]` on the dense labels, the mixing of the hidden states."""
        dense = self.dense_labels(labels)
        return _mix(dense, mixing.lam, mixing.partner)

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if y is None:
            raise ValueError("Manifold Mixup needs labels `y`: they are mixed with the hidden states.")
        batch_size = tf.shape(tf.nest.flatten(x)[0])[0]
        mixing = self.draw(self._seeds.next(), batch_size)
        # `keras.Model.train_step` calls `self(x, training=True)`, which mixes as drawn here.
        self._step.mixing = mixing
        try:
            return super().train_step((x, self.mix_labels(y, mixing), sample_weight))
        finally:
            self._step.mixing = None

    # Keras also computes loss and metrics on the raw labels (`evaluate`, and building them under a
    # distribution strategy): sparse ones become one-hot there too; mixed ones pass through.
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        y = None if y is None else self.dense_labels(y)
        return super().compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        y = None if y is None else self.dense_labels(y)
        return super().compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def compile(self, optimizer="rmsprop", loss=None, **kwargs):
        """`keras.Model.compile`; `loss` defaults to `CategoricalCrossentropy(from_logits=True)`."""
        if loss is None:
            loss = keras.losses.CategoricalCrossentropy(from_logits=True)
        name = loss if isinstance(loss, str) else type(loss).__name__
        if name in _SPARSE_LOSSES:
            raise ValueError(
                f"`loss` must take dense labels (Manifold Mixup mixes them), got {loss!r}; "
                "use keras.losses.CategoricalCrossentropy(from_logits=...)."
            )
        super().compile(optimizer=optimizer, loss=loss, **kwargs)

    def compile_from_config(self, config):
        # Keras skips compiling a loaded model whose class overrides `compile`; this restores it.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "model": keras.saving.serialize_keras_object(self.model),
            "layers": list(self.layer_names),
            "include_input": self.include_input,
            "alpha": self.alpha,
            "batchwise": self.batchwise,
            "pairing": self.pairing,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        model = keras.saving.deserialize_keras_object(config.pop("model"))
        return cls(model, **config)


def _mix(x, lam, partner):
    """`lam x + (1 - lam) x[partner]` with `lam` `[B]` broadcast over the other axes, in `x`'s dtype."""
    values = to_float(x)
    weight = tf.reshape(tf.cast(lam, values.dtype), tf.concat([[-1], tf.ones([tf.rank(values) - 1], tf.int32)], 0))
    return from_float(values * weight + tf.gather(values, partner) * (1.0 - weight), x.dtype)


def _graph_ends(model):
    """The single input and output tensors of a functional or Sequential model."""
    if not isinstance(model, keras.Model):
        raise ValueError(f"`model` must be a functional or Sequential keras.Model, got {type(model).__name__}.")
    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError) as error:
        raise ValueError(
            "`model` must be a functional or built Sequential keras.Model (its graph is cut at the named "
            f"layers); {type(model).__name__} {model.name!r} has no symbolic inputs: {error}"
        ) from None
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(f"`model` must have one input and one output, got {len(inputs)} and {len(outputs)}.")
    return inputs[0], outputs[0]


def _num_classes(output):
    shape = tuple(output.shape)
    if len(shape) != 2 or shape[-1] is None or shape[-1] < 2:
        raise ValueError(
            f"`model` must output [batch, num_classes] logits or probabilities, num_classes >= 2, got shape {shape}."
        )
    return int(shape[-1])


def _cut_layers(model, names, output_tensor):
    """The named layers in graph order, after checking that each exists once, inside the model."""
    if isinstance(names, str) or not isinstance(names, (list, tuple)):
        raise ValueError(f"`layers` must be a list of layer names, got {names!r}.")
    available = [layer.name for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    for name in names:
        if not isinstance(name, str):
            raise ValueError(f"`layers` must contain layer names (str), got {name!r}.")
        if name not in available:
            raise ValueError(f"`layers` names {name!r}, which the model lacks; its layers are {available}.")
        if list(names).count(name) > 1:
            raise ValueError(f"`layers` names {name!r} more than once.")
    order = {name: index for index, name in enumerate(available)}
    layers = [model.get_layer(name) for name in sorted(names, key=order.__getitem__)]
    for layer in layers:
        if not isinstance(layer.output, keras.KerasTensor):
            raise ValueError(f"`layers` names {layer.name!r}, whose output is not a single tensor.")
        if layer.output is output_tensor:
            raise ValueError(
                f"`layers` names {layer.name!r}, the model's output layer: mixing must happen at the input or "
                "a hidden layer, as in the paper."
            )
    return layers


def _segments(input_tensor, output_tensor, cut_layers, include_input):
    """Sub-models between consecutive mixing points; the prefix runs up to the first one (None: the input).

    A sub-model from an intermediate tensor only builds when every path to its outputs passes through
    that tensor, so Keras's own graph check tells a cut point from a layer a skip connection bypasses.
    """
    cuts = ([input_tensor] if include_input else []) + [layer.output for layer in cut_layers]
    names = (["<input>"] if include_input else []) + [layer.name for layer in cut_layers]
    prefix = None if include_input else keras.Model(input_tensor, cuts[0])
    segments = []
    for index, start in enumerate(cuts):
        end = cuts[index + 1] if index + 1 < len(cuts) else output_tensor
        try:
            segments.append(keras.Model(start, end))
        except ValueError:
            raise ValueError(
                f"`layers` names {names[index]!r}, which is not a cut point of the model: a connection "
                "(a skip or a parallel branch) bypasses it, so mixing its output alone would be inconsistent. "
                "Name a layer every path goes through, such as the Add or Concatenate ending the block."
            ) from None
    return prefix, segments


__all__ = ["ManifoldMixup", "Mixing"]
