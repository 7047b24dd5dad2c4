"""Seeds: validation, splitting, and the per-layer call counter."""

import numpy as np
import pytest
import tensorflow as tf

from tfaug.random import SeedGenerator
from tfaug.random import make_seed
from tfaug.random import split_seed


def test_make_seed_validates():
    assert make_seed(7) == 7
    assert 0 <= make_seed(None) < 2**31
    with pytest.raises(TypeError, match="`seed` must be an int"):
        make_seed(1.5)
    with pytest.raises(TypeError, match="`seed` must be an int"):
        make_seed(True)
    for seed in (-1, 2**63):
        with pytest.raises(ValueError, match=r"`seed` must be an int in \[0, 2\*\*63\)"):
            make_seed(seed)
    assert make_seed(np.int64(5)) == 5 and type(make_seed(np.int64(5))) is int


def test_split_seed_gives_distinct_reproducible_seeds():
    seeds = split_seed(tf.constant([3, 4], tf.int64), 5).numpy()
    assert seeds.shape == (5, 2)
    assert len({tuple(s) for s in seeds}) == 5
    np.testing.assert_array_equal(split_seed(tf.constant([3, 4], tf.int64), 5).numpy(), seeds)


def test_seed_generator_sequence_is_reproducible_and_resettable():
    a, b = SeedGenerator(5), SeedGenerator(5)
    first = [a.next().numpy().tolist() for _ in range(3)]
    assert first == [b.next().numpy().tolist() for _ in range(3)]
    assert len({tuple(s) for s in first}) == 3
    a.reset()
    assert a.next().numpy().tolist() == first[0]
    assert SeedGenerator(6).next().numpy().tolist() != first[0]


def test_seed_generator_advances_inside_tf_function():
    generator = SeedGenerator(5)
    draw = tf.function(generator.next)
    assert draw().numpy().tolist() != draw().numpy().tolist()


def test_for_index_never_collides_with_call_seeds():
    generator = SeedGenerator(5)
    call_seeds = {tuple(generator.next().numpy()) for _ in range(4)}
    index_seeds = {tuple(generator.for_index(i).numpy()) for i in range(4)}
    assert len(index_seeds) == 4 and not call_seeds & index_seeds
    assert tuple(generator.for_index(2).numpy()) == tuple(SeedGenerator(5).for_index(2).numpy())
