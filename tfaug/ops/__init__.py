"""Pure, batched image kernels: no randomness, every parameter a per-image tensor.

Layers draw parameters with `tfaug.random` and apply them with these functions; the `tf.data` map
functions call the same kernels, so the two cannot drift apart.
"""

from tfaug.ops import compilation_cache as _compilation_cache
from tfaug.ops.boxes import box_area
from tfaug.ops.boxes import box_mask
from tfaug.ops.boxes import centered_boxes
from tfaug.ops.boxes import corner_boxes
from tfaug.ops.boxes import kept_fraction
from tfaug.ops.compilation_cache import enable_compilation_cache
from tfaug.ops.dtypes import from_float
from tfaug.ops.dtypes import to_float
from tfaug.ops.enhance import blend as blend_degenerate
from tfaug.ops.enhance import brightness
from tfaug.ops.enhance import color
from tfaug.ops.enhance import contrast
from tfaug.ops.enhance import grayscale
from tfaug.ops.enhance import sharpness
from tfaug.ops.erasing import fill_boxes
from tfaug.ops.erasing import fill_boxes_from
from tfaug.ops.flips import flip
from tfaug.ops.flips import flip_boxes
from tfaug.ops.geometry import compose
from tfaug.ops.geometry import identity_matrix
from tfaug.ops.geometry import rotate
from tfaug.ops.geometry import rotation_matrix
from tfaug.ops.geometry import shear_x
from tfaug.ops.geometry import shear_x_matrix
from tfaug.ops.geometry import shear_y
from tfaug.ops.geometry import shear_y_matrix
from tfaug.ops.geometry import to_projective_transforms
from tfaug.ops.geometry import transform
from tfaug.ops.geometry import translate_x
from tfaug.ops.geometry import translate_x_matrix
from tfaug.ops.geometry import translate_y
from tfaug.ops.geometry import translate_y_matrix
from tfaug.ops.graph_cut import grid_binary_cut
from tfaug.ops.graph_cut import grid_energy
from tfaug.ops.graph_cut import grid_swap_labels
from tfaug.ops.graph_cut import min_cut
from tfaug.ops.histogram import auto_contrast
from tfaug.ops.histogram import equalize
from tfaug.ops.jitter import add_noise
from tfaug.ops.jitter import adjust_hue
from tfaug.ops.jitter import color_jitter
from tfaug.ops.jitter import grayscale_where
from tfaug.ops.labels import mix as mix_labels
from tfaug.ops.labels import one_hot
from tfaug.ops.labels import smooth as smooth_labels
from tfaug.ops.mixing import blend
from tfaug.ops.mixing import blend_or_paste
from tfaug.ops.mixing import fixed_partner
from tfaug.ops.mixing import paste
from tfaug.ops.point import identity
from tfaug.ops.point import invert
from tfaug.ops.point import posterize
from tfaug.ops.point import solarize
from tfaug.ops.point import solarize_add
from tfaug.ops.saliency import spectral_residual
from tfaug.ops.style import adain
from tfaug.ops.style import adain_from_moments
from tfaug.ops.style import feature_moments
from tfaug.ops.style import gram_matrix
from tfaug.ops.style import style_loss

__all__ = [
    "blend",
    "blend_or_paste",
    "box_area",
    "box_mask",
    "centered_boxes",
    "corner_boxes",
    "enable_compilation_cache",
    "fill_boxes",
    "fill_boxes_from",
    "fixed_partner",
    "from_float",
    "kept_fraction",
    "mix_labels",
    "one_hot",
    "paste",
    "smooth_labels",
    "to_float",
    "compose",
    "identity_matrix",
    "rotate",
    "rotation_matrix",
    "shear_x",
    "shear_x_matrix",
    "shear_y",
    "shear_y_matrix",
    "to_projective_transforms",
    "transform",
    "translate_x",
    "translate_x_matrix",
    "translate_y",
    "translate_y_matrix",
    "grid_binary_cut",
    "grid_energy",
    "grid_swap_labels",
    "min_cut",
    "blend_degenerate",
    "brightness",
    "color",
    "contrast",
    "grayscale",
    "identity",
    "invert",
    "posterize",
    "sharpness",
    "solarize",
    "solarize_add",
    "spectral_residual",
    "auto_contrast",
    "equalize",
    "add_noise",
    "adjust_hue",
    "color_jitter",
    "flip",
    "flip_boxes",
    "grayscale_where",
    "adain",
    "adain_from_moments",
    "feature_moments",
    "gram_matrix",
    "style_loss",
]

# `TFAUG_COMPILATION_CACHE`: the directory of a persistent XLA cache, set before anything compiles.
_compilation_cache.apply_environment()
