"""Augmentation grids: the originals over their augmented versions, each with its (mixed) label."""

import numpy as np


def describe_label(label, class_names, top=2, threshold=0.005):
    """`"0.62 cat + 0.38 coffee"`: the `top` largest entries of a soft label above `threshold`."""
    label = np.asarray(label, dtype=np.float64)
    order = np.argsort(-label, kind="stable")[:top]
    parts = [f"{label[i]:.2f} {class_names[i]}" for i in order if label[i] > threshold]
    return " + ".join(parts) if parts else "(no label)"


def augmentation_grid(
    originals, original_names, augmented, labels, class_names, path=None, title=None, value_range=(0, 255)
):
    """Draws a 2-row grid: originals (with their class) on top, augmented images (with labels) below.

    Args:
        originals: `[N, H, W, 3]` images before augmentation.
        original_names: `N` class names of the originals.
        augmented: `[N, H, W, 3]` images after augmentation.
        labels: `[N, K]` soft labels of the augmented images.
        class_names: `K` class names.
        path: if given, the PNG is written there.
        title: optional figure title.
        value_range: `(low, high)` of the pixel values, used to scale them for display.

    Returns:
        The matplotlib Figure (closed if `path` was given).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    originals, augmented, labels = np.asarray(originals), np.asarray(augmented), np.asarray(labels)
    n = len(originals)
    fig, axes = plt.subplots(2, n, figsize=(2.0 * n, 4.8), squeeze=False)
    low, high = value_range
    for i in range(n):
        for row, images in enumerate((originals, augmented)):
            ax = axes[row, i]
            ax.imshow(np.clip((images[i].astype(np.float64) - low) / (high - low), 0, 1))
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, i].set_xlabel(original_names[i], fontsize=8)
        axes[1, i].set_xlabel(describe_label(labels[i], class_names), fontsize=7)
    axes[0, 0].set_ylabel("original")
    axes[1, 0].set_ylabel("augmented")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
        plt.close(fig)
    return fig
