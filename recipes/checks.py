"""Argument checks shared by the recipes (the layers' own are `tfaug.validation`, which these build on).

Each error names the argument, the value and the expected form, as `tfaug.validation`'s do.
"""

import numbers

import keras
import tensorflow as tf

from tfaug import validation as v


def check_model(name, model):
    """ValueError unless `model` is a `keras.Model`."""
    if not isinstance(model, keras.Model):
        raise ValueError(f"`{name}` must be a keras.Model, got {type(model).__name__}: {model!r}.")


def check_selection(threshold, soft, balance, from_logits):
    """Checks `recipes.pseudo_label`'s selection arguments; returns `threshold` as a float."""
    threshold = v.check_probability("threshold", threshold)
    v.check_bool("soft", soft)
    v.check_bool("from_logits", from_logits)
    if not (balance is None or balance == "auto" or (_is_int(balance) and balance >= 1)):
        raise ValueError(f"`balance` must be None, a positive int or 'auto', got {balance!r}.")
    return threshold


def images_only(ds):
    """`ds` (the unlabeled images) as unbatched images; ValueError unless it yields single image tensors."""
    spec = getattr(ds, "element_spec", None)
    if not isinstance(spec, tf.TensorSpec):
        raise ValueError(
            "`unlabeled_ds` must be a tf.data.Dataset that yields images only (no labels), got "
            f"element_spec {spec!r}; map it with `lambda image, label: image` first."
        )
    if spec.shape.rank not in (3, 4):
        raise ValueError(f"`unlabeled_ds` must yield images [H, W, C] or batches [B, H, W, C], got {spec.shape}.")
    return ds.unbatch() if spec.shape.rank == 4 else ds


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


__all__ = ["check_model", "check_selection", "images_only"]
