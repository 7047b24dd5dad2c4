"""Class-balanced weights and losses, LDAM and deferred re-weighting: hand-computed values on two or three
classes, the papers' reference formulas in float64 NumPy, and weight switching inside a compiled `fit`."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from recipes import ClassBalancedLoss
from recipes import DeferredReweighting
from recipes import LDAMLoss
from recipes import class_balanced_weights

LN2, LN3 = np.log(2.0), np.log(3.0)
ONE_HOT = np.eye(2, dtype=np.float32)  # sample 0 of class 0, sample 1 of class 1
# Counts [3, 1] with beta 0.5: (0.5 / 0.875, 0.5 / 0.5) = (4/7, 1), scaled to sum 2.
W = np.array([8 / 11, 14 / 11])


def _log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def _softplus(x):
    return np.logaddexp(0.0, x)


# --- class_balanced_weights ---------------------------------------------------------------------------------


def test_class_balanced_weights_hand_values():
    np.testing.assert_allclose(class_balanced_weights([3, 1], 0.5), W, rtol=1e-6)
    # (1, 2/3, 8/15) scaled to sum 3.
    np.testing.assert_allclose(class_balanced_weights(np.array([1, 2, 4]), 0.5), [15 / 11, 10 / 11, 8 / 11], rtol=1e-6)
    assert class_balanced_weights([3, 1], 0.5).dtype == np.float32


@pytest.mark.parametrize("beta", [0.9, 0.99, 0.999, 0.9999])
def test_class_balanced_weights_sum_to_k_and_follow_the_formula(beta):
    counts = np.array([5000, 1200, 300, 70, 12, 1])
    weights = class_balanced_weights(counts, beta)
    assert weights.sum() == pytest.approx(len(counts), rel=1e-6)
    want = (1 - beta) / (1 - beta ** counts.astype(np.float64))
    np.testing.assert_allclose(weights, want / want.sum() * len(counts), rtol=1e-6)
    # Rarer classes weigh at least as much (classes far above 1 / (1 - beta) samples weigh the same).
    assert np.all(np.diff(weights) >= 0) and weights[-1] > 5 * weights[0]


def test_beta_limits_equal_weights_and_inverse_frequency():
    counts = [400, 20, 1]
    np.testing.assert_array_equal(class_balanced_weights(counts, 0.0), np.ones(3, np.float32))
    np.testing.assert_allclose(class_balanced_weights(counts, 1e-9), np.ones(3), rtol=1e-6)
    inverse = 1.0 / np.array(counts)
    np.testing.assert_allclose(class_balanced_weights(counts, 1 - 1e-9), inverse / inverse.sum() * 3, rtol=1e-5)


# --- ClassBalancedLoss -----------------------------------------------------------------------------------------

# Logits (0, ln 3): softmax (1/4, 3/4); sigmoid (1/2, 3/4).
X = np.array([[0.0, LN3], [0.0, LN3]], np.float32)
HAND = {
    # -log softmax of the true class: ln 4 for class 0, ln 4/3 for class 1.
    "softmax": [W[0] * 2 * LN2, W[1] * (2 * LN2 - LN3)],
    # Both classes' BCE: class 0 true: -ln 1/2 - ln 1/4; class 1 true: -ln 1/2 - ln 3/4.
    "sigmoid": [W[0] * 3 * LN2, W[1] * (3 * LN2 - LN3)],
    # gamma 2: positive (1-p)^2 (-ln p), negative p^2 (-ln(1-p)).
    "focal": [
        W[0] * (LN2 / 4 + (9 / 16) * 2 * LN2),
        W[1] * (LN2 / 4 + (1 / 16) * (2 * LN2 - LN3)),
    ],
}


@pytest.mark.parametrize("kind", sorted(HAND))
def test_class_balanced_loss_hand_values(kind):
    per_sample = ClassBalancedLoss([3, 1], beta=0.5, loss=kind, gamma=2.0, reduction=None)(ONE_HOT, X)
    np.testing.assert_allclose(per_sample, HAND[kind], rtol=1e-6)
    mean = ClassBalancedLoss([3, 1], beta=0.5, loss=kind, gamma=2.0)(ONE_HOT, X)
    np.testing.assert_allclose(mean, np.mean(HAND[kind]), rtol=1e-6)


def _cui_reference(labels, logits, weights, kind, gamma):
    """The class-balanced reference code's loss on one-hot labels, in float64: per-sample weights of the true
    class tiled over the classes; sigmoid and focal summed and divided by the number of positive labels."""
    alpha = (labels * weights).sum(-1, keepdims=True)
    if kind == "softmax":
        return np.mean(alpha[:, 0] * -(labels * _log_softmax(logits)).sum(-1))
    bce = labels * _softplus(-logits) + (1 - labels) * _softplus(logits)
    modulator = np.exp(-gamma * labels * logits - gamma * np.log1p(np.exp(-logits))) if kind == "focal" else 1.0
    return (alpha * modulator * bce).sum() / labels.sum()


@pytest.mark.parametrize(("kind", "gamma"), [("softmax", 0.0), ("sigmoid", 0.0), ("focal", 0.5), ("focal", 2.0)])
def test_class_balanced_loss_matches_the_reference_formula_on_one_hot_labels(kind, gamma):
    rng = np.random.default_rng(0)
    logits, labels = rng.normal(size=(6, 3)) * 2, np.eye(3)[[0, 1, 2, 2, 1, 0]]
    counts = [50, 7, 2]
    loss = ClassBalancedLoss(counts, beta=0.99, loss=kind, gamma=gamma, dtype="float64")
    want = _cui_reference(labels, logits, class_balanced_weights(counts, 0.99).astype(np.float64), kind, gamma)
    np.testing.assert_allclose(loss(labels, logits), want, rtol=1e-6)


def test_beta_zero_is_keras_own_loss():
    rng = np.random.default_rng(1)
    logits, labels = rng.normal(size=(5, 3)) * 2, np.eye(3)[[0, 1, 2, 1, 1]]

    def cb(kind):
        return float(ClassBalancedLoss([9, 3, 1], beta=0.0, loss=kind, gamma=2.0, dtype="float64")(labels, logits))

    def keras_loss(loss):
        return float(loss(labels, logits))

    assert cb("softmax") == pytest.approx(keras_loss(keras.losses.CategoricalCrossentropy(from_logits=True)), 1e-6)
    # Keras averages the binary losses over the classes; the class-balanced loss sums them.
    assert cb("sigmoid") == pytest.approx(3 * keras_loss(keras.losses.BinaryCrossentropy(from_logits=True)), 1e-6)
    focal = keras.losses.BinaryFocalCrossentropy(gamma=2.0, from_logits=True)
    assert cb("focal") == pytest.approx(3 * keras_loss(focal), 1e-6)


# --- Soft labels -----------------------------------------------------------------------------------------------

SOFT = np.array([[0.7, 0.2, 0.1], [0.0, 0.4, 0.6]])
SOFT_LOGITS = np.array([[1.5, -0.5, 0.2], [-1.0, 0.3, 2.0]])
SOFT_COUNTS = [40, 6, 2]


def test_soft_labels_follow_the_documented_generalisation():
    w = class_balanced_weights(SOFT_COUNTS, 0.9).astype(np.float64)
    sample_w = SOFT @ w
    p, x = 1 / (1 + np.exp(-SOFT_LOGITS)), SOFT_LOGITS
    want = {
        "softmax": sample_w * -(SOFT * _log_softmax(x)).sum(-1),
        "sigmoid": sample_w * -(SOFT * np.log(p) + (1 - SOFT) * np.log(1 - p)).sum(-1),
        "focal": sample_w * -(SOFT * (1 - p) ** 2 * np.log(p) + (1 - SOFT) * p**2 * np.log(1 - p)).sum(-1),
    }
    for kind, values in want.items():
        loss = ClassBalancedLoss(SOFT_COUNTS, beta=0.9, loss=kind, reduction=None, dtype="float64")
        np.testing.assert_allclose(loss(SOFT, SOFT_LOGITS), values, rtol=1e-6, err_msg=kind)
    # gamma 0 makes the focal loss the sigmoid loss, for soft labels too.
    focal = ClassBalancedLoss(SOFT_COUNTS, beta=0.9, loss="focal", gamma=0.0, reduction=None, dtype="float64")
    np.testing.assert_allclose(focal(SOFT, SOFT_LOGITS), want["sigmoid"], rtol=1e-6)

    ldam = LDAMLoss(SOFT_COUNTS, max_margin=0.5, scale=4.0, beta=0.9, reduction=None, dtype="float64")
    shifted = 4.0 * (SOFT_LOGITS - SOFT * ldam.margins.astype(np.float64))
    np.testing.assert_allclose(ldam(SOFT, SOFT_LOGITS), sample_w * -(SOFT * _log_softmax(shifted)).sum(-1), rtol=1e-6)


def test_ldam_soft_form_reduces_to_the_paper_on_one_hot_labels():
    # The paper's index form: only the true class's logit loses its margin; weight of the true class.
    rng = np.random.default_rng(2)
    logits, classes = rng.normal(size=(6, 3)), np.array([0, 1, 2, 2, 1, 0])
    loss = LDAMLoss(SOFT_COUNTS, scale=5.0, beta=0.99, reduction=None, dtype="float64")
    margins, w = loss.margins.astype(np.float64), class_balanced_weights(SOFT_COUNTS, 0.99).astype(np.float64)
    rows = np.arange(6)
    shifted = logits.copy()
    shifted[rows, classes] -= margins[classes]
    want = w[classes] * -_log_softmax(5.0 * shifted)[rows, classes]
    np.testing.assert_allclose(loss(np.eye(3)[classes], logits), want, rtol=1e-6)


# --- LDAM -------------------------------------------------------------------------------------------------------


def test_ldam_margins():
    # n^(-1/4) = (1, 1/2, 1/3, 1/10), scaled so the largest is max_margin.
    loss = LDAMLoss([1, 16, 81, 10000], max_margin=0.5)
    np.testing.assert_allclose(loss.margins, [0.5, 0.25, 1 / 6, 0.05], rtol=1e-6)
    np.testing.assert_allclose(LDAMLoss([16, 1], max_margin=2.0).margins, [1.0, 2.0], rtol=1e-6)


def test_ldam_hand_values_and_weighting():
    # Margins (0.25, 0.5), scale 2: logits become (1, 1) for sample 0 and (0, ln 3) for sample 1.
    logits = np.array([[0.75, 0.5], [0.0, 0.5 + LN3 / 2]], np.float32)
    per_sample = [LN2, 2 * LN2 - LN3]
    loss = LDAMLoss([16, 1], max_margin=0.5, scale=2.0)
    np.testing.assert_allclose(LDAMLoss([16, 1], scale=2.0, reduction=None)(ONE_HOT, logits), per_sample, rtol=1e-6)
    np.testing.assert_allclose(loss(ONE_HOT, logits), np.mean(per_sample), rtol=1e-6)
    # Weighted: averaged over the batch size (Keras), not over the sum of the batch's weights (PyTorch).
    loss.class_weights.assign([0.25, 1.25])
    weighted = 0.25 * per_sample[0] + 1.25 * per_sample[1]
    np.testing.assert_allclose(loss(ONE_HOT, logits), weighted / 2, rtol=1e-6)
    assert abs(weighted / 2 - weighted / 1.5) > 0.05
    # Without the margins this would be plain cross-entropy of the scaled logits: the margins matter.
    plain = keras.losses.CategoricalCrossentropy(from_logits=True)(ONE_HOT, 2.0 * logits)
    assert float(plain) < np.mean(per_sample) - 0.1


@pytest.mark.parametrize("kind", ["softmax", "sigmoid", "focal", "ldam"])
def test_eager_tf_function_and_xla_agree(kind):
    if kind == "ldam":
        loss = LDAMLoss(SOFT_COUNTS, scale=4.0, beta=0.9)
    else:
        loss = ClassBalancedLoss(SOFT_COUNTS, beta=0.9, loss=kind, gamma=0.5)
    labels, logits = SOFT.astype(np.float32), SOFT_LOGITS.astype(np.float32)
    eager = loss(labels, logits)
    graph = tf.function(loss.__call__)(labels, logits)
    xla = tf.function(loss.__call__, jit_compile=True)(labels, logits)
    np.testing.assert_allclose(graph, eager, rtol=1e-6)
    np.testing.assert_allclose(xla, eager, rtol=1e-5)


@pytest.mark.parametrize("kind", ["softmax", "sigmoid", "focal", "ldam"])
def test_extreme_logits_give_finite_losses_and_gradients(kind):
    # The focal factors are written as exp(-gamma * softplus(.)): gamma < 1 has no 0^gamma to differentiate.
    loss = LDAMLoss(SOFT_COUNTS) if kind == "ldam" else ClassBalancedLoss(SOFT_COUNTS, loss=kind, gamma=0.5)
    logits = tf.Variable([[-90.0, 0.0, 90.0], [90.0, 90.0, -90.0]])
    with tf.GradientTape() as tape:
        value = loss(SOFT.astype(np.float32), logits)
    assert np.isfinite(value.numpy()) and np.all(np.isfinite(tape.gradient(value, logits).numpy()))


# --- DeferredReweighting inside fit -------------------------------------------------------------------------------

FIT_X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.5, -1.0]], np.float32)
FIT_Y = np.eye(2, dtype=np.float32)[[0, 0, 0, 1]]
FIT_COUNTS = [30, 2]


class _CountingLDAM(LDAMLoss):
    """Counts Python executions of `call`: once per trace inside a compiled function."""

    traces = 0

    def call(self, y_true, y_pred):
        self.traces += 1
        return super().call(y_true, y_pred)


def _linear_model(kernel):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    model.set_weights([kernel, np.zeros(2, np.float32)])
    return model


KERNEL = np.array([[1.0, -0.5], [0.2, 0.3]], np.float32)


def _drw_fit(jit_compile):
    """A model whose logits stay fixed (learning rate 0), so each epoch's loss shows the weights it read."""
    loss = _CountingLDAM(FIT_COUNTS, scale=3.0)
    model = _linear_model(KERNEL)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss=loss, jit_compile=jit_compile)
    plain = float(LDAMLoss(FIT_COUNTS, scale=3.0)(FIT_Y, FIT_X @ KERNEL))
    deferred = float(LDAMLoss(FIT_COUNTS, scale=3.0, beta=0.999)(FIT_Y, FIT_X @ KERNEL))
    assert deferred > plain + 0.3  # the rare class's sample weighs far more
    return model, loss, plain, deferred


@pytest.mark.parametrize("jit_compile", [False, True])
def test_drw_switches_weights_at_the_start_epoch_inside_fit(jit_compile):
    model, loss, plain, deferred = _drw_fit(jit_compile)
    drw = DeferredReweighting(loss, start_epoch=2, beta=0.999)
    history = model.fit(FIT_X, FIT_Y, batch_size=4, epochs=4, shuffle=False, verbose=0, callbacks=[drw])
    np.testing.assert_allclose(history.history["loss"], [plain, plain, deferred, deferred], rtol=1e-5)
    np.testing.assert_allclose(loss.class_weights.numpy(), class_balanced_weights(FIT_COUNTS, 0.999), rtol=1e-6)
    assert loss.traces == 1  # one trace of the train step for all four epochs


def test_drw_restarted_and_resumed_fits():
    model, loss, plain, deferred = _drw_fit(jit_compile=False)
    drw = DeferredReweighting(loss, start_epoch=1, beta=0.999)
    history = model.fit(FIT_X, FIT_Y, batch_size=4, epochs=2, verbose=0, callbacks=[drw])
    np.testing.assert_allclose(history.history["loss"], [plain, deferred], rtol=1e-5)
    # A new fit from epoch 0 goes back to the weights the loss had; one resumed past start_epoch switches.
    history = model.fit(FIT_X, FIT_Y, batch_size=4, epochs=1, verbose=0, callbacks=[drw])
    np.testing.assert_allclose(history.history["loss"], [plain], rtol=1e-5)
    history = model.fit(FIT_X, FIT_Y, batch_size=4, initial_epoch=3, epochs=4, verbose=0, callbacks=[drw])
    np.testing.assert_allclose(history.history["loss"], [deferred], rtol=1e-5)
    assert loss.traces == 1


def test_mirrored_strategy_matches_one_device():
    # Two replicas of 4 samples against one device with 8: same losses and same SGD updates, with DRW
    # switching the (mirrored) weights variable for the second epoch.
    rng = np.random.default_rng(3)
    x = rng.normal(size=(8, 2)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[[0, 0, 1, 0, 0, 1, 0, 0]]
    kernel = rng.normal(size=(2, 2)).astype(np.float32)
    mirrored = tf.distribute.MirroredStrategy(
        ["/cpu:0", "/cpu:1"], cross_device_ops=tf.distribute.ReductionToOneDevice()
    )
    results = []
    for strategy in (tf.distribute.get_strategy(), mirrored):
        with strategy.scope():
            model = _linear_model(kernel)
            loss = LDAMLoss([6, 2], scale=3.0)
            model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5), loss=loss, jit_compile=False)
            drw = DeferredReweighting(loss, start_epoch=1, beta=0.99)
            history = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, callbacks=[drw])
        results.append((history.history["loss"], model.get_weights()))
    assert mirrored.num_replicas_in_sync == 2
    (loss_one, w_one), (loss_two, w_two) = results
    np.testing.assert_allclose(loss_two, loss_one, rtol=1e-5)
    assert np.abs(w_one[0] - kernel).max() > 1e-2  # a 2x-too-large update would fail the next line
    for one, two in zip(w_one, w_two):
        np.testing.assert_allclose(two, one, rtol=1e-5, atol=1e-6)


# --- Serialisation and bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "loss",
    [
        ClassBalancedLoss([7, 3, 1], beta=0.9, loss="focal", gamma=0.5, reduction="sum", name="cb"),
        LDAMLoss(np.array([7, 3, 1]), max_margin=0.3, scale=10.0, beta=0.5, dtype="float64"),
    ],
    ids=["class_balanced", "ldam"],
)
def test_serialisation_round_trip(loss):
    config = loss.get_config()
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert type(restored) is type(loss)
    assert restored.get_config() == config == type(loss).from_config(config).get_config()
    assert config["class_counts"] == [7, 3, 1]
    np.testing.assert_array_equal(restored.class_weights.numpy(), loss.class_weights.numpy())
    np.testing.assert_array_equal(restored(SOFT, SOFT_LOGITS), loss(SOFT, SOFT_LOGITS))


BAD_ARGUMENTS = [
    (lambda: class_balanced_weights([3, 1], 1.0), "beta"),
    (lambda: class_balanced_weights([3, 1], -0.1), "beta"),
    (lambda: class_balanced_weights([3, 1], float("nan")), "beta"),
    (lambda: class_balanced_weights([3, 0], 0.9), "class_counts"),
    (lambda: class_balanced_weights([3, -1], 0.9), "class_counts"),
    (lambda: class_balanced_weights([3, float("inf")], 0.9), "class_counts"),
    (lambda: class_balanced_weights([], 0.9), "class_counts"),
    (lambda: class_balanced_weights([[3, 1]], 0.9), "class_counts"),
    (lambda: class_balanced_weights(["3", "1"], 0.9), "class_counts"),
    (lambda: ClassBalancedLoss([3, 1], beta=1.5), "beta"),
    (lambda: ClassBalancedLoss([3, 0]), "class_counts"),
    (lambda: ClassBalancedLoss([3, 1], loss="hinge"), "loss"),
    (lambda: ClassBalancedLoss([3, 1], loss="focal", gamma=-1.0), "gamma"),
    (lambda: ClassBalancedLoss([3, 1], loss="focal", gamma=float("inf")), "gamma"),
    (lambda: LDAMLoss([3, 1], scale=0.0), "scale"),
    (lambda: LDAMLoss([3, 1], scale=float("nan")), "scale"),
    (lambda: LDAMLoss([3, 1], max_margin=0.0), "max_margin"),
    (lambda: LDAMLoss([3, 1], max_margin=float("inf")), "max_margin"),
    (lambda: LDAMLoss([3, 1], beta=1.0), "beta"),
    (lambda: LDAMLoss([3, None]), "class_counts"),
    (lambda: DeferredReweighting(LDAMLoss([3, 1]), start_epoch=-1), "start_epoch"),
    (lambda: DeferredReweighting(LDAMLoss([3, 1]), start_epoch=1.5), "start_epoch"),
    (lambda: DeferredReweighting(LDAMLoss([3, 1]), start_epoch=1, beta=1.0), "beta"),
    (lambda: DeferredReweighting(keras.losses.CategoricalCrossentropy(), start_epoch=1), "loss"),
]


@pytest.mark.parametrize(("make", "argument"), BAD_ARGUMENTS)
def test_bad_arguments(make, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        make()


@pytest.mark.parametrize("loss", [ClassBalancedLoss([3, 2, 1]), LDAMLoss([3, 2, 1])], ids=["class_balanced", "ldam"])
def test_wrong_number_of_classes_at_the_call(loss):
    with pytest.raises(ValueError, match="`y_pred` must have the 3 classes"):
        loss(np.eye(3, dtype=np.float32), np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match="`y_true` must have the 3 classes"):
        loss(np.zeros((3, 1), np.float32), np.zeros((3, 3), np.float32))
    with pytest.raises(ValueError, match="`y_true` must be one-hot or soft labels"):
        loss(np.array([0.0, 1.0, 2.0], np.float32), np.zeros((3, 3), np.float32))  # integer labels
