"""Label kernels: one-hot encoding, mixing with a partner, smoothing."""

import tensorflow as tf


def one_hot(sparse_labels, num_classes, dtype=tf.float32):
    """`[B]` or `[B, 1]` integer class ids -> `[B, num_classes]` one-hot."""
    ids = tf.reshape(tf.cast(sparse_labels, tf.int32), [-1])
    return tf.one_hot(ids, num_classes, dtype=dtype)


def mix(labels, partner, weight):
    """`weight[i] * labels[i] + (1 - weight[i]) * labels[partner[i]]`."""
    w = tf.cast(weight, labels.dtype)[:, None]
    return w * labels + (1.0 - w) * tf.gather(labels, partner)


def smooth(labels, label_smoothing):
    """`(1 - eps) * y + eps / K` (on-value `1 - eps + eps/K`, off-value `eps/K`); the sum is unchanged."""
    eps = tf.cast(label_smoothing, labels.dtype)
    num_classes = tf.cast(tf.shape(labels)[-1], labels.dtype)
    return (1.0 - eps) * labels + eps / num_classes
