"""Stateless, seeded samplers.

Every random quantity in tfaug is drawn here, from TensorFlow's stateless random ops keyed by an explicit
`[2]` integer seed tensor; nothing reads global random state. The same seed gives the same draw eagerly, in
`tf.function` and in `tf.data` (up to the last bit of `log` and `pow` in the Gamma and Beta samplers).
Every sampler also compiles under `tf.function(jit_compile=True)`, but there TensorFlow's XLA kernels for
the stateless ops turn the same seed into a different bit stream than its CPU kernels do (even with
`alg="philox"` on both): compiled draws follow the same distributions with different values.
"""

from tfaug.random.samplers import bernoulli
from tfaug.random.samplers import beta
from tfaug.random.samplers import derangement
from tfaug.random.samplers import gamma_log
from tfaug.random.samplers import log_uniform
from tfaug.random.samplers import normal
from tfaug.random.samplers import permutation
from tfaug.random.samplers import randint
from tfaug.random.samplers import uniform
from tfaug.random.seeds import SeedGenerator
from tfaug.random.seeds import make_seed
from tfaug.random.seeds import split_seed

__all__ = [
    "SeedGenerator",
    "bernoulli",
    "beta",
    "derangement",
    "gamma_log",
    "log_uniform",
    "make_seed",
    "normal",
    "permutation",
    "randint",
    "split_seed",
    "uniform",
]
