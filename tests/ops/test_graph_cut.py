"""Graph cuts: the batched in-graph min cut against brute force over every labeling."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from tfaug.ops import graph_cut


def _energy(labels, unary, down, right, distance):
    distance = np.asarray(distance)
    data = np.take_along_axis(unary, labels[..., None], axis=-1).sum()
    pair = (down * distance[labels[1:], labels[:-1]]).sum() + (right * distance[labels[:, 1:], labels[:, :-1]]).sum()
    return data + pair


def _brute_force(unary, down, right, distance):
    n, m, levels = unary.shape
    return min(
        _energy(np.array(bits).reshape(n, m), unary, down, right, distance)
        for bits in itertools.product(range(levels), repeat=n * m)
    )


def _problem(rng, batch, n, levels, weight=0.6):
    unary = rng.uniform(0, 1, (batch, n, n, levels)).astype(np.float32)
    down = rng.uniform(0, weight, (batch, n - 1, n)).astype(np.float32)
    right = rng.uniform(0, weight, (batch, n, n - 1)).astype(np.float32)
    return unary, down, right


POTTS = [[0.0, 1.0], [1.0, 0.0]]


@pytest.mark.parametrize("n", [2, 3])
def test_binary_cut_reaches_the_brute_force_minimum(rng, n):
    unary, down, right = _problem(rng, 8, n, 2, weight=1.0)
    labels = graph_cut.grid_binary_cut(unary[..., 0], unary[..., 1], down, right).numpy()
    for b in range(len(unary)):
        found = _energy(labels[b], unary[b], down[b], right[b], POTTS)
        assert found == pytest.approx(_brute_force(unary[b], down[b], right[b], POTTS), abs=1e-5)
    energies = graph_cut.grid_energy(labels, unary, down, right, POTTS).numpy()
    np.testing.assert_allclose(energies, [_energy(*args, POTTS) for args in zip(labels, unary, down, right)], 1e-5)


def test_min_cut_value_equals_known_max_flow():
    # The classic CLRS flow network, maximum flow 23.
    capacity = np.zeros((6, 6), np.float32)
    for u, w, c in [(0, 1, 16), (0, 2, 13), (1, 3, 12), (2, 1, 4), (2, 4, 14), (3, 2, 9), (3, 5, 20), (4, 3, 7)]:
        capacity[u, w] = c
    capacity[4, 5] = 4
    side = graph_cut.min_cut(capacity[None], 0, 5).numpy()[0]
    assert side[0] and not side[5]
    assert capacity[side][:, ~side].sum() == 23


def test_swap_moves_are_optimal_moves(rng):
    # Three levels on a 2 x 2 grid: no single a-b swap of the result lowers the energy (checked by brute
    # force over every a/b relabeling), and two levels give the global minimum.
    distance = [[((i - j) / 2) ** 2 for j in range(3)] for i in range(3)]
    unary, down, right = _problem(rng, 6, 2, 3)
    labels = graph_cut.grid_swap_labels(unary, down, right, distance, cycles=5).numpy()
    for b in range(len(unary)):
        found = _energy(labels[b], unary[b], down[b], right[b], distance)
        assert found <= _energy(unary[b].argmin(-1), unary[b], down[b], right[b], distance) + 1e-6
        for a, c in itertools.combinations(range(3), 2):
            movable = np.isin(labels[b], (a, c))
            for bits in itertools.product((a, c), repeat=int(movable.sum())):
                other = labels[b].copy()
                other[movable] = bits
                assert found <= _energy(other, unary[b], down[b], right[b], distance) + 1e-5


def test_binary_cut_is_the_same_under_xla(rng):
    unary, down, right = _problem(rng, 4, 3, 2)
    eager = graph_cut.grid_binary_cut(unary[..., 0], unary[..., 1], down, right)
    compiled = tf.function(graph_cut.grid_binary_cut, jit_compile=True)(unary[..., 0], unary[..., 1], down, right)
    np.testing.assert_array_equal(eager.numpy(), compiled.numpy())


@pytest.mark.slow
def test_swap_is_the_same_under_xla(rng):
    distance = [[((i - j) / 2) ** 2 for j in range(3)] for i in range(3)]
    unary, down, right = _problem(rng, 4, 3, 3)
    eager = graph_cut.grid_swap_labels(unary, down, right, distance)
    compiled = tf.function(lambda *a: graph_cut.grid_swap_labels(*a, distance), jit_compile=True)(unary, down, right)
    np.testing.assert_array_equal(eager.numpy(), compiled.numpy())
