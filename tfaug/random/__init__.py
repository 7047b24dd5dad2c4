"""Stateless, seeded samplers.

Every random quantity in tfaug is drawn here, from TensorFlow's stateless random ops keyed by an explicit
`[2]` integer seed tensor. The same seed gives the same draw on CPU, in `tf.data`, and under
`tf.function(jit_compile=True)`; nothing reads global random state.
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
