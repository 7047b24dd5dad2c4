"""Exact s-t minimum cuts of small graphs (dense or 4-neighbour grids), batched and in-graph, and grid labelings.

A labeling of an `n x n` grid of blocks with energy `sum_p unary_p(l_p) + sum_{p~q} w_pq d(l_p, l_q)`
(4-neighbours, `w >= 0`) is minimised exactly for two labels by one s-t minimum cut (Greig, Porteous and
Seheult 1989; Kolmogorov and Zabih 2004), and for more labels by alpha-beta swap moves (Boykov, Veksler
and Zabih 2001), each move one binary cut. The max-flow is a synchronous push-relabel (Goldberg and
Tarjan 1988) with periodic global relabelling: every node of every image of the batch pushes and relabels
at once, so each step is a few whole-batch tensor ops inside `tf.while_loop`; it runs eagerly, in
`tf.function` and under `jit_compile=True`, and stops when no image has a node with excess that can still
reach the sink. Grid cuts use the grid's 4-neighbour arcs (`[B, n, m, 4]`); `min_cut` takes any small
dense `[B, V, V]` graph.
"""

import itertools

import tensorflow as tf

# Flows and residual capacities at or below this fraction of an image's largest capacity count as zero:
# float rounding leaves crumbs of that order, which must neither keep a node active nor keep an arc open.
_TOLERANCE = 1e-6
# Push-relabel steps between two global relabellings: the levels drift from the true distances as flow
# moves, and an exact relabelling (a breadth-first search) costs about as much as a few steps.
_RELABEL_EVERY = 8


class _Dense:
    """Arcs between every pair of `V` nodes: arc `k` of node `u` goes to node `k`; `[B, V, V]` arrays."""

    def heads(self, values, fill):
        del fill
        return tf.broadcast_to(values[:, None, :], tf.concat([tf.shape(values), tf.shape(values)[1:]], 0))

    def reverse(self, arcs):
        return tf.linalg.matrix_transpose(arcs)


class _Grid:
    """Arcs from each block of an `[n, m]` grid to its 4 neighbours (up, down, left, right), `[B, n, m, 4]`.

    Arcs that would leave the grid exist with capacity zero.
    """

    def heads(self, values, fill):
        padded = tf.pad(values, [[0, 0], [1, 1], [1, 1]], constant_values=fill)
        up, down = padded[:, :-2, 1:-1], padded[:, 2:, 1:-1]
        left, right = padded[:, 1:-1, :-2], padded[:, 1:-1, 2:]
        return tf.stack([up, down, left, right], axis=-1)

    def reverse(self, arcs):
        # The arc up from (i, j) is the reverse of the arc down from (i - 1, j), and so on.
        padded = tf.pad(arcs, [[0, 0], [1, 1], [1, 1], [0, 0]])
        up = padded[:, :-2, 1:-1, 1]
        down = padded[:, 2:, 1:-1, 0]
        left = padded[:, 1:-1, :-2, 3]
        right = padded[:, 1:-1, 2:, 2]
        return tf.stack([up, down, left, right], axis=-1)


def _preflow_cut(graph, arcs, to_sink, excess):
    """Nodes on the source side of a minimum cut, by synchronous push-relabel with global relabelling.

    The source is implicit: its arcs are already saturated into `excess` (the flow each node receives from
    it). `arcs` holds the capacities between nodes (in `graph`'s layout), `to_sink` those to the sink.
    Every step is one whole-batch update: each active node (excess left, sink still reachable) pushes its
    excess greedily along admissible arcs (to nodes one level closer to the sink), then each node still
    active lifts its level to one above its lowest residual neighbour. Levels are reset to the exact
    residual distances to the sink (a breadth-first search) every few steps. At the end the preflow is
    maximum (Goldberg and Tarjan 1988) and the nodes that cannot reach the sink in the residual graph
    form the source side of a minimum cut.
    """
    count = 1
    for size in excess.shape[1:]:
        count *= size
    unreachable = float(count + 1)
    axes = list(range(1, len(excess.shape)))
    scale = tf.maximum(
        tf.maximum(tf.reduce_max(arcs, axis=axes + [len(axes) + 1]), tf.reduce_max(to_sink, axis=axes)),
        tf.reduce_max(excess, axis=axes),
    )
    tolerance = _TOLERANCE * scale
    for _ in axes:
        tolerance = tolerance[:, None]

    def distances(arcs, to_sink):
        level = tf.where(to_sink > tolerance, 1.0, unreachable)

        def body(level, changed):
            through = tf.where(arcs > tolerance[..., None], graph.heads(level, unreachable) + 1.0, unreachable)
            lower = tf.minimum(level, tf.reduce_min(through, axis=-1))
            return lower, tf.reduce_any(lower < level)

        level, _ = tf.while_loop(lambda level, changed: changed, body, (level, tf.constant(True)))
        return level

    def active(excess, level):
        return tf.logical_and(excess > tolerance, level < unreachable)

    def step(arcs, to_sink, excess, level):
        moving = active(excess, level)
        neighbour = graph.heads(level, unreachable)
        admissible = tf.logical_and(arcs > tolerance[..., None], tf.equal(neighbour, level[..., None] - 1.0))
        admissible = tf.logical_and(admissible, moving[..., None])
        sink_open = tf.logical_and(tf.logical_and(to_sink > tolerance, tf.equal(level, 1.0)), moving)
        room = tf.concat([tf.where(sink_open, to_sink, 0.0)[..., None], tf.where(admissible, arcs, 0.0)], -1)
        before = tf.math.cumsum(room, axis=-1, exclusive=True)
        push = tf.minimum(room, tf.maximum(excess[..., None] - before, 0.0))
        to_sink = to_sink - push[..., 0]
        sent = push[..., 1:]
        arcs = arcs - sent + graph.reverse(sent)
        excess = excess - tf.reduce_sum(push, axis=-1) + tf.reduce_sum(graph.reverse(sent), axis=-1)
        through = tf.where(arcs > tolerance[..., None], neighbour + 1.0, unreachable)
        lowest = tf.minimum(tf.reduce_min(through, axis=-1), tf.where(to_sink > tolerance, 1.0, unreachable))
        level = tf.where(active(excess, level), tf.maximum(level, lowest), level)
        return arcs, to_sink, excess, level

    def body(arcs, to_sink, excess, busy):
        level = distances(arcs, to_sink)

        def inner(k, arcs, to_sink, excess, level):
            return (k + 1,) + step(arcs, to_sink, excess, level)

        def going(k, arcs, to_sink, excess, level):
            return tf.logical_and(k < _RELABEL_EVERY, tf.reduce_any(active(excess, level)))

        _, arcs, to_sink, excess, level = tf.while_loop(going, inner, (0, arcs, to_sink, excess, level))
        return arcs, to_sink, excess, tf.reduce_any(active(excess, level))

    arcs, to_sink, excess, _ = tf.while_loop(
        lambda arcs, to_sink, excess, busy: busy, body, (arcs, to_sink, excess, tf.constant(True))
    )
    return distances(arcs, to_sink) >= unreachable


def min_cut(capacity, source, sink):
    """Source side of a minimum s-t cut of each graph in a batch, by push-relabel max-flow.

    Args:
        capacity: `[B, V, V]` float32, non-negative edge capacities (`capacity[b, u, v]` for u -> v).
        source, sink: Python ints, distinct node indices.

    Returns:
        `[B, V]` bool, True for nodes on the source side of a minimum cut: the source and every node that
        cannot reach the sink in the residual graph of a maximum flow. The cut value is the sum of
        capacities from True to False nodes; it is minimal up to float rounding (flows below `1e-6` of the
        largest capacity of the graph count as zero).
    """
    capacity = tf.convert_to_tensor(capacity, tf.float32)
    nodes = capacity.shape[1]
    others = [u for u in range(nodes) if u not in (source, sink)]
    if not others:
        return tf.tile(tf.constant([[u == source for u in range(nodes)]]), [tf.shape(capacity)[0], 1])
    inner = tf.gather(tf.gather(capacity, others, axis=1), others, axis=2)
    to_sink = tf.gather(capacity[:, :, sink], others, axis=1)
    excess = tf.gather(capacity[:, source, :], others, axis=1)
    side = _preflow_cut(_Dense(), inner, to_sink, excess)
    # Scatter back to all V nodes: the source True, the sink False.
    position = {u: k for k, u in enumerate(others)}
    columns = [
        tf.fill([tf.shape(capacity)[0]], u == source) if u in (source, sink) else side[:, position[u]]
        for u in range(nodes)
    ]
    return tf.stack(columns, axis=1)


def grid_binary_cut(cost0, cost1, weight_down, weight_right):
    """Exact minimiser of a two-label grid energy, batched: returns `[B, n, m]` int32 labels in {0, 1}.

    Energy: `sum_p cost_{l_p}[p] + sum_{vertical p~q} weight_down [l_p != l_q]
    + sum_{horizontal p~q} weight_right [l_p != l_q]`. The minimum cut runs on the grid's own 4-neighbour
    arcs (`[B, n, m, 4]`), not on a dense matrix; ties go to label 0.

    Args:
        cost0, cost1: `[B, n, m]` float, the cost of label 0 and of label 1 at each block.
        weight_down: `[B, n - 1, m]` float >= 0, between block (i, j) and (i + 1, j).
        weight_right: `[B, n, m - 1]` float >= 0, between block (i, j) and (i, j + 1).
    """
    cost0 = tf.convert_to_tensor(cost0, tf.float32)
    cost1 = tf.convert_to_tensor(cost1, tf.float32)
    down = tf.convert_to_tensor(weight_down, tf.float32)
    right = tf.convert_to_tensor(weight_right, tf.float32)
    # Only the difference of the two costs matters: put it on one terminal arc per block.
    low = tf.minimum(cost0, cost1)
    to_sink = cost0 - low  # cut when the block is on the source side (label 0)
    from_source = cost1 - low  # cut when it is on the sink side (label 1)
    arcs = tf.stack(
        [
            tf.pad(down, [[0, 0], [1, 0], [0, 0]]),
            tf.pad(down, [[0, 0], [0, 1], [0, 0]]),
            tf.pad(right, [[0, 0], [0, 0], [1, 0]]),
            tf.pad(right, [[0, 0], [0, 0], [0, 1]]),
        ],
        axis=-1,
    )
    source_side = _preflow_cut(_Grid(), arcs, to_sink, from_source)
    return tf.cast(tf.logical_not(source_side), tf.int32)


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
