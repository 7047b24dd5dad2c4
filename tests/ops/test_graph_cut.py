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


def _cut_value(capacity, side):
    return capacity[side][:, ~side].sum()


def test_min_cut_is_the_largest_minimum_cut_of_random_graphs(rng):
    # Small integer capacities make many cuts tie: the result is a minimum cut (brute force over every
    # source side) and contains the source side of every other minimum cut.
    nodes, source, sink = 7, 2, 5
    capacity = rng.integers(0, 4, (12, nodes, nodes)).astype(np.float32) * (rng.uniform(size=(12, nodes, nodes)) < 0.5)
    capacity[:, np.arange(nodes), np.arange(nodes)] = 0
    sides = graph_cut.min_cut(capacity, source, sink).numpy()
    others = [u for u in range(nodes) if u not in (source, sink)]
    for b in range(len(capacity)):
        cuts = []
        for bits in itertools.product((False, True), repeat=len(others)):
            side = np.zeros(nodes, bool)
            side[source], side[others] = True, bits
            cuts.append((_cut_value(capacity[b], side), side))
        best = min(value for value, _ in cuts)
        assert sides[b, source] and not sides[b, sink]
        assert _cut_value(capacity[b], sides[b]) == best
        assert all(np.all(sides[b] >= side) for value, side in cuts if value == best)


def test_min_cut_edge_cases():
    nodes = 5
    zero = np.zeros((nodes, nodes), np.float32)
    cut_off = np.ones((nodes, nodes), np.float32)
    cut_off[0, :] = 0  # nothing leaves the source: every node that reaches the sink is on its side
    cut_off[3, :] = 0
    cut_off[:, 3] = 0  # node 3 is isolated, so it stays with the source
    star = np.zeros((nodes, nodes), np.float32)
    star[0, 1:4], star[1:4, 4] = 5.0, 2.0  # the sink arcs are the bottleneck
    sides = graph_cut.min_cut(np.stack([zero, cut_off, star]), 0, 4).numpy()
    np.testing.assert_array_equal(sides[0], [True, True, True, True, False])
    np.testing.assert_array_equal(sides[1], [True, False, False, True, False])
    np.testing.assert_array_equal(sides[2], [True, True, True, True, False])
    np.testing.assert_array_equal(graph_cut.min_cut(np.ones((2, 2, 2), np.float32), 1, 0).numpy(), [[False, True]] * 2)


def test_binary_cut_extremes_and_ties():
    shape = (1, 3, 4)
    ones, zeros = np.ones(shape, np.float32), np.zeros(shape, np.float32)
    down, right = np.full((1, 2, 4), 0.5, np.float32), np.full((1, 3, 3), 0.5, np.float32)
    costs = [(zeros, ones), (ones, zeros), (ones, ones), (zeros, zeros)]
    labels = [graph_cut.grid_binary_cut(c0, c1, down, right).numpy()[0] for c0, c1 in costs]
    np.testing.assert_array_equal(labels[0], 0)  # every block to the source
    np.testing.assert_array_equal(labels[1], 1)  # every block to the sink
    np.testing.assert_array_equal(labels[2], 0)  # ties go to label 0
    np.testing.assert_array_equal(labels[3], 0)
    # No smoothness and zero weights: each block takes its cheaper label on its own.
    cost0 = np.array([[[0.0, 1.0, 2.0, 0.5], [1.0, 0.0, 3.0, 0.0], [2.0, 2.0, 0.0, 1.0]]], np.float32)
    cost1 = np.ones(shape, np.float32)
    found = graph_cut.grid_binary_cut(cost0, cost1, 0 * down, 0 * right).numpy()[0]
    np.testing.assert_array_equal(found, (cost0[0] > 1.0).astype(np.int32))


@pytest.mark.parametrize("factor", [1e-6, 1e6])
def test_binary_cut_is_scale_free(rng, factor):
    unary, down, right = _problem(rng, 8, 3, 2, weight=1.0)
    labels = graph_cut.grid_binary_cut(unary[..., 0], unary[..., 1], down, right).numpy()
    scaled = [np.float32(factor) * a for a in (unary[..., 0], unary[..., 1], down, right)]
    np.testing.assert_array_equal(graph_cut.grid_binary_cut(*scaled).numpy(), labels)


def test_binary_cut_labels_the_fewest_blocks_1_among_tied_minima(rng):
    # Integer costs on a 3 x 4 grid tie often; the result is a minimum whose label-1 blocks are a subset
    # of those of every other minimum (brute force over all 4096 labelings).
    unary = rng.integers(0, 3, (6, 3, 4, 2)).astype(np.float32)
    down = rng.integers(0, 2, (6, 2, 4)).astype(np.float32)
    right = rng.integers(0, 2, (6, 3, 3)).astype(np.float32)
    labels = graph_cut.grid_binary_cut(unary[..., 0], unary[..., 1], down, right).numpy()
    every = np.array(list(itertools.product((0, 1), repeat=12))).reshape(-1, 3, 4)
    for b in range(len(unary)):
        energies = np.array([_energy(x, unary[b], down[b], right[b], POTTS) for x in every])
        best = energies.min()
        assert _energy(labels[b], unary[b], down[b], right[b], POTTS) == best
        assert np.all(every[energies == best] >= labels[b])
