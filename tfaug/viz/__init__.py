"""Pictures: augmentation grids (class activation maps come later)."""

from tfaug.viz.grid import augmentation_grid
from tfaug.viz.grid import describe_label

__all__ = ["augmentation_grid", "describe_label"]
