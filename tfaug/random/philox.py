"""Philox-4x32-10 built from integer ops, so a seed gives the same bits in every execution mode.

TensorFlow's stateless random ops have a CPU kernel and an XLA kernel that turn one seed into two
different streams, so a layer would draw other values under `jit_compile=True` than eagerly. This module
computes the stream of TensorFlow's CPU (and GPU) kernels, `alg="philox"`, from 32- and 64-bit integer
adds, multiplies, shifts and xors, which TensorFlow and XLA compute alike: the bits are the same eagerly,
in `tf.function`, in `tf.data` and under XLA, and equal `tf.random.stateless_uniform`'s on CPU.

Reference: Salmon et al., "Parallel Random Numbers: As Easy as 1, 2, 3", SC 2011.
"""

import tensorflow as tf

_MULTIPLIERS = (0xD2511F53, 0xCD9E8D57)
_KEY_STEPS = (0x9E3779B9, 0xBB67AE85)
# TensorFlow scrambles a `[2]` seed into a key and counter by one Philox block under this fixed key.
_SEED_KEY = (0x3EC8F720, 0x02461E29)
_ROUNDS = 10
_LOW_WORD = 0xFFFFFFFF
# Draws of up to 256 words (the per-image parameters of a batch of 64) share one compiled shape.
_MIN_BLOCKS = 64


def _u32(value):
    return tf.constant(value, tf.uint32)


def _multiply(constant, word):
    """The high and low 32-bit words of `constant * word`, through one 64-bit product."""
    low, high = _words(tf.cast(word, tf.uint64) * tf.constant(constant, tf.uint64))
    return high, low


def _round(counter, key):
    high0, low0 = _multiply(_MULTIPLIERS[0], counter[0])
    high1, low1 = _multiply(_MULTIPLIERS[1], counter[2])
    return (
        tf.bitwise.bitwise_xor(tf.bitwise.bitwise_xor(high1, counter[1]), key[0]),
        low1,
        tf.bitwise.bitwise_xor(tf.bitwise.bitwise_xor(high0, counter[3]), key[1]),
        low0,
    )


def _next_key(key):
    return key[0] + _u32(_KEY_STEPS[0]), key[1] + _u32(_KEY_STEPS[1])


def block(counter, key, unrolled=True):
    """Philox-4x32-10 of a counter (4 uint32 tensors of one shape) under a key (2 uint32 tensors).

    Returns the 4 uint32 output words, each of the counter's shape. `unrolled=False` runs the rounds in a
    `tf.while_loop`: slower per element, but XLA compiles a tenth of the ops (for the one-block seed
    scramble, where compilation is all the cost).
    """
    if unrolled:
        for _ in range(_ROUNDS):
            counter, key = _round(counter, key), _next_key(key)
        return counter

    def body(round_, counter, key):
        return round_ + 1, _round(counter, key), _next_key(key)

    _, counter, _ = tf.while_loop(lambda round_, *_: round_ < _ROUNDS, body, (0, tuple(counter), tuple(key)))
    return counter


def _words(value):
    """The low and high uint32 words of an int64 or uint64 tensor (two's complement)."""
    value = tf.cast(value, tf.uint64)
    low = tf.cast(tf.bitwise.bitwise_and(value, tf.constant(_LOW_WORD, tf.uint64)), tf.uint32)
    high = tf.cast(tf.bitwise.right_shift(value, tf.constant(32, tf.uint64)), tf.uint32)
    return low, high


def key_and_counter(seed):
    """The key (2 words) and the counter's fixed upper words (2 words) of a `[2]` integer seed."""
    seed = tf.cast(seed, tf.int64)
    counter = (*_words(seed[0]), *_words(seed[1]))
    m0, m1, m2, m3 = block(counter, (_u32(_SEED_KEY[0]), _u32(_SEED_KEY[1])), unrolled=False)
    return (m0, m1), (m2, m3)


def _blocks(seed, counters):
    """The `4 * len(counters)` words of the blocks at `counters`, block by block (a flat uint32 tensor)."""
    key, (upper0, upper1) = key_and_counter(seed)
    zeros = tf.zeros_like(counters)
    words = block((counters, zeros, zeros + upper0, zeros + upper1), key)
    # Interleaved by four strided scatters, not `tf.stack`: XLA fuses each word's whole Philox chain into
    # a stack's consumer and recomputes it for every element.
    first = 4 * tf.range(tf.shape(counters)[0])
    out = tf.zeros(4 * tf.shape(counters)[0:1], tf.uint32)
    for offset, word in enumerate(words):
        out = tf.tensor_scatter_nd_update(out, (first + offset)[:, None], word)
    return out


_SIGNATURE = [tf.TensorSpec([2], tf.int64), tf.TensorSpec([None], tf.uint32)]
# One XLA computation per draw: as separate TensorFlow ops, the ~400 small integer ops of a draw would cost
# far more than the draw itself. Under an enclosing `jit_compile` it is inlined like any other function.
_compiled_blocks = tf.function(_blocks, input_signature=_SIGNATURE, jit_compile=True, autograph=False)
# The same ops as a TensorFlow graph, for small draws made eagerly: XLA compiles once per padded size (a
# layer's first eager call would wait for each), the graph never; its bits are the same (integer ops).
_graph_blocks = tf.function(_blocks, input_signature=_SIGNATURE, autograph=False)
#: The largest eager draw (in blocks) run as a graph: beyond it the graph's unfused passes over the words
#: outweigh one compilation.
_GRAPH_BLOCKS = 4096


def _padded(blocks):
    """`blocks` (an int32 scalar tensor) rounded up to one of 8 sizes per power of two, at least `_MIN_BLOCKS`:
    at most 1/8 of the work is padding, and a pipeline meets few distinct sizes."""
    blocks = tf.maximum(blocks, _MIN_BLOCKS)
    power = blocks - 1  # the next power of two, by smearing the highest bit down
    for shift in (1, 2, 4, 8, 16):
        power = tf.bitwise.bitwise_or(power, tf.bitwise.right_shift(power, shift))
    step = (power + 1) // 16
    return (blocks + step - 1) // step * step


def random_bits(seed, count):
    """`count` uniformly random uint32 words (a `[count]` tensor) for a `[2]` integer seed.

    Word `i` is word `i % 4` of the Philox block at counter `i // 4`: the order of TensorFlow's kernels.
    """
    count = tf.cast(count, tf.int32)
    # Padded: XLA compiles once per shape, and the words do not depend on the padding.
    counters = tf.cast(tf.range(_padded((count + 3) // 4)), tf.uint32)
    small_eager_draw = tf.executing_eagerly() and counters.shape[0] <= _GRAPH_BLOCKS
    blocks = _graph_blocks if small_eager_draw else _compiled_blocks
    return blocks(tf.cast(seed, tf.int64), counters)[:count]
