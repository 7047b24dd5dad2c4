"""Puzzle Mix kernels: the block objective, the mixing mask, the block transport and the mix itself.

Pure batched functions of their tensor arguments (no randomness): the recipe `recipes.PuzzleMix` draws the
partner, the mixing ratio and the grid size and calls these. A grid of `n x n` blocks splits an
`[H, W]` image into blocks of `H / n x W / n` pixels; block index `p = row * n + column`.
"""

import math

import tensorflow as tf

from tfaug.ops.graph_cut import grid_swap_labels


def block_mean(values, rows, columns):
    """`[B, H, W]` -> `[B, rows, columns]`: the mean over each block (`rows` divides H, `columns` W)."""
    height, width = values.shape[1], values.shape[2]
    blocks = tf.reshape(values, [-1, rows, height // rows, columns, width // columns])
    return tf.reduce_mean(blocks, axis=[2, 4])


def normalized_saliency(saliency, n):
    """Block-mean saliency on an `n x n` grid, divided by its sum per image (all zeros stays zeros)."""
    pooled = block_mean(saliency, n, n)
    return tf.math.divide_no_nan(pooled, tf.reduce_sum(pooled, axis=[1, 2], keepdims=True))


def level_prior(ratio, levels, eta, blocks):
    """`[B, levels]`: `-eta log P(level) / blocks`, P the Binomial(levels - 1, ratio) probability.

    Level `i` takes the fraction `i / (levels - 1)` of the first image, so the prior pulls the mask
    mean toward `ratio`; the `1e-8` keeps the logarithm finite at ratio 0 or 1.
    """
    ratio = tf.cast(ratio, tf.float32)[:, None]
    i = tf.range(levels, dtype=tf.float32)[None, :]
    choose = tf.constant([math.comb(levels - 1, k) for k in range(levels)], tf.float32)[None, :]
    probability = choose * ratio**i * (1.0 - ratio) ** (levels - 1 - i)
    return -eta * tf.math.log(probability + 1e-8) / blocks


def _boundary_penalty(first, second, n, axis):
    """Mean |first - second| across the block boundaries along `axis` (1: rows, 2: columns).

    `first` and `second` are pooled `[B, h, w, C]` images; the result is `[B, n - 1, n]` for rows and
    `[B, n, n - 1]` for columns, one value per pair of neighbouring blocks, `first` on the upper/left side.
    """
    size = first.shape[axis]
    k = size // n
    last = tf.gather(first, tf.range(k - 1, size - 1, k), axis=axis)
    following = tf.gather(second, tf.range(k, size, k), axis=axis)
    difference = tf.reduce_mean(tf.abs(last - following), axis=-1)
    rows, columns = (n - 1, n) if axis == 1 else (n, n - 1)
    return block_mean(difference, rows, columns)


def mask_objective(saliency1, saliency2, images1, images2, ratio, n, levels, beta, gamma, eta, neigh_size):
    """The Puzzle Mix labeling problem on an `n x n` grid: `(unary [B, n, n, L], down, right)`.

    Level `i` of `levels` puts the fraction `m = i / (levels - 1)` of image 1 in a block. Its cost is
    `m * (s2 + a1) + (1 - m) * (s1 + a2) + prior`: the normalised saliency given up, plus the data terms
    and the label prior. Neighbouring blocks with levels `i`, `j` cost `w ((i - j) / (levels - 1))^2`.
    `w` = `beta'` (label smoothness) plus the data-smoothness term: `beta' gamma` times the mean colour
    jump across the boundary, split exactly as in the reference code into per-block terms (`a1`, `a2`)
    and a weight on disagreement, and clipped at 0 so that every move is an exact minimum cut.
    `beta' = beta / n / 16`, the reference code's scaling.

    Args:
        saliency1, saliency2: `[B, H, W]` float saliency maps of the two images.
        images1, images2: `[B, H, W, C]` float images scaled to [0, 1].
        ratio: `[B]` float in [0, 1], the mixing ratio each mask is pulled toward.
        n, levels: Python ints; `neigh_size`: the pooling size for the colour jumps, in pixels.
        beta, gamma, eta: floats >= 0.
    """
    height, width = images1.shape[1], images1.shape[2]
    s1, s2 = normalized_saliency(saliency1, n), normalized_saliency(saliency2, n)
    beta = beta / n / 16.0
    pool = [min(neigh_size, height // n), min(neigh_size, width // n)]
    pooled = [tf.nn.avg_pool2d(x, pool, pool, "VALID") for x in (images2, images1)]  # index 1 = image 1
    cost1, cost2 = s2, s1
    weights = []
    for axis, pad in ((1, [[0, 0], [0, 1], [0, 0]]), (2, [[0, 0], [0, 0], [0, 1]])):
        if n == 1:
            shape = [tf.shape(s1)[0], n - 1, n] if axis == 1 else [tf.shape(s1)[0], n, n - 1]
            weights.append(tf.zeros(shape))
            continue
        pw = [[beta * gamma * _boundary_penalty(pooled[a], pooled[b], n, axis) for b in (0, 1)] for a in (0, 1)]
        after = [[0, 0], [1, 0], [0, 0]] if axis == 1 else [[0, 0], [0, 0], [1, 0]]
        cost1 = cost1 + tf.pad((pw[1][0] + pw[1][1]) / 2, pad) + tf.pad((pw[0][1] + pw[1][1]) / 2, after)
        cost2 = cost2 + tf.pad((pw[0][0] + pw[0][1]) / 2, pad) + tf.pad((pw[0][0] + pw[1][0]) / 2, after)
        disagreement = (pw[1][0] + pw[0][1] - pw[1][1] - pw[0][0]) / 2
        weights.append(tf.maximum(disagreement + beta, 0.0))
    fraction = tf.linspace(0.0, 1.0, levels)
    prior = level_prior(ratio, levels, eta, n * n)
    unary = fraction * cost1[..., None] + (1.0 - fraction) * cost2[..., None] + prior[:, None, None, :]
    return unary, weights[0], weights[1]


def level_distance(levels):
    """The `[levels, levels]` pairwise table `((i - j) / (levels - 1))^2`, as nested lists."""
    return [[((i - j) / (levels - 1)) ** 2 for j in range(levels)] for i in range(levels)]


def mixing_mask(unary, weight_down, weight_right, cycles=3):
    """`[B, n, n]` float mask in [0, 1] (the fraction of image 1 per block) minimising the objective."""
    levels = unary.shape[-1]
    labels = grid_swap_labels(unary, weight_down, weight_right, level_distance(levels), cycles=cycles)
    return tf.cast(labels, tf.float32) / float(levels - 1)


def transport_cost(m):
    """`[m*m, m*m]` squared grid distances between blocks, divided by `(m - 1)^2` (0 for m = 1)."""
    index = tf.range(m * m)
    rows, columns = tf.cast(index // m, tf.float32), tf.cast(index % m, tf.float32)
    squared = (rows[:, None] - rows[None, :]) ** 2 + (columns[:, None] - columns[None, :]) ** 2
    return squared / float(max(m - 1, 1) ** 2)


def transport_sources(region, saliency, t_eps):
    """For each block position, the block moved there: a `[B, N]` int32 permutation of `range(N)`.

    Minimises approximately `sum_p t_eps C[p, dest(p)] - saliency[p] region[dest(p)]` over permutations,
    by the reference code's rounds: every block still without a place picks its cheapest free position
    (its own when that is among the cheapest), each position goes to the cheapest of the blocks that
    picked it, and the winners keep their places. Rounds repeat until every block has a place (at most
    N), so the result is a permutation. Every region block is first claimed by itself, so its final
    occupant is at least as salient: transport never lowers the saliency inside the region.

    Args:
        region: `[B, N]` bool, True where the image is shown (mask > 0), on an `m x m` grid.
        saliency: `[B, N]` float normalised block saliency on the same grid.
        t_eps: float >= 0, weight of the transport distance.
    """
    count = region.shape[1]
    m = math.isqrt(count)
    cost = t_eps * transport_cost(m)[None] - saliency[:, :, None] * tf.cast(region, tf.float32)[:, None, :]
    eye = tf.eye(count, dtype=tf.bool)[None]
    infinity = tf.constant(float("inf"))

    def body(row_done, column_done, sources):
        free = tf.logical_and(tf.logical_not(row_done)[:, :, None], tf.logical_not(column_done)[:, None, :])
        masked = tf.where(free, cost, infinity)
        best = tf.reduce_min(masked, axis=2, keepdims=True)
        stay = tf.reduce_any(tf.logical_and(eye, tf.logical_and(free, masked <= best)), axis=2)
        pick = tf.where(stay, tf.range(count)[None, :], tf.argmin(masked, axis=2, output_type=tf.int32))
        chosen = tf.logical_and(tf.one_hot(pick, count, on_value=True, off_value=False), free)
        bids = tf.where(chosen, cost, infinity)
        winner = tf.argmin(bids, axis=1, output_type=tf.int32)  # [B, N] over positions; ties: lowest block
        taken = tf.reduce_any(chosen, axis=1)
        won = tf.logical_and(tf.one_hot(winner, count, on_value=True, off_value=False), taken[:, :, None])
        row_done = tf.logical_or(row_done, tf.reduce_any(won, axis=1))
        return row_done, tf.logical_or(column_done, taken), tf.where(taken, winner, sources)

    done = tf.zeros_like(region)
    start = (done, done, tf.zeros_like(region, tf.int32))
    _, _, sources = tf.while_loop(
        lambda rows, columns, sources: tf.logical_not(tf.reduce_all(rows)), body, start, maximum_iterations=count
    )
    return sources


def move_blocks(images, sources, m):
    """`[B, H, W, C]` with block `q` of an `m x m` grid replaced by block `sources[:, q]` of the input."""
    batch, height, width, channels = tf.shape(images)[0], images.shape[1], images.shape[2], images.shape[3]
    bh, bw = height // m, width // m
    blocks = tf.reshape(images, [batch, m, bh, m, bw, channels])
    blocks = tf.reshape(tf.transpose(blocks, [0, 1, 3, 2, 4, 5]), [batch, m * m, bh, bw, channels])
    blocks = tf.gather(blocks, sources, batch_dims=1)
    blocks = tf.transpose(tf.reshape(blocks, [batch, m, m, bh, bw, channels]), [0, 1, 3, 2, 4, 5])
    return tf.reshape(blocks, [batch, height, width, channels])


def upsample(mask, rows, columns):
    """Nearest-neighbour upsampling of a `[B, n, n]` grid to `[B, rows, columns]` (n divides both)."""
    n = mask.shape[1]
    mask = tf.repeat(mask, rows // n, axis=1)
    return tf.repeat(mask, columns // n, axis=2)
