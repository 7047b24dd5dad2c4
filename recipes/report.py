"""Pictures of a training run: loss and accuracy curves, a confusion matrix, class activation maps.

Used by `recipes.train`; each function writes one PNG with matplotlib (the Agg backend, no display).
"""

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(history, path, title=None):
    """Writes loss and accuracy per epoch (training, and test when `history` has `val_` entries) to `path`.

    Args:
        history: `keras.callbacks.History.history`: a dict of per-epoch lists (`loss`, `accuracy`,
            `val_loss`, `val_accuracy`; missing entries are left out).
        path: PNG file to write.
        title: optional figure title.
    """
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for key, label, style in ((metric, "training", "-o"), (f"val_{metric}", "test", "-s")):
            values = history.get(key)
            if values:
                ax.plot(np.arange(1, len(values) + 1), values, style, markersize=3, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    axes[0].set_title("loss (training: on augmented batches)", fontsize=9)
    axes[1].set_title("accuracy", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_confusion_matrix(matrix, class_names, path):
    """Writes a confusion matrix (rows: true class, columns: predicted class) with its counts to `path`."""
    plt = _pyplot()
    matrix = np.asarray(matrix)
    k = len(class_names)
    side = min(12.0, 2.5 + 0.45 * k)
    fig, ax = plt.subplots(figsize=(side, side * 0.9))
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if k <= 30:
        ax.set_xticks(range(k), labels=class_names, rotation=90 if k > 10 else 0, fontsize=8)
        ax.set_yticks(range(k), labels=class_names, fontsize=8)
    if k <= 20:
        threshold = matrix.max() / 2 if matrix.size else 0
        for i in range(k):
            for j in range(k):
                if matrix[i, j]:
                    colour = "white" if matrix[i, j] > threshold else "black"
                    ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7, color=colour)
    accuracy = np.trace(matrix) / max(1, matrix.sum())
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"test confusion matrix (accuracy {accuracy:.1%}, {matrix.sum()} images)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def pick_examples(labels, count=8):
    """Indices of up to `count` test images, one per class first (the first of each), in class order."""
    labels = np.asarray(labels)
    firsts = [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)]
    chosen = firsts[:count]
    rest = [i for i in range(len(labels)) if i not in set(chosen)]
    return chosen + rest[: count - len(chosen)]


def write_cams(model, images, labels, class_names, path, count=8):
    """Writes class activation maps of the predicted class for a few test images to `path`.

    Needs `tfaug.viz.class_activation_maps` and `tfaug.viz.plot_maps`; returns False (and writes nothing)
    when this version of tfaug has no class activation maps, True otherwise.
    """
    import tfaug.viz

    if not (hasattr(tfaug.viz, "class_activation_maps") and hasattr(tfaug.viz, "plot_maps")):
        return False
    index = pick_examples(labels, count)
    chosen = np.asarray(images)[index].astype(np.float32)
    maps, classes = tfaug.viz.class_activation_maps(model, chosen)
    titles = [
        f"true {class_names[labels[i]]}, predicted {class_names[int(c)]}" for i, c in zip(index, np.asarray(classes))
    ]
    tfaug.viz.plot_maps(chosen, np.asarray(maps), path, titles=titles)
    return True


def plot_corruption_errors(result, path, title=None):
    """Writes the error per corruption and severity of a `recipes.robustness.corruption_errors` result to
    `path`: one group of bars per corruption (light to dark: severity 1 to 5), the clean error as a line."""
    plt = _pyplot()
    names, severities = result["corruptions"], result["severities"]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.55 * len(names) + 1.5), 3.8))
    width = 0.8 / len(severities)
    colors = plt.cm.Blues(np.linspace(0.35, 0.95, len(severities)))
    for j, severity in enumerate(severities):
        errors = [result["errors"][name][j] for name in names]
        ax.bar(
            np.arange(len(names)) + (j - (len(severities) - 1) / 2) * width,
            errors,
            width,
            color=colors[j],
            label=f"severity {severity}",
        )
    ax.axhline(result["clean_error"], color="black", linestyle="--", linewidth=1, label="clean")
    ax.set_xticks(
        np.arange(len(names)), [name.replace("_", " ") for name in names], rotation=45, ha="right", fontsize=8
    )
    ax.set_ylabel("top-1 error")
    ax.set_ylim(0, 1.15)  # room for the legend above the bars
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, ncol=len(severities) + 1, loc="upper center")
    summary = f"mean error {result['mean_error']:.1%}"
    if result.get("mce") is not None:
        summary += f", mCE {result['mce']:.1f}"
    ax.set_title(f"{title + ': ' if title else ''}{summary}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
