"""Pictures: augmentation grids, class activation maps and gradient saliency maps."""

from tfaug.viz.grid import augmentation_grid
from tfaug.viz.grid import describe_label
from tfaug.viz.maps import class_activation_maps
from tfaug.viz.maps import overlay
from tfaug.viz.maps import plot_maps
from tfaug.viz.maps import saliency_maps

__all__ = [
    "augmentation_grid",
    "class_activation_maps",
    "describe_label",
    "overlay",
    "plot_maps",
    "saliency_maps",
]
