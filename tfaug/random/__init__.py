"""Stateless, seeded samplers that draw the same values in every execution mode.

Every random quantity in tfaug is drawn here, from an explicit `[2]` integer seed tensor; nothing reads
global random state. The bits come from tfaug's own Philox generator (`tfaug.random.philox`), built from
integer ops that TensorFlow and XLA compute alike, so a seed gives the same draw eagerly, in
`tf.function`, in `tf.data` and under `jit_compile=True` (TensorFlow's own stateless ops give another
stream under XLA). Uniform, Bernoulli, integer, permutation draws and seed splits are identical to the
bit; draws through `log`, `sin` and `pow` (normal, Gamma, Beta) to within a few float32 ulps, the
difference between TensorFlow's and XLA's elementary functions. On CPU the bits equal those of
`tf.random.stateless_uniform` with the same seed.
"""

from tfaug.random.poisson import poisson
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
from tfaug.random.seeds import fold_in
from tfaug.random.seeds import make_seed
from tfaug.random.seeds import split_seed

__all__ = [
    "SeedGenerator",
    "bernoulli",
    "beta",
    "derangement",
    "fold_in",
    "gamma_log",
    "log_uniform",
    "make_seed",
    "normal",
    "permutation",
    "poisson",
    "randint",
    "split_seed",
    "uniform",
]
