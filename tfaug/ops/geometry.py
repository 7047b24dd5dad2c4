"""Geometric kernels: per-image 3x3 matrices and one vectorised resampling pass for the whole batch.

Coordinate convention (PIL's): a point `(x, y)` is continuous, pixel `(row i, column j)` covers the unit
square `[j, j + 1) x [i, i + 1)` and its centre is `(j + 0.5, i + 0.5)`; the image spans `[0, W) x [0, H)`
and its centre is `(W / 2, H / 2)`. A matrix maps an OUTPUT point to the INPUT point it samples, like the
`data` of PIL's `Image.transform(size, Image.AFFINE, data)` (the first two rows) and the `transforms` of
`tf.raw_ops.ImageProjectiveTransformV3`. `transform` evaluates the matrix at every output pixel centre and
then samples like PIL:

- nearest: input pixel `(floor(y), floor(x))`;
- bilinear: `x - 0.5, y - 0.5` interpolated between the four nearest pixel centres, neighbours past the
  border clamped to the edge pixel;
- both: the fill value wherever the sampled point `(x, y)` lies outside `[0, W) x [0, H)`.

So every matrix here has exactly PIL's coefficients (`rotation_matrix` reproduces `Image.rotate`'s),
integer translations are exact shifts (equal to PIL bit for bit, fill region included), and composing
matrices composes the maps. TensorFlow's op puts pixel centres at integer coordinates instead;
`to_projective_transforms` converts (it conjugates with a half-pixel shift).

`transform` does not call `ImageProjectiveTransformV3`: that op has no XLA kernel (it fails under
`jit_compile=True`), so the sampler is written with gathers and compiles like every other kernel here.
Its cost on CPU is the gathers' scattered reads; the index arithmetic is computed once per pixel.
"""

import math

import numpy as np
import tensorflow as tf

from tfaug.ops._xla import fused
from tfaug.ops._xla import image_barrier
from tfaug.ops.dtypes import compute_dtype
from tfaug.ops.dtypes import from_float
from tfaug.ops.dtypes import to_float

INTERPOLATIONS = ("nearest", "bilinear")


def _param(value):
    """A parameter tensor in its compute dtype (float64 stays float64 for exact matrices, else float32)."""
    value = tf.convert_to_tensor(value)
    return tf.cast(value, compute_dtype(value.dtype))


def _matrix(a, b, c, d, e, f):
    """Stacks six same-shape `[...]` tensors into `[..., 3, 3]` matrices with the last row `(0, 0, 1)`."""
    zero = tf.zeros_like(a)
    one = tf.ones_like(a)
    return tf.reshape(tf.stack([a, b, c, d, e, f, zero, zero, one], axis=-1), tf.concat([tf.shape(a), [3, 3]], axis=0))


def identity_matrix(batch, dtype=tf.float32):
    """`[batch, 3, 3]` identity matrices: `transform` returns its input unchanged (exactly)."""
    return tf.eye(3, batch_shape=[batch], dtype=dtype)


def rotation_matrix(angle, height, width):
    """Rotation about the image centre `(W / 2, H / 2)` by `angle` degrees, counter-clockwise if positive.

    The same matrix as PIL's `Image.rotate(angle)` (the coefficients it passes to `Image.transform`):
    `input = R(angle) @ (output - centre) + centre` with `R = [[cos, -sin], [sin, cos]]` in the
    y-down image frame.

    Args:
        angle: `[B]` (or any shape `[...]`) angles in degrees; float64 input gives float64 matrices.
        height: image height H (int or scalar tensor).
        width: image width W.

    Returns:
        `[..., 3, 3]` float32 (float64 for float64 `angle`) matrices, output to input coordinates.
    """
    angle = _param(angle)
    radians = angle * (math.pi / 180.0)
    cos, sin = tf.cos(radians), tf.sin(radians)
    cx = tf.cast(width, angle.dtype) / 2.0
    cy = tf.cast(height, angle.dtype) / 2.0
    return _matrix(cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy)


def shear_x_matrix(factor):
    """Horizontal shear `x_in = x + factor * y`: PIL AFFINE `(1, factor, 0, 0, 1, 0)` (timm, torchvision).

    The shear is about the top edge `y = 0` (rows further down move further), as in timm's AutoAugment.
    `factor` is `[B]` (or `[...]`); returns `[..., 3, 3]`.
    """
    factor = _param(factor)
    zero, one = tf.zeros_like(factor), tf.ones_like(factor)
    return _matrix(one, factor, zero, zero, one, zero)


def shear_y_matrix(factor):
    """Vertical shear `y_in = factor * x + y`: PIL AFFINE `(1, 0, 0, factor, 1, 0)`, about the left edge."""
    factor = _param(factor)
    zero, one = tf.zeros_like(factor), tf.ones_like(factor)
    return _matrix(one, zero, zero, factor, one, zero)


def translate_x_matrix(pixels):
    """Horizontal translation `x_in = x + pixels`: PIL AFFINE `(1, 0, pixels, 0, 1, 0)` as in timm.

    Positive `pixels` samples from the right, so the content moves LEFT by `pixels` (the opposite sign of
    `ImageChops.offset`). `pixels` is `[B]` (or `[...]`), in pixels, fractional allowed.
    """
    pixels = _param(pixels)
    zero, one = tf.zeros_like(pixels), tf.ones_like(pixels)
    return _matrix(one, zero, pixels, zero, one, zero)


def translate_y_matrix(pixels):
    """Vertical translation `y_in = y + pixels`: PIL AFFINE `(1, 0, 0, 0, 1, pixels)`; content moves UP."""
    pixels = _param(pixels)
    zero, one = tf.zeros_like(pixels), tf.ones_like(pixels)
    return _matrix(one, zero, zero, zero, one, pixels)


def compose(*matrices):
    """One matrix that applies `matrices` in the order given (the first is applied to the image first).

    Matrices map output to input coordinates, so applying `A` then `B` samples the input at `A @ B @ p`:
    `transform(images, compose(A, B))` equals `transform(transform(images, A), B)` up to the second
    resampling (and fill) of the sequential version. Shapes broadcast (`[B, 3, 3]` with `[3, 3]`).
    """
    if not matrices:
        raise ValueError("`compose` needs at least one matrix, got none.")
    dtype = tf.float64 if any(tf.convert_to_tensor(m).dtype == tf.float64 for m in matrices) else tf.float32
    result = tf.cast(matrices[0], dtype)
    for matrix in matrices[1:]:
        result = tf.linalg.matmul(result, tf.cast(matrix, dtype))
    return result


def to_projective_transforms(matrices):
    """`[B, 8]` `transforms` for `tf.raw_ops.ImageProjectiveTransformV3` describing the same map.

    TensorFlow samples pixel `(i, j)` at `(j, i)` (centres on integers), so the matrix is conjugated with
    a half-pixel shift, `T(-0.5) @ M @ T(0.5)`, and normalised so its last entry is 1.
    """
    m = tf.cast(matrices, tf.float32)
    shift = tf.constant([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
    unshift = tf.constant([[1.0, 0.0, -0.5], [0.0, 1.0, -0.5], [0.0, 0.0, 1.0]])
    m = unshift @ m @ shift
    m = tf.reshape(m / m[..., 2:3, 2:3], [-1, 9])
    return m[:, :8]


def _check_transform_args(images, matrices, interpolation):
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"`interpolation` must be one of {list(INTERPOLATIONS)}, got {interpolation!r}.")
    if images.shape.rank not in (3, 4):
        raise ValueError(f"`images` must be [B, H, W, C] (or [B, H, W] masks), got shape {images.shape.as_list()}.")
    if matrices.shape.rank not in (2, 3) or matrices.shape[-2:].as_list() not in ([3, 3], [None, None]):
        raise ValueError(f"`matrices` must be [B, 3, 3] (or [3, 3]), got shape {matrices.shape.as_list()}.")


def _source_points(matrices, batch, height, width, affine=False):
    """The input point `(x, y)` sampled by every output pixel centre: two float32 `[B, H, W]`.

    Computed from `[B, 1, 1]` coefficients and `[1, H, 1]` / `[1, 1, W]` pixel centres (no per-pixel
    matmul), in float32 with every product and sum rounded: `(m00 * x + m01 * y) + m02` (no fused
    multiply-add, eager and in every XLA computation alike), then divided by the third row.
    `affine=True` promises third rows `(0, 0, 1)`, whose division is by exactly 1: it is skipped.
    (Matching the fused multiply-add of a float32 matmul instead, emulated in float64, would move a few
    in a million nearest samples, at exact ties, and make AugMix's index map about twice as slow.)
    """
    h = tf.cast(height, tf.float32)
    w = tf.cast(width, tf.float32)
    m = tf.reshape(tf.broadcast_to(tf.cast(matrices, tf.float32), [batch, 3, 3]), [batch, 3, 3, 1, 1])
    xs = (tf.range(w) + 0.5)[None, None, :]
    ys = (tf.range(h) + 0.5)[None, :, None]

    def row(k):
        # The products are small ([B, 1, W] and [B, H, 1]) and behind a barrier, so every pixel only adds
        # them: fused with the sum, XLA would round `m00 * x + m01 * y` once (a fused multiply-add) in some
        # computations and not in others, and nearest's ties would depend on the caller.
        return (image_barrier(m[:, k, 0] * xs) + image_barrier(m[:, k, 1] * ys)) + m[:, k, 2]

    if affine:
        return row(0), row(1)
    z = row(2)
    return row(0) / z, row(1) / z


def _nearest_index(x, y, first_row, height, width):
    """int32 `[B, H, W]` flat index `(first_row + floor(y)) * W + floor(x)` of each nearest sample, -1 outside.

    `floor(x)` is in [0, W) exactly when `x` is (NaN in neither); testing it rather than `x` leaves `x` one
    use, so XLA computes the divisions and the index in one pass. Clipping in float keeps far-away (or
    inf) coordinates from overflowing the int cast; those pixels are filled anyway. The index is behind a
    fusion barrier: a gather that reads C channels would otherwise recompute it per channel.
    """
    h = tf.cast(height, tf.float32)
    w = tf.cast(width, tf.float32)
    fx, fy = tf.floor(x), tf.floor(y)
    inside = (fx >= 0.0) & (fx < w) & (fy >= 0.0) & (fy < h)
    col = tf.cast(tf.clip_by_value(fx, 0.0, w - 1.0), tf.int32)
    row = tf.cast(tf.clip_by_value(fy, 0.0, h - 1.0), tf.int32)
    return image_barrier(tf.where(inside, (first_row + row) * width + col, -1))


@fused
def nearest_index(matrices, rows, height, width, affine=False):
    """int32 `[N, H, W]`: for nearest resampling of image `rows[i]` of a `[B, H, W, C]` batch through
    `matrices[i]`, the flat index `(rows[i] * H + row) * W + col` of the pixel each output pixel copies, -1
    where it is fill (see `nearest_marked`). `affine=True` promises third rows `(0, 0, 1)` (skips a
    division). Same conventions as `transform`.
    """
    x, y = _source_points(matrices, tf.shape(rows)[0], height, width, affine)
    return _nearest_index(x, y, rows[:, None, None] * height, height, width)


def nearest_marked(images, index):
    """Nearest samples that mark the fill: `(pixels, inside)` for a `nearest_index` `index` `[N, H, W]`.

    `pixels` `[N, H, W, C]` holds the indexed pixels of `images` `[B, H, W, C]` and 0 where `index` is -1
    (as `transform(..., "nearest", fill_value=0)`), and `inside` a uint8 `[N, H, W, 1]` that is 1 where the
    pixel was sampled inside the image and 0 where it is fill, for a caller that fills later (after a
    lookup table, say).
    """
    pixels = tf.gather(tf.reshape(images, tf.stack([-1, tf.shape(images)[3]])), tf.maximum(index, 0))
    inside = index >= 0
    pixels = tf.where(inside[..., None], pixels, tf.zeros([], images.dtype))
    return pixels, tf.cast(inside, tf.uint8)[..., None]


@fused
def _transform(images, matrices, interpolation, fill_value):
    """The resampling kernel (XLA); `images` `[B, H, W, C]`, `matrices` `[B, 3, 3]` or `[3, 3]`.

    The batch is one `[B * H * W, C]` table and every output pixel gathers whole rows of it (its C
    channels at once) with one flat int32 index, `(b * H + row) * W + col`.
    """
    shape = tf.shape(images)
    batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]
    h = tf.cast(height, tf.float32)
    w = tf.cast(width, tf.float32)
    x, y = _source_points(matrices, batch, height, width)
    table = tf.reshape(images, [-1, channels])
    first_row = tf.range(batch)[:, None, None] * height  # [B, 1, 1]: the table row of each image's (0, 0)
    fill = tf.convert_to_tensor(fill_value)
    fill = tf.cast(fill, compute_dtype(fill.dtype) if fill.dtype.is_floating else tf.float32)
    if fill.shape.rank == 2:  # per-image colours [B, C]
        fill = fill[:, None, None, :]
    if interpolation == "nearest":
        # No arithmetic on pixels: exact for every dtype.
        index = _nearest_index(x, y, first_row, height, width)
        pixels = tf.gather(table, tf.maximum(index, 0))
        out = tf.where((index >= 0)[..., None], pixels, from_float(fill, images.dtype))
        return tf.reshape(out, shape)
    inside = (x >= 0.0) & (x < w) & (y >= 0.0) & (y < h)
    x = x - 0.5
    y = y - 0.5
    x0, y0 = tf.floor(x), tf.floor(y)
    dtype = compute_dtype(images.dtype)
    dx = tf.cast(x - x0, dtype)[..., None]
    dy = tf.cast(y - y0, dtype)[..., None]
    col0 = tf.cast(tf.clip_by_value(x0, 0.0, w - 1.0), tf.int32)
    col1 = tf.cast(tf.clip_by_value(x0 + 1.0, 0.0, w - 1.0), tf.int32)
    row0 = (first_row + tf.cast(tf.clip_by_value(y0, 0.0, h - 1.0), tf.int32)) * width
    row1 = (first_row + tf.cast(tf.clip_by_value(y0 + 1.0, 0.0, h - 1.0), tf.int32)) * width

    def gather(index):
        return to_float(tf.gather(table, index))

    top = gather(row0 + col0) * (1.0 - dx) + gather(row0 + col1) * dx
    bottom = gather(row1 + col0) * (1.0 - dx) + gather(row1 + col1) * dx
    value = top * (1.0 - dy) + bottom * dy
    # The same test as `inside[..., None]`, written to vary along the channels: a condition constant
    # across a pixel's channels makes LLVM split the channel loop in two branches (non-trivial loop
    # unswitching), which stops it from vectorising the kernel.
    inside = tf.cast(inside, tf.int32)[..., None] * channels + tf.range(channels) >= channels
    out = tf.where(inside, value, tf.cast(fill, value.dtype))
    return tf.reshape(from_float(out, images.dtype), shape)


_EYE = np.eye(3, dtype=np.float32)


def _is_identity(matrices):
    """Scalar bool: every matrix is exactly the identity (as the float32 the kernel computes with)."""
    return tf.reduce_all(tf.equal(tf.cast(matrices, tf.float32), _EYE))


def transform(images, matrices, interpolation="nearest", fill_value=128):
    """Resamples every image through its own 3x3 matrix in one pass (see the module docstring).

    Args:
        images: `[B, H, W, C]` or `[B, H, W]` (segmentation masks; use `"nearest"`), any dtype.
        matrices: float `[B, 3, 3]` (or one `[3, 3]` for all), mapping output points to input points in
            PIL's convention (pixel centres at `+0.5`); projective matrices are divided by the third row.
        interpolation: `"nearest"` (exact, no arithmetic on pixels) or `"bilinear"` (computed in float,
            integers rounded half-to-even; PIL truncates instead, so it is up to one level darker).
        fill_value: value of the pixels sampled from outside the image, in the images' value scale
            (default 128, gray for uint8; use 0.5 for floats in [0, 1]): a scalar, `[C]` or `[B, C]`.

    Returns:
        The transformed images, same shape and dtype. A batch of identity matrices returns `images`
        without resampling (a `tf.cond`, so also under `jit_compile`).

    Raises:
        ValueError: for an unknown `interpolation` or badly shaped `images` / `matrices`.

    Example:
        >>> images = tf.zeros([2, 32, 48, 3], tf.uint8)
        >>> m = compose(rotation_matrix([10.0, -20.0], 32, 48), shear_x_matrix([0.1, 0.0]))
        >>> transform(images, m, "bilinear").shape
        TensorShape([2, 32, 48, 3])
    """
    images = tf.convert_to_tensor(images)
    matrices = tf.convert_to_tensor(matrices)
    _check_transform_args(images, matrices, interpolation)

    def resample():
        if images.shape.rank == 3:
            return _transform(images[..., None], matrices, interpolation, fill_value)[..., 0]
        return _transform(images, matrices, interpolation, fill_value)

    return tf.cond(_is_identity(matrices), lambda: images, resample)


def _batch_param(images, value):
    """A parameter broadcast to `[B]`, so scalars apply to every image."""
    images = tf.convert_to_tensor(images)
    return tf.broadcast_to(_param(value), tf.shape(images)[:1])


def rotate(images, angle, interpolation="nearest", fill_value=128):
    """Rotates each image about its centre by `angle[i]` degrees (counter-clockwise if positive), as PIL.

    `angle` is `[B]` or a scalar; other arguments as in `transform`.
    """
    images = tf.convert_to_tensor(images)
    shape = tf.shape(images)
    matrix = rotation_matrix(_batch_param(images, angle), shape[1], shape[2])
    return transform(images, matrix, interpolation, fill_value)


def shear_x(images, factor, interpolation="nearest", fill_value=128):
    """Shears each image horizontally by `factor[i]` (`x_in = x + factor * y`), as timm's `shear_x`."""
    return transform(images, shear_x_matrix(_batch_param(images, factor)), interpolation, fill_value)


def shear_y(images, factor, interpolation="nearest", fill_value=128):
    """Shears each image vertically by `factor[i]` (`y_in = factor * x + y`), as timm's `shear_y`."""
    return transform(images, shear_y_matrix(_batch_param(images, factor)), interpolation, fill_value)


def translate_x(images, pixels, interpolation="nearest", fill_value=128):
    """Moves each image's content LEFT by `pixels[i]` (right if negative), as timm's `translate_x_abs`."""
    return transform(images, translate_x_matrix(_batch_param(images, pixels)), interpolation, fill_value)


def translate_y(images, pixels, interpolation="nearest", fill_value=128):
    """Moves each image's content UP by `pixels[i]` (down if negative), as timm's `translate_y_abs`."""
    return transform(images, translate_y_matrix(_batch_param(images, pixels)), interpolation, fill_value)
