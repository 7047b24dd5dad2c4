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
"""

import math

import tensorflow as tf

from tfaug.ops._xla import fused
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
    return tf.reshape(
        tf.stack([a, b, c, d, e, f, zero, zero, one], axis=-1), tf.concat([tf.shape(a), [3, 3]], axis=0)
    )


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
        raise ValueError(
            f"`images` must be [B, H, W, C] (or [B, H, W] masks), got shape {images.shape.as_list()}."
        )
    if matrices.shape.rank not in (2, 3) or matrices.shape[-2:].as_list() not in ([3, 3], [None, None]):
        raise ValueError(f"`matrices` must be [B, 3, 3] (or [3, 3]), got shape {matrices.shape.as_list()}.")


def _gather(flat, row, col, width):
    """`flat[b, row[b, n] * width + col[b, n]]` for every `b, n`: `[B, N, C]`."""
    return tf.gather(flat, row * width + col, batch_dims=1)


@fused
def _transform(images, matrices, interpolation, fill_value):
    shape = tf.shape(images)
    batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]
    h = tf.cast(height, tf.float32)
    w = tf.cast(width, tf.float32)
    matrices = tf.broadcast_to(tf.cast(matrices, tf.float32), [batch, 3, 3])

    # Output pixel centres as homogeneous points [3, H * W], mapped per image: [B, 3, H * W].
    ys, xs = tf.meshgrid(tf.range(h) + 0.5, tf.range(w) + 0.5, indexing="ij")
    points = tf.stack([tf.reshape(xs, [-1]), tf.reshape(ys, [-1]), tf.ones([height * width])])
    mapped = tf.linalg.matmul(matrices, points)
    x = mapped[:, 0] / mapped[:, 2]
    y = mapped[:, 1] / mapped[:, 2]
    inside = (x >= 0.0) & (x < w) & (y >= 0.0) & (y < h)

    flat = tf.reshape(images, [batch, height * width, channels])
    fill = tf.convert_to_tensor(fill_value)
    fill = tf.cast(fill, compute_dtype(fill.dtype) if fill.dtype.is_floating else tf.float32)
    if fill.shape.rank == 2:  # per-image colours [B, C]
        fill = fill[:, None, :]
    if interpolation == "nearest":
        # No arithmetic on pixels: exact for every dtype. Clipping in float keeps far-away (or inf)
        # coordinates from overflowing the int cast; those pixels are filled anyway.
        col = tf.cast(tf.clip_by_value(tf.floor(x), 0.0, w - 1.0), tf.int32)
        row = tf.cast(tf.clip_by_value(tf.floor(y), 0.0, h - 1.0), tf.int32)
        out = tf.where(inside[..., None], _gather(flat, row, col, width), from_float(fill, images.dtype))
    else:
        flat = to_float(flat)
        x = x - 0.5
        y = y - 0.5
        x0, y0 = tf.floor(x), tf.floor(y)
        dx = tf.cast(x - x0, flat.dtype)[..., None]
        dy = tf.cast(y - y0, flat.dtype)[..., None]
        col0 = tf.cast(tf.clip_by_value(x0, 0.0, w - 1.0), tf.int32)
        col1 = tf.cast(tf.clip_by_value(x0 + 1.0, 0.0, w - 1.0), tf.int32)
        row0 = tf.cast(tf.clip_by_value(y0, 0.0, h - 1.0), tf.int32)
        row1 = tf.cast(tf.clip_by_value(y0 + 1.0, 0.0, h - 1.0), tf.int32)
        top = _gather(flat, row0, col0, width) * (1.0 - dx) + _gather(flat, row0, col1, width) * dx
        bottom = _gather(flat, row1, col0, width) * (1.0 - dx) + _gather(flat, row1, col1, width) * dx
        value = top * (1.0 - dy) + bottom * dy
        out = from_float(tf.where(inside[..., None], value, tf.cast(fill, value.dtype)), images.dtype)
    return tf.reshape(out, shape)


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
        The transformed images, same shape and dtype.

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
    if images.shape.rank == 3:
        return _transform(images[..., None], matrices, interpolation, fill_value)[..., 0]
    return _transform(images, matrices, interpolation, fill_value)


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
