"""Geometric kernels against hand-derived matrices and PIL on real photos (downscaled to 64x96).

Measured against Pillow 13 on the four scikit-image photos (the bounds asserted below leave a margin):
- integer translations, nearest and bilinear: identical to PIL, fill region included;
- rotate, nearest: 99.8% of pixels identical (the rest are ties that PIL's fixed-point arithmetic breaks
  the other way); shear, nearest: 100% identical;
- rotate / shear, bilinear: every pixel within 1 level, mean 0.4 (PIL truncates, tfaug rounds); with
  tfaug's float result truncated like PIL, 99.9% identical;
- rotate then shear composed (one pass) vs applied one after the other (two passes, inside both valid
  regions): median 0, mean 2.9 levels (nearest) and 1.1 (bilinear); the wrong order gives about 22.
"""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from PIL import ImageChops

from tfaug.ops import geometry
from tfaug.ops.geometry import compose
from tfaug.ops.geometry import identity_matrix
from tfaug.ops.geometry import rotation_matrix
from tfaug.ops.geometry import shear_x_matrix
from tfaug.ops.geometry import shear_y_matrix
from tfaug.ops.geometry import to_projective_transforms
from tfaug.ops.geometry import transform
from tfaug.ops.geometry import translate_x_matrix
from tfaug.ops.geometry import translate_y_matrix

H, W = 64, 96
GRAY = (128, 128, 128)
PIL_RESAMPLE = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR}
ANGLES = np.array([-30.0, 12.5, 27.0, 135.0], np.float32)
SHEARS = np.array([0.3, -0.3, 0.1, -0.05], np.float32)


@pytest.fixture(scope="module")
def images(photos):
    """The four photos as a `[4, 64, 96, 3]` uint8 batch (resized with PIL)."""
    return np.stack([np.asarray(Image.fromarray(p).resize((W, H), Image.BILINEAR)) for p in photos.values()])


def _pil(images, fn):
    """Applies `fn(pil_image, index)` to every image of the batch; returns a uint8 batch."""
    return np.stack([np.asarray(fn(Image.fromarray(img), i)) for i, img in enumerate(images)])


def _coefficients(matrix):
    """The six PIL AFFINE coefficients of one `[3, 3]` matrix, as Python floats."""
    return tuple(float(v) for v in np.asarray(matrix, np.float64)[:2].ravel())


def _diff(a, b):
    return np.abs(np.asarray(a, np.int64) - np.asarray(b, np.int64))


# --- matrices ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("angle", [30.0, -17.5, 135.0, 200.0, 0.001, 89.0])
def test_rotation_matrix_reproduces_pil_rotate(monkeypatch, angle):
    captured = []
    original = Image.Image.transform

    def recording_transform(self, size, method, data=None, *args, **kwargs):
        captured.append(tuple(data))
        return original(self, size, method, data, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "transform", recording_transform)
    Image.new("RGB", (W, H)).rotate(angle)
    pil = np.array(captured[0])
    exact = rotation_matrix(np.array([angle], np.float64), H, W).numpy()
    assert exact.dtype == np.float64
    np.testing.assert_allclose(exact[0, :2].ravel(), pil, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(exact[0, 2], [0.0, 0.0, 1.0])
    # float32 (the default) rounds entries as large as the image side: a few ulps of 96.
    single = rotation_matrix(np.array([angle], np.float32), H, W).numpy()
    assert single.dtype == np.float32
    np.testing.assert_allclose(single[0, :2].ravel(), pil, rtol=0, atol=3e-5)


def test_rotation_matrix_hand_derived():
    # 90 degrees about the centre (3, 2) of a 4x6 image: output (x, y) samples input (5 - y, x - 1).
    m = rotation_matrix(np.array([90.0, 0.0], np.float64), 4, 6).numpy()
    np.testing.assert_allclose(m[0], [[0, -1, 5], [1, 0, -1], [0, 0, 1]], atol=1e-12)
    np.testing.assert_allclose(m[1], np.eye(3), atol=1e-12)


def test_shear_and_translate_matrices_are_the_pil_affine_tuples():
    values = np.array([0.3, -0.25, 7.0], np.float32)
    cases = {
        shear_x_matrix: lambda v: (1, v, 0, 0, 1, 0),
        shear_y_matrix: lambda v: (1, 0, 0, v, 1, 0),
        translate_x_matrix: lambda v: (1, 0, v, 0, 1, 0),
        translate_y_matrix: lambda v: (1, 0, 0, 0, 1, v),
    }
    for build, pil_tuple in cases.items():
        m = build(values).numpy()
        assert m.shape == (3, 3, 3) and m.dtype == np.float32
        for i, v in enumerate(values):
            np.testing.assert_array_equal(m[i, :2].ravel(), pil_tuple(v))
            np.testing.assert_array_equal(m[i, 2], [0, 0, 1])


def test_compose_multiplies_in_application_order():
    a = translate_x_matrix([3.0, -2.0]).numpy()
    b = rotation_matrix([30.0, 75.0], H, W).numpy()
    c = shear_y_matrix([0.2, 0.1]).numpy()
    np.testing.assert_allclose(compose(a, b, c).numpy(), a @ b @ c, rtol=1e-6, atol=1e-5)
    np.testing.assert_array_equal(compose(a).numpy(), a)
    # One [3, 3] matrix broadcasts against a batch.
    np.testing.assert_allclose(compose(a[0], b).numpy(), a[0] @ b, rtol=1e-6, atol=1e-5)
    np.testing.assert_array_equal(identity_matrix(2).numpy(), np.stack([np.eye(3)] * 2))


def test_to_projective_transforms_shifts_half_a_pixel():
    # TF samples pixel j at x = j: shear_x becomes x + f*y + f/2; translations are the same in both.
    t = to_projective_transforms(compose(shear_x_matrix([0.4]))).numpy()
    np.testing.assert_allclose(t, [[1, 0.4, 0.2, 0, 1, 0, 0, 0]], atol=1e-7)
    t = to_projective_transforms(translate_y_matrix([-5.0])).numpy()
    np.testing.assert_array_equal(t, [[1, 0, 0, 0, 1, -5, 0, 0]])


# --- integer translations: exact ---------------------------------------------------------------------


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_integer_translations_equal_pil_exactly(images, interpolation):
    resample = PIL_RESAMPLE[interpolation]
    shifts = np.array([-7, 0, 5, 100], np.float32)  # 100 > width: all fill
    out = geometry.translate_x(images, shifts, interpolation).numpy()
    ref = _pil(
        images,
        lambda im, i: im.transform(
            im.size, Image.AFFINE, (1, 0, int(shifts[i]), 0, 1, 0), resample=resample, fillcolor=GRAY
        ),
    )
    np.testing.assert_array_equal(out, ref)
    shifts = np.array([3, -12, 0, -1], np.float32)
    out = geometry.translate_y(images, shifts, interpolation).numpy()
    ref = _pil(
        images,
        lambda im, i: im.transform(
            im.size, Image.AFFINE, (1, 0, 0, 0, 1, int(shifts[i])), resample=resample, fillcolor=GRAY
        ),
    )
    np.testing.assert_array_equal(out, ref)
    assert (out[0, -3:] == 128).all() and (out[1, :12] == 128).all() and (out[3, 0] == 128).all()


def test_negative_translation_is_an_offset_without_wraparound(images):
    out = geometry.translate_x(images, [-5.0, -5.0, -5.0, -5.0]).numpy()
    down = geometry.translate_y(images, [-9.0, -9.0, -9.0, -9.0]).numpy()
    for i, img in enumerate(images):
        right = np.asarray(ImageChops.offset(Image.fromarray(img), 5, 0))
        np.testing.assert_array_equal(out[i, :, 5:], right[:, 5:])
        assert (out[i, :, :5] == 128).all()
        lower = np.asarray(ImageChops.offset(Image.fromarray(img), 0, 9))
        np.testing.assert_array_equal(down[i, 9:], lower[9:])
        assert (down[i, :9] == 128).all()


# --- rotate and shear: PIL within a tolerance --------------------------------------------------------


def test_rotate_nearest_matches_pil(images):
    out = geometry.rotate(images, ANGLES).numpy()
    ref = _pil(images, lambda im, i: im.rotate(float(ANGLES[i]), resample=Image.NEAREST, fillcolor=GRAY))
    assert (_diff(out, ref) == 0).mean() >= 0.995  # measured 0.998


def test_rotate_bilinear_matches_pil(images):
    ref = _pil(images, lambda im, i: im.rotate(float(ANGLES[i]), resample=Image.BILINEAR, fillcolor=GRAY))
    d = _diff(geometry.rotate(images, ANGLES, "bilinear").numpy(), ref)
    assert d.max() <= 1 and d.mean() <= 0.5  # measured max 1, mean 0.40 (PIL truncates)
    exact = geometry.rotate(images.astype(np.float32), ANGLES, "bilinear").numpy()
    assert (_diff(np.floor(exact + 1e-3), ref) == 0).mean() >= 0.995  # measured 0.999


@pytest.mark.parametrize("axis", ["x", "y"])
def test_shear_matches_pil(images, axis):
    op = geometry.shear_x if axis == "x" else geometry.shear_y

    def coefficients(i):
        return (1, float(SHEARS[i]), 0, 0, 1, 0) if axis == "x" else (1, 0, 0, float(SHEARS[i]), 1, 0)

    for interpolation, resample in PIL_RESAMPLE.items():
        out = op(images, SHEARS, interpolation).numpy()
        ref = _pil(
            images,
            lambda im, i: im.transform(im.size, Image.AFFINE, coefficients(i), resample=resample, fillcolor=GRAY),
        )
        d = _diff(out, ref)
        if interpolation == "nearest":
            assert (d == 0).mean() >= 0.999  # measured 1.0
        else:
            assert d.max() <= 1 and d.mean() <= 0.5  # measured max 1, mean 0.38-0.39


def test_square_quarter_turns_are_exact(images):
    square = images[:, :, :H]
    out = geometry.rotate(square, [90.0, -90.0, 270.0, 180.0]).numpy()
    np.testing.assert_array_equal(out[0], np.rot90(square[0], 1))  # counter-clockwise
    np.testing.assert_array_equal(out[1], np.rot90(square[1], -1))
    np.testing.assert_array_equal(out[2], np.rot90(square[2], -1))
    np.testing.assert_array_equal(out[3], np.rot90(square[3], 2))
    # A half turn maps the pixel grid onto itself for any shape.
    np.testing.assert_array_equal(geometry.rotate(images, 180.0).numpy(), images[:, ::-1, ::-1])


# --- composition -------------------------------------------------------------------------------------


def test_composed_translations_equal_sequential_exactly(images):
    tx = np.array([-7.0, 3.0, 0.0, 20.0], np.float32)
    ty = np.array([5.0, -4.0, 9.0, 0.0], np.float32)
    for interpolation in ("nearest", "bilinear"):
        one = transform(images, compose(translate_x_matrix(tx), translate_y_matrix(ty)), interpolation)
        two = geometry.translate_y(geometry.translate_x(images, tx, interpolation), ty, interpolation)
        np.testing.assert_array_equal(one.numpy(), two.numpy())
    same_axis = transform(images, compose(translate_x_matrix(tx), translate_x_matrix(tx)))
    np.testing.assert_array_equal(same_axis.numpy(), geometry.translate_x(images, 2 * tx).numpy())


def test_composed_rotate_shear_is_one_pil_affine_pass(images):
    m = compose(rotation_matrix(ANGLES, H, W), shear_x_matrix(SHEARS))
    for interpolation, resample in PIL_RESAMPLE.items():
        out = transform(images, m, interpolation).numpy()
        ref = _pil(
            images,
            lambda im, i: im.transform(im.size, Image.AFFINE, _coefficients(m[i]), resample=resample, fillcolor=GRAY),
        )
        d = _diff(out, ref)
        assert (d == 0).mean() >= 0.995 if interpolation == "nearest" else d.max() <= 1


def test_composed_rotate_shear_approximates_sequential(images):
    rotation, shear = rotation_matrix(ANGLES, H, W), shear_x_matrix(SHEARS)
    ones = np.ones_like(images)
    valid = (transform(ones, compose(rotation, shear), fill_value=0).numpy() == 1) & (
        transform(transform(ones, rotation, fill_value=0), shear, fill_value=0).numpy() == 1
    )
    assert valid.mean() > 0.75
    for interpolation, bound in (("nearest", 4.0), ("bilinear", 1.6)):  # measured 2.9 and 1.1
        one = transform(images, compose(rotation, shear), interpolation).numpy()
        two = transform(transform(images, rotation, interpolation), shear, interpolation).numpy()
        d = _diff(one, two)[valid]
        assert np.median(d) == 0 and d.mean() < bound
        reversed_order = transform(images, compose(shear, rotation), interpolation).numpy()
        assert _diff(reversed_order, two)[valid].mean() > 10  # measured 22: the order is tested


# --- the TF op with the converted parameters ---------------------------------------------------------


def test_matches_image_projective_transform_v3(images):
    m = compose(rotation_matrix(ANGLES, H, W), translate_x_matrix([2.0, -3.0, 0.0, 1.0]))

    def tf_op(x, interpolation):
        return tf.raw_ops.ImageProjectiveTransformV3(
            images=x,
            transforms=to_projective_transforms(m),
            output_shape=[H, W],
            fill_value=128.0,
            interpolation=interpolation.upper(),
            fill_mode="CONSTANT",
        ).numpy()

    # Nearest: TF rounds half away from zero where tfaug floors x + 0.5; only exact ties differ.
    assert (transform(images, m).numpy() == tf_op(images, "nearest")).mean() >= 0.999  # measured 0.9999
    # Bilinear: TF blends the fill into the border pixels, tfaug (like PIL) clamps; compare the interior.
    x = images.astype(np.float32)
    ours, theirs = transform(x, m, "bilinear").numpy(), tf_op(x, "bilinear")
    ys, xs = np.meshgrid(np.arange(H) + 0.5, np.arange(W) + 0.5, indexing="ij")
    mapped = np.einsum("bij,jn->bin", m.numpy(), np.stack([xs.ravel(), ys.ravel(), np.ones(H * W)]))
    sx, sy = mapped[:, 0].reshape(-1, H, W), mapped[:, 1].reshape(-1, H, W)
    interior = (sx > 1.01) & (sx < W - 1.01) & (sy > 1.01) & (sy < H - 1.01)
    # Coordinates differ in the last float32 bits (about 1e-5 px), times gradients of up to ~100 levels.
    np.testing.assert_allclose(ours[interior], theirs[interior], atol=1e-2)


# --- properties --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float16])
def test_identity_is_exact_and_dtype_is_kept(small_photos, dtype):
    x = small_photos.astype(dtype) / (255 if dtype != np.uint8 else 1)
    x = x.astype(dtype)
    for interpolation in ("nearest", "bilinear"):
        out = transform(x, identity_matrix(4), interpolation, fill_value=0.5)
        assert out.dtype == dtype
        np.testing.assert_array_equal(out.numpy(), x)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_non_square_batches_keep_dtype_and_fill(small_photos, batch, dtype):
    x = small_photos[:batch].astype(dtype)  # 24x40
    fill = 128 if dtype == np.uint8 else 0.5
    out = geometry.translate_y(x, np.arange(batch, dtype=np.float32) + 1, "bilinear", fill).numpy()
    assert out.shape == x.shape and out.dtype == dtype
    for i in range(batch):
        np.testing.assert_array_equal(out[i, : 24 - (i + 1)], x[i, i + 1 :])
        assert (out[i, 24 - (i + 1) :] == np.asarray(fill, dtype)).all()


def test_per_image_parameters_equal_single_image_calls(images):
    m = compose(rotation_matrix(ANGLES, H, W), shear_y_matrix(SHEARS))
    batch = transform(images, m, "bilinear").numpy()
    for i in range(len(images)):
        np.testing.assert_array_equal(batch[i], transform(images[i : i + 1], m[i : i + 1], "bilinear").numpy()[0])


def test_jit_compile_equals_eager(images):
    m = compose(rotation_matrix(ANGLES, H, W), shear_x_matrix(SHEARS))
    eager = geometry._transform.python_function  # plain TensorFlow ops, no XLA
    for dtype in (np.uint8, np.float32):
        x = tf.constant(images.astype(dtype))
        for interpolation in ("nearest", "bilinear"):
            compiled = tf.function(lambda a: transform(a, m, interpolation), jit_compile=True)(x).numpy()
            reference = eager(x, m, interpolation, 128).numpy()
            if interpolation == "nearest":
                np.testing.assert_array_equal(compiled, reference)
            elif dtype == np.uint8:
                d = _diff(compiled, reference)
                assert d.max() <= 1 and (d == 0).mean() >= 0.999  # measured identical
            else:
                np.testing.assert_allclose(compiled, reference, atol=1e-3)


def test_vectorised_and_shape_polymorphic():
    spec = tf.TensorSpec([None, None, None, 3], tf.uint8)
    traced = tf.function(lambda x, m: geometry._transform.python_function(x, m, "bilinear", 128))
    concrete = traced.get_concrete_function(spec, tf.TensorSpec([None, 3, 3], tf.float32))
    op_types = {op.type for op in concrete.graph.get_operations()}
    assert not op_types & {"While", "StatelessWhile", "TensorListReserve", "TensorListFromTensor"}
    for shape in ([1, 5, 7, 3], [3, 24, 40, 3]):
        x = tf.zeros(shape, tf.uint8)
        assert concrete(x, identity_matrix(shape[0])).shape == shape


def test_identity_batch_skips_resampling(small_photos):
    x = tf.constant(small_photos)
    eye = identity_matrix(4)
    assert transform(x, eye, "bilinear") is x  # eagerly, the tf.cond returns the input itself
    np.testing.assert_array_equal(transform(x[..., 0], eye[0]).numpy(), small_photos[..., 0])  # masks
    # The kernel the cond skips is exact on identities too (a batch with any other matrix runs it).
    mixed = translate_x_matrix([0.0, 0.0, 3.0, 0.0])
    for interpolation in ("nearest", "bilinear"):
        np.testing.assert_array_equal(geometry._transform(x, eye, interpolation, 128).numpy(), small_photos)
        out = transform(x, mixed, interpolation).numpy()
        np.testing.assert_array_equal(out[[0, 1, 3]], small_photos[[0, 1, 3]])
        np.testing.assert_array_equal(out[2, :, :-3], small_photos[2, :, 3:])
        # Under jit_compile the cond is an XLA conditional: both branches compile.
        compiled = tf.function(lambda a, m: transform(a, m, interpolation), jit_compile=True)
        np.testing.assert_array_equal(compiled(x, eye).numpy(), small_photos)
        np.testing.assert_array_equal(compiled(x, mixed).numpy(), out)


def _documented_product(m, xs, ys):
    """Row `k` of the source points as `_source_points` documents them, in numpy float32 (which rounds
    every operation): `(m[k, 0] * x + m[k, 1] * y) + m[k, 2]` per matrix."""
    return lambda k: (m[:, k, 0, None, None] * xs + m[:, k, 1, None, None] * ys) + m[:, k, 2, None, None]


def test_source_points_are_the_documented_float32_product(rng):
    # (m00 * x + m01 * y) + m02 in float32, each operation rounded (then divided by the third row): no
    # fused multiply-add, eager or under XLA, so nearest's ties are the same on every path.
    m = rng.normal(size=(6, 3, 3)).astype(np.float32) * [[20, 20, 50], [20, 20, 50], [0.01, 0.01, 1]]
    m[:3, 2] = [0, 0, 1]  # affine ones too
    m = m.astype(np.float32)
    centres = np.arange(9, dtype=np.float32) + 0.5
    ys, xs = np.meshgrid(centres[:7], centres, indexing="ij")

    row = _documented_product(m, xs, ys)
    expected = (row(0) / row(2), row(1) / row(2))
    for source_points in (geometry._source_points, tf.function(geometry._source_points, jit_compile=True)):
        got = source_points(tf.constant(m), 6, 7, 9)
        for g, e in zip(got, expected):
            np.testing.assert_array_equal(g.numpy(), e)


def test_nearest_samples_are_the_documented_product_in_every_computation(rng):
    # Where the product sits inside a larger XLA computation (the index map alone, or fused with the
    # gather of `transform`), XLA would contract `m00 * x + m01 * y` into a fused multiply-add: about 2 in
    # a million samples then move (19 of 9.6 million measured with AugMix-like matrices at 224 x 224).
    batch, side = 64, 224
    m = compose(
        rotation_matrix(rng.uniform(-30, 30, batch).astype(np.float32), side, side),
        shear_x_matrix(rng.uniform(-0.3, 0.3, batch).astype(np.float32)),
        translate_y_matrix(rng.uniform(-60, 60, batch).astype(np.float32)),
    ).numpy()
    centres = np.arange(side, dtype=np.float32) + 0.5
    ys, xs = np.meshgrid(centres, centres, indexing="ij")

    row = _documented_product(m, xs, ys)
    fx, fy = np.floor(row(0)), np.floor(row(1))
    inside = (fx >= 0) & (fx < side) & (fy >= 0) & (fy < side)
    first_row = np.arange(batch)[:, None, None] * side
    expected = np.where(inside, (first_row + np.clip(fy, 0, side - 1)) * side + np.clip(fx, 0, side - 1), -1)
    rows = tf.range(batch)
    index = geometry.nearest_index(tf.constant(m), rows, side, side, affine=True)
    np.testing.assert_array_equal(index.numpy(), expected)
    # The same map computed inside a larger XLA computation that consumes it.
    inlined = tf.function(lambda m: geometry.nearest_index(m, rows, side, side, affine=True) + 0, jit_compile=True)
    np.testing.assert_array_equal(inlined(tf.constant(m)).numpy(), expected)
    # `transform` gathers in the same computation: images whose values are their own flat index.
    flat = tf.reshape(tf.range(batch * side * side), [batch, side, side, 1])
    sampled = transform(flat, tf.constant(m), "nearest", fill_value=-1)[..., 0].numpy()
    np.testing.assert_array_equal(sampled, expected)


def test_fill_value_per_channel_and_per_image_and_masks(small_photos):
    x = small_photos[:2]
    gone = translate_x_matrix([100.0, 100.0])
    out = transform(x, gone, fill_value=[10, 20, 30]).numpy()
    assert (out == [10, 20, 30]).all()
    out = transform(x, gone, "bilinear", fill_value=[[1, 2, 3], [4, 5, 6]]).numpy()
    assert (out[0] == [1, 2, 3]).all() and (out[1] == [4, 5, 6]).all()
    assert (transform(x, gone, fill_value=300).numpy() == 255).all()  # clipped, not wrapped
    masks = x[..., 0]
    shifted = geometry.translate_x(masks, 4.0, fill_value=0).numpy()
    assert shifted.shape == masks.shape
    np.testing.assert_array_equal(shifted[:, :, :-4], masks[:, :, 4:])
    assert (shifted[:, :, -4:] == 0).all()


def test_bad_arguments_raise(small_photos):
    with pytest.raises(ValueError, match="`interpolation` must be one of .*'cubic'"):
        transform(small_photos, identity_matrix(4), "cubic")
    with pytest.raises(ValueError, match=r"`images` must be \[B, H, W, C\]"):
        transform(small_photos[0, 0], identity_matrix(4))
    with pytest.raises(ValueError, match=r"`matrices` must be \[B, 3, 3\]"):
        transform(small_photos, tf.zeros([4, 2, 3]))
    with pytest.raises(ValueError, match="at least one matrix"):
        compose()


def test_nearest_index_and_marked_equal_transform_with_zero_fill(images):
    # Output i resamples image rows[i] (rows repeat and reorder the batch); affine matrices skip the division.
    rows = np.array([2, 0, 2, 3, 1, 0], np.int32)
    m = compose(
        rotation_matrix(np.array([-30.0, 12.5, 7.0, 0.0, 135.0, 0.0], np.float32), H, W),
        translate_x_matrix(np.array([3.0, -7.5, 0.0, 0.0, 2.0, 0.0], np.float32)),
    )
    for affine in (False, True):
        index = geometry.nearest_index(m, tf.constant(rows), H, W, affine=affine)
        pixels, inside = geometry.nearest_marked(tf.constant(images), index)
        expected = transform(images[rows], m, "nearest", fill_value=0).numpy()
        np.testing.assert_array_equal(pixels.numpy(), expected)
        marks = transform(np.ones([len(rows), H, W, 1], np.uint8), m, "nearest", fill_value=0).numpy()
        np.testing.assert_array_equal(inside.numpy(), marks)
    assert (marks == 0).any() and (marks[[3, 5]] == 1).all()  # the identity rows are copies, nothing filled
    np.testing.assert_array_equal(pixels.numpy()[[3, 5]], images[[3, 0]])
