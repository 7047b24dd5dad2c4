"""Textures for the weather corruptions: fog's plasma fractal, a synthetic frost, spatter's water shading.

The random textures are drawn per image from a `[2]` seed with `tfaug.random`, for a whole batch at once,
and their parameters may differ per image (`[B]` tensors). The water shading is deterministic: OpenCV's
steps (Canny, distance transform, histogram equalisation) as batched tensor ops.
"""

import math

import numpy as np
import tensorflow as tf

from tfaug import random as tfr
from tfaug.corruptions._filters import filter2d
from tfaug.ops._xla import image_barrier

# The plasma fractal's first displacement, as in the reference (`wibble = 100`); the map is normalised
# to [0, 1] afterwards, so only its decay per level shapes the result.
_WIBBLE = 100.0


def next_power_of_two(n):
    return 1 << (int(n) - 1).bit_length()


def plasma_fractal(seed, batch, size, decay):
    """Diamond-square height maps, one per image: float32 `[B, size, size]` in [0, 1] (min 0, max 1).

    `size` is a static power of two; `decay` (`[B]`) divides the displacement amplitude at each level
    (the reference's `wibbledecay`). Each level refines the grid of the previous one: the centre of every
    square is the mean of its four corners plus a uniform displacement in `[-w**2, w**2]` (the reference's
    `w * uniform(-w, w)`), then every edge midpoint the mean of its two corners and two neighbouring
    centres plus one, with the grid wrapping around as in the reference's `np.roll`.
    """
    levels = int(math.log2(size))
    # One draw for every level: level l takes the 3 * 4**l values after the 4**l - 1 of the levels before.
    draws = tfr.uniform(seed, [batch, 4**levels - 1], -1.0, 1.0)
    grid = tf.zeros([batch, 1, 1])
    wibble = tf.fill([batch], _WIBBLE)
    for level in range(levels):
        n = 1 << level
        # [3, B, n, n]: displacements of the centres, top edge midpoints and left edge midpoints.
        noise = tf.reshape(draws[:, n * n - 1 : 4 * n * n - 1], [batch, 3, n, n])
        noise = tf.transpose(noise, [1, 0, 2, 3]) * (wibble * wibble)[None, :, None, None]
        right = tf.roll(grid, -1, axis=2)
        centre = (grid + tf.roll(grid, -1, axis=1) + right + tf.roll(right, -1, axis=1)) / 4 + noise[0]
        # Top midpoint (i, j + 1/2): corners (i, j), (i, j + 1); centres (i - 1/2, j + 1/2), (i + 1/2, j + 1/2).
        top = (grid + right + centre + tf.roll(centre, 1, axis=1)) / 4 + noise[1]
        # Left midpoint (i + 1/2, j): corners (i, j), (i + 1, j); centres (i + 1/2, j -+ 1/2).
        left = (grid + tf.roll(grid, -1, axis=1) + centre + tf.roll(centre, 1, axis=2)) / 4 + noise[2]
        even_rows = tf.reshape(tf.stack([grid, top], axis=-1), [batch, n, 2 * n])
        odd_rows = tf.reshape(tf.stack([left, centre], axis=-1), [batch, n, 2 * n])
        # Every level reads the last one several times: fused, XLA would recompute all earlier levels.
        grid = image_barrier(tf.reshape(tf.stack([even_rows, odd_rows], axis=2), [batch, 2 * n, 2 * n]))
        wibble = wibble / decay
    low = tf.reduce_min(grid, axis=[1, 2], keepdims=True)
    high = tf.reduce_max(grid, axis=[1, 2], keepdims=True)
    return (grid - low) / (high - low)


# Frost: (length, width, weight, turn) of the needle octaves of each crystal domain, in texture pixels. The
# main needles run along the domain's angle, shorter side branches at +-60 degrees, as in dendritic ice.
_NEEDLES = ((60.0, 5.0, 0.5, 0.0), (14.0, 1.8, 0.3, math.pi / 3), (14.0, 1.8, 0.3, -math.pi / 3))
_DOMAINS = 3
_DOMAIN_CELL = 60.0
_DOMAIN_SHARPNESS = 12.0
_COVER_CELL = 120.0
# Ridges of the needle noise: (1 - |2n - 1|) ** _RIDGE keeps thin bright lines where the noise crosses 1/2.
_RIDGE = 8
# Colour of the photographs the reference crops from: green level uniform in this range, blue a little
# above it, red below it by a skewed amount (most photographs are grey-blue, one is cyan).
_GREEN = (0.28, 0.86)
_BLUE_OVER_GREEN = 0.045
_RED_UNDER_GREEN = 0.36
# Contrast of the crystals (their mean is removed), and of the slow variation in how bright they are.
_CRYSTAL_CONTRAST = 0.62
_COVER_CONTRAST = 0.14


def _grid(height, width, scale):
    """Pixel centres in texture pixels, `[1, H, W]` each (row and column)."""
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    return tf.constant(rows[None] * scale, tf.float32), tf.constant(cols[None] * scale, tf.float32)


def _lattice(height, width, cell, scale):
    """(columns, rows) of a lattice of `cell = (length, width)` texture pixels that covers the image's
    diagonal in any direction, with a cell to spare on each side."""
    diagonal = math.hypot(height, width) * scale
    return tuple(int(math.ceil(diagonal / size)) + 2 for size in cell)


def lattice_noise(draws, height, width, lattice, cell, angle, scale):
    """Value noise stretched along `angle`, one map per row: float32 `[N, H, W]` in [0, 1].

    Row `n` is a lattice of `lattice[n] = (columns, rows)` points spaced `cell[n] = (length, width)` texture
    pixels apart, turned by `angle[n]` (radians) and shifted at random, with uniform values interpolated by
    a smoothstep. `draws`: `[N, K + 2]` uniforms on [0, 1), the lattice's values (the first
    `columns * rows` of K) and its shift. `scale`: texture pixels per image pixel. A lattice from
    `_lattice` wraps around only beyond the image's diagonal, so it never repeats inside an image.
    """
    count = tf.shape(draws)[0]
    values, shift = draws[:, :-2], draws[:, -2:, None, None]
    columns, rows = lattice[:, 0, None, None], lattice[:, 1, None, None]
    length, width_ = cell[:, 0, None, None], cell[:, 1, None, None]
    y, x = _grid(height, width, scale)
    cos, sin = tf.cos(angle)[:, None, None], tf.sin(angle)[:, None, None]
    u = (cos * x + sin * y) / length + shift[:, 0] * tf.cast(columns, tf.float32)
    v = (cos * y - sin * x) / width_ + shift[:, 1] * tf.cast(rows, tf.float32)
    u0, v0 = tf.floor(u), tf.floor(v)
    fu, fv = u - u0, v - v0
    fu, fv = fu * fu * (3.0 - 2.0 * fu), fv * fv * (3.0 - 2.0 * fv)
    u0, v0 = tf.cast(u0, tf.int32), tf.cast(v0, tf.int32)

    def corner(dv, du):
        index = tf.math.floormod(v0 + dv, rows) * columns + tf.math.floormod(u0 + du, columns)
        flat = tf.gather(values, tf.reshape(index, [count, height * width]), batch_dims=1)
        return tf.reshape(flat, [count, height, width])

    top_left, bottom_left = corner(0, 0), corner(1, 0)
    upper = top_left + (corner(0, 1) - top_left) * fu
    lower = bottom_left + (corner(1, 1) - bottom_left) * fu
    return upper + (lower - upper) * fv


def frost_texture(seed, batch, height, width, scale):
    """A synthetic frost photograph per image: float32 RGB `[B, H, W, 3]` in [0, 1].

    Needle-like crystals (ridged, stretched value noise in a few domains of random direction, with side
    branches at 60 degrees) on a grey-blue ground whose brightness and tint are drawn per image to match
    the spread of the reference's frost photographs. `scale`: texture pixels per image pixel. All noise
    maps are computed as one batch of lattices, from one draw.
    """
    needles = len(_NEEDLES)
    domain_cell, cover_cell = (_DOMAIN_CELL, _DOMAIN_CELL), (_COVER_CELL, _COVER_CELL)
    # The maps: the needles of each domain, the domains' weights, the cover.
    cells = [needle[:2] for _ in range(_DOMAINS) for needle in _NEEDLES] + [domain_cell] * _DOMAINS + [cover_cell]
    lattices = [_lattice(height, width, cell, scale) for cell in cells]
    size = max(columns * rows for columns, rows in lattices) + 2
    maps = len(cells)
    draws = tfr.uniform(seed, [batch, maps * size + _DOMAINS + 2])
    lattice_draws = tf.reshape(
        tf.transpose(tf.reshape(draws[:, : maps * size], [batch, maps, size]), [1, 0, 2]), [-1, size]
    )
    angles, colour = draws[:, maps * size : maps * size + _DOMAINS] * math.pi, draws[:, maps * size + _DOMAINS :]
    turns = [angles[:, d] + turn for d in range(_DOMAINS) for *_, turn in _NEEDLES]
    map_angles = tf.concat(turns + [2.0 * angles[:, d] for d in range(_DOMAINS)] + [tf.zeros([batch])], axis=0)

    def per_map(table, dtype):
        return tf.repeat(tf.constant(table, dtype), batch, axis=0)

    noise = lattice_noise(
        lattice_draws, height, width, per_map(lattices, tf.int32), per_map(cells, tf.float32), map_angles, scale
    )
    noise = tf.reshape(noise, [maps, batch, height, width])
    ridges = (1.0 - tf.abs(2.0 * noise[: _DOMAINS * needles] - 1.0)) ** _RIDGE
    weights = tf.constant([needle[2] for needle in _NEEDLES] * _DOMAINS, tf.float32)[:, None, None, None]
    layers = tf.reduce_sum(tf.reshape(ridges * weights, [_DOMAINS, needles, batch, height, width]), axis=1)
    # Each pixel takes mostly the needles of the domain whose noise is highest there: soft borders.
    domains = tf.nn.softmax(_DOMAIN_SHARPNESS * noise[_DOMAINS * needles : -1], axis=0)
    crystals = tf.reduce_sum(domains * layers, axis=0)
    crystals = crystals - tf.reduce_mean(crystals, axis=[1, 2], keepdims=True)
    cover = noise[-1]
    shade = _CRYSTAL_CONTRAST * crystals * (0.5 + cover) + _COVER_CONTRAST * (cover - 0.5)
    green = _GREEN[0] + (_GREEN[1] - _GREEN[0]) * colour[:, 0]
    red = green - _RED_UNDER_GREEN * colour[:, 1] ** 3
    ground = tf.stack([red, green, green + _BLUE_OVER_GREEN], axis=-1)[:, None, None, :]
    return tf.clip_by_value(ground + shade[..., None], 0.0, 1.0)


# Spatter's water shading: OpenCV's Canny thresholds, the distance at which it truncates, the 5 x 5 chamfer
# weights of its L2 distance transform and its emboss kernel.
_CANNY_LOW = 50
_CANNY_HIGH = 150
_DISTANCE_LIMIT = 20
_CHAMFER = {(0, 1): 1.0, (1, 1): 1.4, (1, 2): 2.1969}
_EMBOSS = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], np.float32)
_SOBEL = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32)
# tan(22.5 degrees) in Canny's 15-bit fixed point.
_TAN_22 = 13573
_CANNY_SHIFT = 15


def _neighbour(padded, height, width, dy, dx, pad=1):
    """The value at (y + dy, x + dx) for every pixel, from a map padded by `pad` on both sides."""
    return padded[:, pad + dy : pad + dy + height, pad + dx : pad + dx + width]


def _dilate(mask):
    return tf.nn.max_pool2d(tf.cast(mask, tf.float32), 3, 1, "SAME") > 0.0


def canny(levels):
    """OpenCV's `Canny(levels, 50, 150)` on uint8 levels held in float32 `[B, H, W, 1]`: a boolean edge map.

    Sobel gradients with the edge pixels repeated, the L1 magnitude, non-maximum suppression along the
    gradient quantised to four directions (with OpenCV's fixed-point tangents and its tie rules), and
    hysteresis: the pixels above the low threshold that survive suppression and are 8-connected to one
    above the high threshold, grown until nothing changes.
    """
    height, width = levels.shape[1], levels.shape[2]
    dx = filter2d(levels, _SOBEL, mode="nearest")
    dy = filter2d(levels, _SOBEL.T, mode="nearest")
    magnitude = tf.abs(dx) + tf.abs(dy)
    padded = tf.pad(magnitude, [[0, 0], [1, 1], [1, 1], [0, 0]])

    def beyond(dy_, dx_, strict):
        other = _neighbour(padded, height, width, dy_, dx_)
        return magnitude > other if strict else magnitude >= other

    ax, ay = tf.cast(tf.abs(dx), tf.int32), tf.cast(tf.abs(dy), tf.int32)
    tan22 = ax * _TAN_22
    ay = ay * (1 << _CANNY_SHIFT)
    across = ay < tan22
    along = ay > tan22 + ax * (1 << (_CANNY_SHIFT + 1))
    same_sign = (dx < 0.0) == (dy < 0.0)
    horizontal = beyond(0, -1, True) & beyond(0, 1, False)
    vertical = beyond(-1, 0, True) & beyond(1, 0, False)
    falling = beyond(-1, -1, True) & beyond(1, 1, True)
    rising = beyond(-1, 1, True) & beyond(1, -1, True)
    diagonal = tf.where(same_sign, falling, rising)
    peak = tf.where(across, horizontal, tf.where(along, vertical, diagonal))
    candidate = peak & (magnitude > _CANNY_LOW)
    strong = candidate & (magnitude > _CANNY_HIGH)

    def grow(edges, _):
        grown = candidate & _dilate(edges)
        return grown, tf.reduce_any(grown != edges)

    edges, _ = tf.while_loop(lambda _, changed: changed, grow, (strong, tf.constant(True)))
    return edges


def chamfer_distance(edges, limit=_DISTANCE_LIMIT):
    """OpenCV's `distanceTransform(DIST_L2, 5)` to the nearest edge pixel, truncated at `limit`.

    The 5 x 5 chamfer distance is the cheapest path of unit, diagonal and knight's moves; `limit` rounds of
    relaxing every pixel against its 16 neighbours find every path up to `limit` long (each move is at
    least 1), and whatever stays above is truncated anyway. Outside the image counts as no edge.
    """
    height, width = edges.shape[1], edges.shape[2]
    far = float(limit + 10)
    moves = []
    for (a, b), weight in _CHAMFER.items():
        for dy, dx in sorted({(a, b), (b, a), (-a, b), (b, -a), (a, -b), (-b, a), (-a, -b), (-b, -a)}):
            moves.append((dy, dx, weight))
    distance = tf.where(edges, 0.0, far)

    def relax(step, distance):
        padded = tf.pad(distance, [[0, 0], [2, 2], [2, 2], [0, 0]], constant_values=far)
        nearest = [_neighbour(padded, height, width, dy, dx, pad=2) + weight for dy, dx, weight in moves]
        return step + 1, tf.reduce_min(tf.stack([distance] + nearest), axis=0)

    _, distance = tf.while_loop(lambda step, _: step < limit, relax, (tf.constant(0), distance))
    return tf.minimum(distance, float(limit))


def equalize_levels(levels, count):
    """OpenCV's `equalizeHist` per image on integer levels `0..count - 1` held in float32 `[B, H, W, 1]`.

    The lowest level present maps to 0 and level `k` to `round(255 * (cdf(k) - n_low) / (n - n_low))`, in
    float32 as OpenCV computes it; an image of one level is returned unchanged.
    """
    batch = tf.shape(levels)[0]
    index = tf.cast(tf.reshape(levels, [batch, -1]), tf.int32)
    counts = tf.reduce_sum(tf.one_hot(index, count, dtype=tf.int32), axis=1)
    total = tf.reduce_sum(counts, axis=1, keepdims=True)
    lowest = tf.gather(counts, tf.argmax(counts > 0, axis=1, output_type=tf.int32), batch_dims=1)[:, None]
    scale = 255.0 / tf.cast(tf.maximum(total - lowest, 1), tf.float32)
    table = tf.round(tf.cast(tf.cumsum(counts, axis=1) - lowest, tf.float32) * scale)
    table = tf.where(lowest == total, tf.range(count, dtype=tf.float32)[None], tf.maximum(table, 0.0))
    return tf.reshape(tf.gather(table, index, batch_dims=1), tf.shape(levels))


def water_shading(levels):
    """Spatter's shading of its water drops from the liquid layer in uint8 levels (float32 `[B, H, W, 1]`).

    The reference's OpenCV steps, each as tensor ops: Canny edges, the distance to them (5 x 5 chamfer,
    truncated at 20), a 3 x 3 box blur truncated to integers, histogram equalisation, the emboss kernel
    (rounded and saturated to uint8) and a 3 x 3 box blur rounded to integers. Float32 `[B, H, W, 1]`.
    """
    box = np.ones((3, 3), np.float32)
    distance = chamfer_distance(canny(levels))
    distance = tf.floor(filter2d(distance, box) / 9.0)
    shading = equalize_levels(distance, _DISTANCE_LIMIT + 1)
    shading = tf.clip_by_value(tf.round(filter2d(shading, _EMBOSS)), 0.0, 255.0)
    return tf.round(filter2d(shading, box) / 9.0)
