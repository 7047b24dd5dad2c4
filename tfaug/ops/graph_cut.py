"""Exact s-t minimum cuts of small dense graphs, batched and in-graph, and grid labelings built on them.

A labeling of an `n x n` grid of blocks with energy `sum_p unary_p(l_p) + sum_{p~q} w_pq d(l_p, l_q)`
(4-neighbours, `w >= 0`) is minimised exactly for two labels by one s-t minimum cut (Greig, Porteous and
Seheult 1989; Kolmogorov and Zabih 2004), and for more labels by alpha-beta swap moves (Boykov, Veksler
and Zabih 2001), each move one binary cut. The max-flow is Edmonds-Karp on a dense `[B, V, V]` residual
matrix: every step is a whole-batch tensor op inside `tf.while_loop`, so it runs eagerly, in
`tf.function` and under `jit_compile=True`, and stops when no image of the batch has an augmenting path.
Dense matrices suit the small graphs here (`V = n * n + 2`, up to 66 nodes for an 8 x 8 grid).
"""

import itertools

import tensorflow as tf


def _bfs(residual, source):
    """Breadth-first search from `source` along edges with residual > 0.

    Returns `(visited [B, V] bool, parent [B, V] int32)`; `parent[v]` is the node from which `v` was first
    reached (a shortest path), -1 where unreached.
    """
    batch, nodes = tf.shape(residual)[0], residual.shape[1]
    visited = tf.one_hot(tf.fill([batch], source), nodes, on_value=True, off_value=False, dtype=tf.bool)
    parent = tf.fill([batch, nodes], -1)
    edges = residual > 0

    def body(visited, frontier, parent):
        candidates = tf.logical_and(frontier[:, :, None], edges)
        reached = tf.logical_and(tf.reduce_any(candidates, axis=1), tf.logical_not(visited))
        via = tf.argmax(tf.cast(candidates, tf.int32), axis=1, output_type=tf.int32)
        return tf.logical_or(visited, reached), reached, tf.where(reached, via, parent)

    def cond(visited, frontier, parent):
        return tf.reduce_any(frontier)

    visited, _, parent = tf.while_loop(cond, body, (visited, visited, parent))
    return visited, parent


def _path_edges(residual, parent, found, source, sink):
    """The augmenting path from the BFS tree as a `[B, V, V]` 0/1 edge indicator, and its bottleneck."""
    nodes = residual.shape[1]
    batch_index = tf.range(tf.shape(residual)[0])
    on_path = tf.zeros_like(residual)
    bottleneck = tf.where(found, tf.reduce_max(residual, axis=[1, 2]) + 1.0, tf.zeros_like(found, tf.float32))
    current = tf.where(found, sink, source)

    def body(current, on_path, bottleneck):
        active = current != source
        previous = tf.gather(parent, current, batch_dims=1)
        previous = tf.where(active, previous, source)
        value = tf.gather_nd(residual, tf.stack([batch_index, previous, current], axis=1))
        bottleneck = tf.where(active, tf.minimum(bottleneck, value), bottleneck)
        step = tf.one_hot(previous, nodes)[:, :, None] * tf.one_hot(current, nodes)[:, None, :]
        on_path = on_path + step * tf.cast(active, step.dtype)[:, None, None]
        return previous, on_path, bottleneck

    def cond(current, on_path, bottleneck):
        return tf.reduce_any(current != source)

    _, on_path, bottleneck = tf.while_loop(cond, body, (current, on_path, bottleneck))
    return on_path, bottleneck


def min_cut(capacity, source, sink):
    """Source side of a minimum s-t cut of each graph in a batch, by Edmonds-Karp max-flow.

    Args:
        capacity: `[B, V, V]` float32, non-negative edge capacities (`capacity[b, u, v]` for u -> v).
        source, sink: Python ints, node indices.

    Returns:
        `[B, V]` bool, True for nodes on the source side of a minimum cut (reachable from the source in
        the final residual graph). The cut value is the sum of capacities from True to False nodes.
    """
    capacity = tf.convert_to_tensor(capacity, tf.float32)

    def body(residual, found):
        visited, parent = _bfs(residual, source)
        found = visited[:, sink]
        on_path, bottleneck = _path_edges(residual, parent, found, source, sink)
        flow = on_path * bottleneck[:, None, None]
        # The bottleneck edge becomes exactly zero, so each augmentation saturates an edge and the
        # shortest-path argument bounds the number of rounds even in floating point.
        residual = tf.maximum(residual - flow, 0.0) + tf.linalg.matrix_transpose(flow)
        return residual, tf.reduce_any(found)

    residual, _ = tf.while_loop(lambda residual, found: found, body, (capacity, tf.constant(True)))
    visited, _ = _bfs(residual, source)
    return visited


def grid_binary_cut(cost0, cost1, weight_down, weight_right):
    """Exact minimiser of a two-label grid energy, batched: returns `[B, n, m]` int32 labels in {0, 1}.

    Energy: `sum_p cost_{l_p}[p] + sum_{vertical p~q} weight_down [l_p != l_q]
    + sum_{horizontal p~q} weight_right [l_p != l_q]`.

    Args:
        cost0, cost1: `[B, n, m]` float, the cost of label 0 and of label 1 at each block.
        weight_down: `[B, n - 1, m]` float >= 0, between block (i, j) and (i + 1, j).
        weight_right: `[B, n, m - 1]` float >= 0, between block (i, j) and (i, j + 1).
    """
    cost0 = tf.convert_to_tensor(cost0, tf.float32)
    cost1 = tf.convert_to_tensor(cost1, tf.float32)
    batch = tf.shape(cost0)[0]
    n, m = cost0.shape[1], cost0.shape[2]
    count = n * m
    # Only the difference of the two costs matters: put it on one terminal edge per block.
    low = tf.minimum(cost0, cost1)
    to_sink = tf.reshape(cost0 - low, [batch, count])  # cut when the block is on the source side (label 0)
    from_source = tf.reshape(cost1 - low, [batch, count])  # cut when it is on the sink side (label 1)
    pair = _grid_pair_weights(weight_down, weight_right, n, m)
    capacity = tf.concat([pair, to_sink[:, :, None] * 0.0, to_sink[:, :, None]], axis=2)
    source_row = tf.concat([from_source, tf.zeros([batch, 2])], axis=1)[:, None, :]
    sink_row = tf.zeros([batch, 1, count + 2])
    capacity = tf.concat([capacity, source_row, sink_row], axis=1)
    source_side = min_cut(capacity, count, count + 1)[:, :count]
    return tf.reshape(tf.cast(tf.logical_not(source_side), tf.int32), [batch, n, m])


def _grid_pair_weights(weight_down, weight_right, n, m):
    """The symmetric `[B, n*m, n*m]` matrix of 4-neighbour weights from the two edge grids."""
    batch = tf.shape(weight_down)[0]
    index = tf.reshape(tf.range(n * m), [n, m])
    pairs = [(index[:-1, :], index[1:, :], weight_down), (index[:, :-1], index[:, 1:], weight_right)]
    total = tf.zeros([batch, n * m, n * m])
    for first, second, weight in pairs:
        first, second = tf.reshape(first, [-1]), tf.reshape(second, [-1])
        weight = tf.reshape(tf.convert_to_tensor(weight, tf.float32), [batch, -1])
        if first.shape[0] == 0:
            continue
        outer = tf.one_hot(first, n * m)[:, :, None] * tf.one_hot(second, n * m)[:, None, :]
        edges = tf.einsum("be,euv->buv", weight, outer)
        total = total + edges + tf.linalg.matrix_transpose(edges)
    return total


def grid_energy(labels, unary, weight_down, weight_right, distance):
    """Energy of `[B, n, m]` int labels: `sum unary[p, l_p] + sum w_pq distance[l_p, l_q]`, shape `[B]`.

    `unary` is `[B, n, m, L]`, `distance` an `[L, L]` matrix.
    """
    distance = tf.convert_to_tensor(distance, tf.float32)
    data = tf.reduce_sum(tf.gather(unary, labels, batch_dims=3), axis=[1, 2])
    down = tf.gather_nd(distance, tf.stack([labels[:, :-1, :], labels[:, 1:, :]], axis=-1))
    right = tf.gather_nd(distance, tf.stack([labels[:, :, :-1], labels[:, :, 1:]], axis=-1))
    return data + tf.reduce_sum(down * weight_down, axis=[1, 2]) + tf.reduce_sum(right * weight_right, axis=[1, 2])


def grid_swap_labels(unary, weight_down, weight_right, distance, cycles=3):
    """Minimises a multi-label grid energy by alpha-beta swap moves, batched: `[B, n, m]` int32 labels.

    Each move takes two labels (a, b) and relabels every block now labelled a or b with a or b, optimally
    (one exact binary cut, the other blocks held fixed); a cycle tries every pair once. Starts from each
    block's cheapest unary label. With two labels the single move is the exact global minimum. With more
    labels the result is a local minimum that no swap move improves once the moves stop changing it
    (`cycles` caps the number of cycles). `distance` must be a semi-metric (symmetric, zero exactly on
    the diagonal), for example `(i - j)^2`.

    Args:
        unary: `[B, n, m, L]` float, the cost of each label at each block.
        weight_down, weight_right: as in `grid_binary_cut`, >= 0.
        distance: `[L, L]` nested list of floats.
        cycles: Python int >= 1, the most sweeps over all label pairs.
    """
    unary = tf.convert_to_tensor(unary, tf.float32)
    weight_down = tf.convert_to_tensor(weight_down, tf.float32)
    weight_right = tf.convert_to_tensor(weight_right, tf.float32)
    levels = unary.shape[-1]
    labels = tf.argmin(unary, axis=-1, output_type=tf.int32)
    if levels == 1:
        return labels
    pairs = tf.constant(list(itertools.combinations(range(levels), 2)), tf.int32)
    count = pairs.shape[0]
    moves = count if levels == 2 else cycles * count
    table = tf.constant(distance, tf.float32)

    # One traced move in a loop, not one per pair and cycle: the graph (and XLA's compile) stays small.
    def body(k, still, labels):
        a, b = pairs[k % count, 0], pairs[k % count, 1]
        moved = _swap_move(labels, unary, weight_down, weight_right, table, a, b)
        same = tf.reduce_all(tf.equal(moved, labels))
        return k + 1, tf.where(same, still + 1, 0), moved

    def cond(k, still, labels):
        return tf.logical_and(k < moves, still < count)

    _, _, labels = tf.while_loop(cond, body, (tf.constant(0), tf.constant(0), labels))
    return labels


def _swap_move(labels, unary, weight_down, weight_right, table, a, b):
    """One optimal a-b swap: blocks labelled a or b choose between a and b, the others stay."""
    moving = tf.logical_or(tf.equal(labels, a), tf.equal(labels, b))
    moving_f = tf.cast(moving, tf.float32)
    cost = [tf.gather(unary, a, axis=-1), tf.gather(unary, b, axis=-1)]
    # A neighbour that keeps its label adds w * d(new, its label) to the block's own cost.
    for k, label in enumerate((a, b)):
        to_fixed = tf.gather(tf.gather(table, label), labels)  # d(label, l_q) for every block q
        fixed = to_fixed * (1.0 - moving_f)
        extra = tf.pad(weight_down * fixed[:, 1:, :], [[0, 0], [0, 1], [0, 0]])
        extra += tf.pad(weight_down * fixed[:, :-1, :], [[0, 0], [1, 0], [0, 0]])
        extra += tf.pad(weight_right * fixed[:, :, 1:], [[0, 0], [0, 0], [0, 1]])
        extra += tf.pad(weight_right * fixed[:, :, :-1], [[0, 0], [0, 0], [1, 0]])
        cost[k] = (cost[k] + extra) * moving_f
    step = table[a, b]
    down = weight_down * step * moving_f[:, 1:, :] * moving_f[:, :-1, :]
    right = weight_right * step * moving_f[:, :, 1:] * moving_f[:, :, :-1]
    choice = grid_binary_cut(cost[0], cost[1], down, right)
    return tf.where(moving, tf.where(choice == 1, b, a), labels)
