"""Seeds: a per-layer call counter turned into stateless `[2]` seed tensors."""

import numbers
import os

import tensorflow as tf

from tfaug.random.philox import random_bits

_SEED_DTYPE = tf.int64


def make_seed(seed=None):
    """Returns a Python int seed: `seed` itself, or fresh OS entropy when `seed` is None."""
    if seed is None:
        return int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"`seed` must be an int or None, got {seed!r} of type {type(seed).__name__}.")
    if not 0 <= seed < 2**63:
        raise ValueError(f"`seed` must be an int in [0, 2**63), got {seed}.")
    return int(seed)


def split_seed(seed, num):
    """Splits a `[2]` seed tensor into `num` independent `[2]` int64 seeds (a `[num, 2]` tensor).

    The values of `tf.random.experimental.stateless_split` (each int64 is two consecutive words, low
    first), computed alike in every execution mode.
    """
    words = tf.reshape(tf.cast(random_bits(seed, 4 * num), tf.uint64), [num, 2, 2])
    joined = tf.bitwise.bitwise_or(words[..., 0], tf.bitwise.left_shift(words[..., 1], tf.constant(32, tf.uint64)))
    return tf.cast(joined, _SEED_DTYPE)


def fold_in(seed, data):
    """A new `[2]` int64 seed from a `[2]` seed and an integer scalar `data` (a replica or element id)."""
    return tf.stack([split_seed(seed, 1)[0, 0], tf.cast(data, _SEED_DTYPE)])


class SeedGenerator:
    """Hands out one fresh stateless seed per call: `[seed, call_count]`.

    The counter is a `tf.Variable`, so a layer called inside `tf.function`, `tf.data` or an XLA-compiled
    model still gets a new seed every call, and two generators built with the same `seed` produce the same
    sequence of seeds. The variable is plain TensorFlow (not a Keras variable), which keeps layers usable
    in `tf.data` whatever Keras backend is active.
    """

    def __init__(self, seed=None):
        self.seed = make_seed(seed)
        with tf.init_scope():
            self._count = tf.Variable(
                0,
                dtype=_SEED_DTYPE,
                trainable=False,
                name="tfaug_seed_counter",
                synchronization=tf.VariableSynchronization.ON_READ,
                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
            )

    def next(self):
        """Returns a `[2]` int64 seed tensor and advances the counter.

        Under a `tf.distribute` strategy each replica keeps its own counter; the replica id is folded into
        the seed so that replicas draw different parameters for their shares of the global batch.
        """
        count = self._count.assign_add(1)
        seed = tf.stack([tf.constant(self.seed, _SEED_DTYPE), count])
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            replica = tf.cast(context.replica_id_in_sync_group, tf.int32)
            seed = fold_in(seed, replica)
        return seed

    def for_index(self, index):
        """Returns the seed for element `index` of a dataset (counter-free, order-independent)."""
        index = tf.cast(index, _SEED_DTYPE)
        # Negative second word: never collides with the counter's seeds, which start at 1.
        return tf.stack([tf.constant(self.seed, _SEED_DTYPE), -1 - index])

    def reset(self):
        """Restarts the seed sequence (the next call gets the same seed as the first one did)."""
        self._count.assign(0)
