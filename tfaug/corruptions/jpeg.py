"""A baseline JPEG round trip (encode, then decode) as batched tensor ops, libjpeg's arithmetic throughout.

It computes what PIL's `save(..., "JPEG", quality=q)` followed by `Image.open` gives for an RGB image with
libjpeg(-turbo)'s defaults: JFIF RGB -> YCbCr in libjpeg's 16-bit fixed point, 4:2:0 chroma subsampling
by its 2 x 2 averaging (with its alternating rounding bias) and its edge padding, level shift, 8 x 8
blockwise forward DCT, quantisation by the IJG tables scaled as `jpeg_set_quality(q, force_baseline=TRUE)`
does, dequantisation, inverse DCT, its "fancy" (triangular) chroma upsampling, and YCbCr -> RGB in its
fixed point. Entropy coding is lossless and left out.

The transforms are libjpeg's default accurate integer DCT ("islow", `jfdctint.c` / `jidctint.c`), done
exactly: each of its 1-D passes is an integer 8 x 8 matrix followed by a rounding shift. Every other step
is libjpeg's integer arithmetic too, in int32, so the round trip equals the library's to the bit rather
than to a level or two as a floating-point DCT would (which rounds some quantised coefficients the other
way). Shapes are static, so it runs batched in the graph and compiles under XLA, which
`tf.io.encode_jpeg` (one image at a time, no XLA kernel) does not.
"""

import numpy as np
import tensorflow as tf

# The IJG tables (ITU-T T.81 Annex K), row-major over (vertical, horizontal) frequency.
_LUMINANCE = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ]
)
_CHROMINANCE = np.full((8, 8), 99)
_CHROMINANCE[:4, :4] = [[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]]

# libjpeg's colour conversion works with 16 fractional bits.
_SHIFT = 16
_HALF = 1 << (_SHIFT - 1)


def _fix(value, bits=_SHIFT):
    """`value` in fixed point with `bits` fractional bits, rounded as libjpeg's `FIX` macro."""
    return int(value * (1 << bits) + 0.5)


def quantization_tables(quality):
    """The (luminance, chrominance) 8 x 8 tables libjpeg uses at `quality` (1..100) for baseline JPEG:
    `jpeg_quality_scaling` (5000 / q below 50, 200 - 2 q from 50), scaled with rounding, clamped to
    1..255."""
    quality = min(max(int(quality), 1), 100)
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return tuple(np.clip((base * scale + 50) // 100, 1, 255) for base in (_LUMINANCE, _CHROMINANCE))


# libjpeg's accurate integer DCT ("islow", its default both ways) is the Loeffler-Ligtenberg-Moschytz
# factorisation with its twelve rotation constants rounded to 13 fractional bits. Each 1-D pass is a linear
# map with integer weights followed by one rounding right shift, so it is applied here as an integer 8 x 8
# matrix (the factorisation run on the unit vectors, once) and a shift, which reproduces it exactly.
_CONST_BITS = 13
_PASS1_BITS = 2


def _c(value):
    return _fix(value, _CONST_BITS)


def _odd_part(a, b, c, d):
    """The shared odd half of both transforms, on the inputs paired as (a, b, c, d) = the differences
    (x3 - x4, x2 - x5, x1 - x6, x0 - x7) forward or the coefficients (X7, X5, X3, X1) inverse."""
    z5 = (a + b + c + d) * _c(1.175875602)
    z1 = (a + d) * -_c(0.899976223)
    z2 = (b + c) * -_c(2.562915447)
    z3 = (a + c) * -_c(1.961570560) + z5
    z4 = (b + d) * -_c(0.390180644) + z5
    return (
        a * _c(0.298631336) + z1 + z3,
        b * _c(2.053119869) + z2 + z4,
        c * _c(3.072711026) + z2 + z3,
        d * _c(1.501321110) + z1 + z4,
    )


def _rotation(a, b):
    """The even half's rotation: (a, b) -> (z + 0.765 b, z - 1.848 a) with z = 0.541 (a + b), the
    constants being sqrt(2) times cos(3 pi / 8), cos(pi / 8) - cos(3 pi / 8) and cos(pi / 8) + cos(3 pi / 8)."""
    z1 = (a + b) * _c(0.541196100)
    return z1 + b * _c(0.765366865), z1 - a * _c(1.847759065)


def _forward_weights():
    """`[frequency, sample]` integer weights of libjpeg's forward 1-D pass, before its shift."""
    x = np.eye(8, dtype=np.int64)
    s = [x[i] + x[7 - i] for i in range(4)]
    d = [x[i] - x[7 - i] for i in range(4)]
    even_sum, even_diff = s[0] + s[3], s[0] - s[3]
    odd_sum, odd_diff = s[1] + s[2], s[1] - s[2]
    out = [None] * 8
    # The DC and middle terms have no rotation: libjpeg scales them exactly, here by the same power of two.
    out[0] = (even_sum + odd_sum) << _CONST_BITS
    out[4] = (even_sum - odd_sum) << _CONST_BITS
    out[2], out[6] = _rotation(odd_diff, even_diff)
    out[7], out[5], out[3], out[1] = _odd_part(d[3], d[2], d[1], d[0])
    return np.stack(out)


def _inverse_weights():
    """`[sample, frequency]` integer weights of libjpeg's inverse 1-D pass, before its shift."""
    x = np.eye(8, dtype=np.int64)
    tmp3, tmp2 = _rotation(x[6], x[2])
    tmp0 = (x[0] + x[4]) << _CONST_BITS
    tmp1 = (x[0] - x[4]) << _CONST_BITS
    even = [tmp0 + tmp3, tmp1 + tmp2, tmp1 - tmp2, tmp0 - tmp3]
    odd = _odd_part(x[7], x[5], x[3], x[1])
    out = [even[i] + odd[3 - i] for i in range(4)] + [even[3 - i] - odd[i] for i in range(4)]
    return np.stack(out)


_FORWARD = _forward_weights()
_INVERSE = _inverse_weights()
# The right shifts after each pass: the forward transform keeps 2 extra bits between its passes and ends
# scaled by 8; the inverse keeps 2 between its passes and removes the 8 at the end.
_FORWARD_BITS = (_CONST_BITS - _PASS1_BITS, _CONST_BITS + _PASS1_BITS)
_INVERSE_BITS = (_CONST_BITS - _PASS1_BITS, _CONST_BITS + _PASS1_BITS + 3)


def _transform(blocks, weights, axis, bits):
    """`weights` (`[out, in]`, integers) applied along `axis` (-1: within rows, -2: within columns) of
    int32 `[..., 8, 8]` blocks, then a right shift by `bits` rounding half up (libjpeg's `DESCALE`).

    The products are exact in int32, which float32 (24-bit) matrix products would not be; the sum runs
    over the 8 taps to keep every intermediate as small as the blocks.
    """
    total = 0
    for tap in range(8):
        column = tf.constant(weights[:, tap], tf.int32)
        if axis == -1:
            total += blocks[..., tap : tap + 1] * column
        else:
            total += blocks[..., tap : tap + 1, :] * column[:, None]
    return _shift(total + (1 << (bits - 1)), bits)


def _edge(tensor, axis, size):
    """`tensor` extended (or cropped) to `size` along `axis` by repeating its last entry: libjpeg's padding."""
    return tf.gather(tensor, np.minimum(np.arange(size), tensor.shape[axis] - 1), axis=axis)


def _ceil_to(n, multiple):
    return -(-n // multiple) * multiple


def _shift(x, bits):
    return tf.bitwise.right_shift(x, tf.constant(bits, tf.int32))


def rgb_to_ycbcr(rgb):
    """int32 `[B, H, W, 3]` levels -> (Y, Cb, Cr) int32 `[B, H, W]`, as libjpeg's `rgb_ycc_convert`."""
    r, g, b = tf.unstack(rgb, axis=-1)
    y = _shift(_fix(0.299) * r + _fix(0.587) * g + _fix(0.114) * b + _HALF, _SHIFT)
    offset = (128 << _SHIFT) + _HALF - 1
    cb = _shift(-_fix(0.16874) * r - _fix(0.33126) * g + _fix(0.5) * b + offset, _SHIFT)
    cr = _shift(_fix(0.5) * r - _fix(0.41869) * g - _fix(0.08131) * b + offset, _SHIFT)
    return y, cb, cr


def ycbcr_to_rgb(y, cb, cr):
    """The inverse, as libjpeg's `ycc_rgb_convert`: int32 planes -> int32 `[B, H, W, 3]` in 0..255."""
    cb = cb - 128
    cr = cr - 128
    r = y + _shift(_fix(1.402) * cr + _HALF, _SHIFT)
    g = y + _shift(-_fix(0.34414) * cb - _fix(0.71414) * cr + _HALF, _SHIFT)
    b = y + _shift(_fix(1.772) * cb + _HALF, _SHIFT)
    return tf.clip_by_value(tf.stack([r, g, b], axis=-1), 0, 255)


def downsample(plane):
    """Chroma `[B, H, W]` -> `[B, ceil(H / 2), ceil(W / 2)]`, as libjpeg's `h2v2_downsample`.

    Each output is the mean of a 2 x 2 cell rounded down after adding a bias that alternates 1, 2 along a
    row (so that rounding errors do not accumulate in one direction); an odd last row or column is
    doubled first. libjpeg pads the right edge at full resolution out to the whole block row before
    averaging, which `code_chroma` reproduces by calling this on the padded plane.
    """
    height, width = plane.shape[1], plane.shape[2]
    plane = _edge(_edge(plane, 1, _ceil_to(height, 2)), 2, _ceil_to(width, 2))
    cells = tf.reshape(plane, [-1, plane.shape[1] // 2, 2, plane.shape[2] // 2, 2])
    bias = np.arange(plane.shape[2] // 2) % 2 + 1
    return _shift(tf.reduce_sum(cells, axis=[2, 4]) + bias, 2)


def upsample(plane, height, width):
    """Chroma `[B, h, w]` -> `[B, height, width]`, as libjpeg's `h2v2_fancy_upsample`.

    Each output pixel is the triangle-weighted blend of its 2 x 2 nearest chroma samples, weights
    (9, 3, 3, 1) / 16, with the edge samples repeated past the border and libjpeg's rounding (bias 8 on
    even, 7 on odd output columns).
    """
    rows = tf.gather(plane, np.clip(np.arange(-1, plane.shape[1] + 1), 0, plane.shape[1] - 1), axis=1)
    above, centre, below = rows[:, :-2], rows[:, 1:-1], rows[:, 2:]
    # Output row 2i uses chroma rows i and i - 1, row 2i + 1 rows i and i + 1.
    sums = tf.reshape(
        tf.stack([3 * centre + above, 3 * centre + below], axis=2), [-1, 2 * plane.shape[1], plane.shape[2]]
    )
    cols = tf.gather(sums, np.clip(np.arange(-1, plane.shape[2] + 1), 0, plane.shape[2] - 1), axis=2)
    left, centre, right = cols[:, :, :-2], cols[:, :, 1:-1], cols[:, :, 2:]
    out = tf.stack([_shift(3 * centre + left + 8, 4), _shift(3 * centre + right + 7, 4)], axis=3)
    return tf.reshape(out, [-1, 2 * plane.shape[1], 2 * plane.shape[2]])[:, :height, :width]


def code_blocks(plane, table):
    """The lossy core of JPEG on one plane: int32 `[B, H, W]` samples (H, W multiples of 8) and a float32
    `[B, 8, 8]` quantisation table per image -> the decoded int32 samples.

    Level shift by 128, DCT of each 8 x 8 block, division by the table rounded half away from zero (as
    libjpeg's `quantize`), multiplication back, inverse DCT, and the decoder's shift back by 128 and clamp
    to 0..255.
    """
    height, width = plane.shape[1], plane.shape[2]
    blocks = tf.reshape(plane - 128, [-1, height // 8, 8, width // 8, 8])
    blocks = tf.reshape(tf.transpose(blocks, [0, 1, 3, 2, 4]), [-1, (height // 8) * (width // 8), 8, 8])
    table = tf.cast(table, tf.int32)[:, None]
    coefficients = _transform(_transform(blocks, _FORWARD, -1, _FORWARD_BITS[0]), _FORWARD, -2, _FORWARD_BITS[1])
    # The forward transform leaves the coefficients scaled by 8.
    divisor = 8 * table
    quantised = tf.sign(coefficients) * ((tf.abs(coefficients) + divisor // 2) // divisor)
    samples = _transform(_transform(quantised * table, _INVERSE, -2, _INVERSE_BITS[0]), _INVERSE, -1, _INVERSE_BITS[1])
    # libjpeg's range limit clamps to 0..255 over a margin of hundreds of levels, far past what the
    # quantisation error of 8-bit samples reaches; beyond it (corrupt data) libjpeg wraps, this clamps.
    samples = tf.clip_by_value(samples + 128, 0, 255)
    samples = tf.transpose(tf.reshape(samples, [-1, height // 8, width // 8, 8, 8]), [0, 1, 3, 2, 4])
    return tf.reshape(samples, [-1, height, width])


def code_luminance(plane, table):
    """Y `[B, H, W]` through `code_blocks`, padded to whole blocks by repeating the last row and column."""
    height, width = plane.shape[1], plane.shape[2]
    padded = _edge(_edge(plane, 1, _ceil_to(height, 8)), 2, _ceil_to(width, 8))
    return code_blocks(padded, table)[:, :height, :width]


def code_chroma(plane, table):
    """Cb or Cr `[B, H, W]` at full resolution -> the decoded full-resolution plane, 4:2:0 subsampled.

    The padding is libjpeg's: columns are repeated at full resolution out to whole 16-pixel MCUs before
    averaging, rows are repeated after it (the last chroma row) out to whole blocks.
    """
    height, width = plane.shape[1], plane.shape[2]
    small = downsample(_edge(plane, 2, _ceil_to(width, 16)))
    small = _edge(small, 1, _ceil_to(small.shape[1], 8))
    decoded = code_blocks(small, table)[:, : _ceil_to(height, 2) // 2, : _ceil_to(width, 2) // 2]
    return upsample(decoded, height, width)


def round_trip(images, luminance, chrominance):
    """Images float32 `[B, H, W, C]` in [0, 1] (C = 3: RGB, C = 1: gray) -> their JPEG round trip, float32
    in [0, 1] on the 256 levels. `luminance` and `chrominance`: float32 `[B, 8, 8]` quantisation tables,
    one per image. Inputs are rounded to 8-bit levels first, the samples JPEG codes.

    Gray images are coded as luminance alone. The RGB round trip of a gray image gives the same: its Cb
    and Cr are exactly 128 in libjpeg's arithmetic, which code to zero coefficients and decode to zero
    colour, so R = G = B = the decoded Y.
    """
    levels = tf.cast(tf.round(tf.clip_by_value(images, 0.0, 1.0) * 255.0), tf.int32)
    if images.shape[-1] == 1:
        out = code_luminance(levels[..., 0], luminance)[..., None]
    else:
        y, cb, cr = rgb_to_ycbcr(levels)
        height, width = y.shape[1], y.shape[2]
        # Cb and Cr go through as one batch of planes, image by image: [cb_0, cr_0, cb_1, cr_1, ...].
        chroma = code_chroma(tf.reshape(tf.stack([cb, cr], axis=1), [-1, height, width]), tf.repeat(chrominance, 2, 0))
        cb, cr = tf.unstack(tf.reshape(chroma, [-1, 2, height, width]), axis=1)
        out = ycbcr_to_rgb(code_luminance(y, luminance), cb, cr)
    return tf.cast(out, tf.float32) / 255.0
