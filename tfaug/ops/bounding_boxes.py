"""Bounding boxes in Keras's formats, moved by the same per-image matrices as the pixels.

Boxes come as Keras's dict, `{"boxes": [B, N, 4], "labels": [B, N]}`, in one of the formats of
`keras.utils.bounding_boxes` (`FORMATS`; `rel_` formats are fractions of the image side). Inside, every
box is `xyxy` in pixels, in the continuous coordinates of `tfaug.ops.geometry` (pixel column `j` spans
`[j, j + 1)`), so a box that covers pixel columns `j..k` has `x1 = j`, `x2 = k + 1`.

A geometric op maps every output point to the input point it samples (`tfaug.ops.geometry`), so a box
moves by the inverse matrix: its four corners are mapped, the box becomes their enclosing box, clipped to
the image. A box left with no area gets the padding label -1, as Keras's own layers do.
"""

import tensorflow as tf

FORMATS = ("xyxy", "yxyx", "xywh", "center_xywh", "rel_xyxy", "rel_yxyx", "rel_xywh", "rel_center_xywh")
#: The label of a padding (or dropped) box, as in Keras.
PADDING_LABEL = -1


def check_format(bounding_box_format, owner="bounding_box_format"):
    """Returns `bounding_box_format` if it is one of `FORMATS`, else raises a `ValueError`."""
    if bounding_box_format not in FORMATS:
        raise ValueError(f"`{owner}` must be one of {list(FORMATS)}, got {bounding_box_format!r}.")
    return bounding_box_format


def _sides(height, width, dtype):
    return tf.cast(height, dtype), tf.cast(width, dtype)


def to_xyxy(boxes, bounding_box_format, height, width):
    """float32 `[..., 4]` pixel `xyxy` boxes from `boxes` in `bounding_box_format` on `height` x `width` images."""
    boxes = tf.cast(boxes, tf.float32)
    h, w = _sides(height, width, tf.float32)
    a, b, c, d = tf.unstack(boxes, 4, axis=-1)
    relative = bounding_box_format.startswith("rel_")
    base = bounding_box_format[4:] if relative else bounding_box_format
    if base == "yxyx":
        a, b, c, d = b, a, d, c
    elif base == "xywh":
        c, d = a + c, b + d
    elif base == "center_xywh":
        a, b, c, d = a - c / 2.0, b - d / 2.0, a + c / 2.0, b + d / 2.0
    if relative:
        a, b, c, d = a * w, b * h, c * w, d * h
    return tf.stack([a, b, c, d], axis=-1)


def from_xyxy(boxes, bounding_box_format, height, width, dtype=tf.float32):
    """`boxes` (float32 pixel `xyxy`, `[..., 4]`) in `bounding_box_format`, cast to `dtype`."""
    h, w = _sides(height, width, tf.float32)
    x1, y1, x2, y2 = tf.unstack(tf.cast(boxes, tf.float32), 4, axis=-1)
    relative = bounding_box_format.startswith("rel_")
    base = bounding_box_format[4:] if relative else bounding_box_format
    if relative:
        x1, y1, x2, y2 = x1 / w, y1 / h, x2 / w, y2 / h
    if base == "yxyx":
        out = (y1, x1, y2, x2)
    elif base == "xywh":
        out = (x1, y1, x2 - x1, y2 - y1)
    elif base == "center_xywh":
        out = ((x1 + x2) / 2.0, (y1 + y2) / 2.0, x2 - x1, y2 - y1)
    else:
        out = (x1, y1, x2, y2)
    result = tf.stack(out, axis=-1)
    if tf.as_dtype(dtype).is_integer:
        result = tf.round(result)
    return tf.cast(result, dtype)


def transform(boxes, matrices):
    """Moves pixel `xyxy` boxes `[B, N, 4]` with the images resampled through `matrices` `[B, 3, 3]`.

    `matrices` map output points to input points (`tfaug.ops.geometry`), so each corner goes through the
    inverse; the result is the enclosing box of the four moved corners (not clipped: see `clip`). Rotated
    boxes grow to hold the rotated rectangle, as in every axis-aligned box format.
    """
    x1, y1, x2, y2 = tf.unstack(tf.cast(boxes, tf.float32), 4, axis=-1)
    xs = tf.stack([x1, x2, x1, x2], axis=-1)  # [B, N, 4 corners]
    ys = tf.stack([y1, y1, y2, y2], axis=-1)
    m = _adjugate(tf.cast(matrices, tf.float32))[:, None, None]  # [B, 1, 1, 3, 3]
    # The adjugate is the inverse times the determinant, which the division by the third row cancels.
    z = m[..., 2, 0] * xs + m[..., 2, 1] * ys + m[..., 2, 2]
    x = (m[..., 0, 0] * xs + m[..., 0, 1] * ys + m[..., 0, 2]) / z
    y = (m[..., 1, 0] * xs + m[..., 1, 1] * ys + m[..., 1, 2]) / z
    return tf.stack([tf.reduce_min(x, -1), tf.reduce_min(y, -1), tf.reduce_max(x, -1), tf.reduce_max(y, -1)], -1)


def _adjugate(m):
    """`[B, 3, 3]` adjugates in closed form: a few elementwise ops, computed alike in every execution mode."""
    a = [[m[:, i, j] for j in range(3)] for i in range(3)]

    def cofactor(i, j):
        rows = [r for r in range(3) if r != i]
        cols = [c for c in range(3) if c != j]
        minor = a[rows[0]][cols[0]] * a[rows[1]][cols[1]] - a[rows[0]][cols[1]] * a[rows[1]][cols[0]]
        return minor if (i + j) % 2 == 0 else -minor

    # adj(M)[i, j] is the cofactor of M[j, i].
    return tf.stack([tf.stack([cofactor(j, i) for j in range(3)], -1) for i in range(3)], -2)


def clip(boxes, labels, height, width):
    """`(boxes, labels)`: pixel `xyxy` boxes clipped to the image; boxes left without area labelled -1."""
    h, w = _sides(height, width, tf.float32)
    x1, y1, x2, y2 = tf.unstack(boxes, 4, axis=-1)
    x1, x2 = tf.clip_by_value(x1, 0.0, w), tf.clip_by_value(x2, 0.0, w)
    y1, y2 = tf.clip_by_value(y1, 0.0, h), tf.clip_by_value(y2, 0.0, h)
    empty = (x2 <= x1) | (y2 <= y1)
    labels = tf.where(empty, tf.constant(PADDING_LABEL, labels.dtype), labels)
    return tf.stack([x1, y1, x2, y2], axis=-1), labels


def _area(x1, y1, x2, y2):
    return tf.maximum(x2 - x1, 0.0) * tf.maximum(y2 - y1, 0.0)


def _drop(labels, dropped):
    return tf.where(dropped, tf.constant(PADDING_LABEL, labels.dtype), labels)


def cut(boxes, labels, rectangles):
    """`(boxes, labels)` of images whose `rectangles` were pasted over by another image (CutMix).

    Each box becomes the enclosing box of its visible part, the box minus the rectangle: it shrinks only
    where the rectangle covers it across its full height (its left or right side) or full width (its top
    or bottom). A box more than half covered, or with nothing left visible, gets the label -1 and keeps
    its coordinates. An empty rectangle (nothing pasted) leaves its image's boxes and labels as they are.

    Args:
        boxes: float32 pixel `xyxy` `[B, N, 4]`; labels: `[B, N]`.
        rectangles: float32 pixel `xyxy` `[B, 4]`, one pasted rectangle per image.
    """
    x1, y1, x2, y2 = tf.unstack(boxes, 4, axis=-1)
    rx1, ry1, rx2, ry2 = tf.unstack(rectangles[:, None, :], 4, axis=-1)
    pasted = (rx2 > rx1) & (ry2 > ry1)
    full_height = pasted & (ry1 <= y1) & (ry2 >= y2)
    full_width = pasted & (rx1 <= x1) & (rx2 >= x2)
    # Where the rectangle spans the box's height, it cuts off the sides it reaches past; likewise in y.
    left = tf.where(full_height & (rx1 <= x1) & (rx2 > x1), rx2, x1)
    right = tf.where(full_height & (rx1 < x2) & (rx2 >= x2), rx1, x2)
    top = tf.where(full_width & (ry1 <= y1) & (ry2 > y1), ry2, y1)
    bottom = tf.where(full_width & (ry1 < y2) & (ry2 >= y2), ry1, y2)
    covered = _area(tf.maximum(x1, rx1), tf.maximum(y1, ry1), tf.minimum(x2, rx2), tf.minimum(y2, ry2))
    hidden = (covered > 0.5 * _area(x1, y1, x2, y2)) | (right <= left) | (bottom <= top)
    dropped = pasted & hidden
    visible = tf.stack([left, top, right, bottom], axis=-1)
    return tf.where(dropped[..., None], boxes, visible), _drop(labels, dropped)


def paste(boxes, labels, rectangles):
    """`(boxes, labels)` of a partner image's boxes once its `rectangles` are pasted into another image.

    Each box is clipped to the rectangle (their intersection). A box with less than half of its area
    inside the rectangle, or none, gets the label -1 and keeps its coordinates; with an empty rectangle
    (nothing pasted) every label is -1.

    Args:
        boxes: float32 pixel `xyxy` `[B, N, 4]` (row i: the boxes of the image pasted into image i);
            labels: `[B, N]`.
        rectangles: float32 pixel `xyxy` `[B, 4]`, the pasted rectangle of each image.
    """
    x1, y1, x2, y2 = tf.unstack(boxes, 4, axis=-1)
    rx1, ry1, rx2, ry2 = tf.unstack(rectangles[:, None, :], 4, axis=-1)
    inside = tf.stack([tf.maximum(x1, rx1), tf.maximum(y1, ry1), tf.minimum(x2, rx2), tf.minimum(y2, ry2)], -1)
    ix1, iy1, ix2, iy2 = tf.unstack(inside, 4, axis=-1)
    empty = (ix2 <= ix1) | (iy2 <= iy1)
    dropped = empty | (_area(ix1, iy1, ix2, iy2) < 0.5 * _area(x1, y1, x2, y2))
    return tf.where(dropped[..., None], boxes, inside), _drop(labels, dropped)
