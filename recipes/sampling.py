"""Class-aware sampling for long-tailed data: count the classes, then draw them at chosen rates.

    >>> counts = recipes.count_classes(train_ds, num_classes=10)          # unbatched (image, label) pairs
    >>> balanced = recipes.resample(train_ds, 10, "class_balanced", seed=0, class_counts=counts)
    >>> model.fit(balanced.batch(128), steps_per_epoch=int(counts.sum()) // 128, epochs=10)

Kang et al. write every strategy as `p_j = n_j^q / sum_k n_k^q` for class `j` with `n_j` examples: `q = 1` is
instance-balanced sampling (each example equally likely, the plain shuffled epoch), `q = 1/2` square-root
sampling and `q = 0` class-balanced sampling (each class equally likely, then an example of it uniformly).

Reference:
    Kang et al., "Decoupling Representation and Classifier for Long-Tailed Recognition", ICLR 2020.
"""

import numpy as np
import tensorflow as tf

from tfaug import validation as v

__all__ = ["STRATEGIES", "count_classes", "resample", "sampling_probabilities"]

#: Strategy name -> the exponent `q` of `p_j ~ n_j^q`.
STRATEGIES = {"instance": 1.0, "square_root": 0.5, "class_balanced": 0.0}


def sampling_probabilities(class_counts, strategy):
    """The probability of drawing each class under `strategy`: `p_j = n_j^q / sum_k n_k^q`.

    Args:
        class_counts: examples of each class `[K]`, finite and > 0 (e.g. `count_classes(...)`).
        strategy: "instance" (`q = 1`, `p ~ n`), "square_root" (`q = 1/2`, `p ~ sqrt(n)`) or "class_balanced"
            (`q = 0`, `p = 1/K`).

    Returns:
        `np.float64 [K]`, positive, summing to 1.

    Raises:
        ValueError: for an unknown `strategy`, or counts that are not a non-empty 1-D list of finite numbers
            > 0 (a class with no examples is named: no strategy can draw it).

    Example:
        >>> recipes.sampling_probabilities([100, 25, 1], "square_root")
        array([0.625 , 0.3125, 0.0625])
    """
    exponent = STRATEGIES[v.check_choice("strategy", strategy, STRATEGIES)]
    counts = _check_counts(class_counts)
    weights = counts**exponent
    return weights / weights.sum()


def count_classes(dataset, num_classes):
    """Examples of each class in a finite dataset of unbatched `(x, y)` pairs, in one pass.

    Args:
        dataset: a finite `tf.data.Dataset` of unbatched `(x, y)` pairs; `y` an int class index (scalar) or a
            one-hot (or probability) vector `[num_classes]`, counted as its argmax.
        num_classes: number of classes `K`, >= 1.

    Returns:
        `np.int64 [K]`.

    Raises:
        ValueError: for a dataset that is not a finite dataset of such pairs, or a class index outside
            `[0, K)`.
    """
    num_classes = v.check_int("num_classes", num_classes, low=1)
    class_of = _class_function(dataset, num_classes, "dataset")
    if dataset.cardinality() == tf.data.INFINITE_CARDINALITY:
        raise ValueError("`dataset` must be finite to count its classes (pass `class_counts` to `resample`).")

    # Bucket K collects out-of-range labels, reported below instead of silently dropped.
    def add(total, classes):
        valid = (classes >= 0) & (classes < num_classes)
        buckets = tf.where(valid, classes, num_classes)
        return total + tf.math.bincount(buckets, minlength=num_classes + 1, maxlength=num_classes + 1, dtype=tf.int64)

    classes = dataset.map(lambda x, y: class_of(y)).batch(4096)
    counts = classes.reduce(tf.zeros([num_classes + 1], tf.int64), add).numpy()
    if counts[-1]:
        raise ValueError(f"`dataset` has {counts[-1]} labels outside [0, {num_classes}) (`num_classes`={num_classes}).")
    return counts[:-1]


def resample(dataset, num_classes, strategy="class_balanced", seed=None, class_counts=None, cache=True):
    """An infinite stream of `dataset`'s elements with each class drawn at the rate of `strategy`.

    Each element of the result independently picks a class `j` with probability `p_j` (see
    `sampling_probabilities`), then takes the next example of class `j` from that class's own stream, which
    cycles through the class's examples in a fresh random order on every pass. The elements are the source's
    unbatched `(x, y)` pairs, unchanged; batch the result. (Kang et al.'s code instead cycles through the
    classes in a shuffled order, a few examples of a class at a time: the same frequencies, less variance.)

    Memory and passes: each class's stream filters the source, so building the K streams reads the source K
    times (once per class, lazily, as each class is first exhausted). With `cache=True` (default) each class
    keeps its examples in memory after its first pass: the whole dataset is held in memory once, and later
    passes read no source. With `cache=False` nothing is kept, but class `j`'s stream reads the whole source
    again for every `n_j` examples it gives (a rare class costs many source reads per example); the order
    within a class is then the source's, so let the source reshuffle itself on every pass.

    Args:
        dataset: a `tf.data.Dataset` of unbatched `(x, y)` pairs, `y` an int class index or a one-hot vector.
        num_classes: number of classes `K`, >= 1.
        strategy: "class_balanced" (default), "square_root" or "instance".
        seed: int seed of the class draws and of the per-class shuffles: the same seed gives the same stream.
            Default None (not reproducible).
        class_counts: examples of each class `[K]`, if known; counted with `count_classes` (one extra pass)
            otherwise. They must be the dataset's true counts: a class given a count but with no examples
            ends the stream when it is first drawn.
        cache: keep each class's examples in memory after its first pass. Default True.

    Returns:
        An infinite `tf.data.Dataset` with the element spec of `dataset`.

    Raises:
        ValueError: for an unknown `strategy`, a class with no examples (named), counts of the wrong length,
            or another bad argument (named).

    Example:
        >>> ds = tf.data.Dataset.from_tensor_slices((images, labels))
        >>> ds = recipes.resample(ds, 10, "square_root", seed=0).batch(64).prefetch(tf.data.AUTOTUNE)

    Reference:
        Kang et al., "Decoupling Representation and Classifier for Long-Tailed Recognition", ICLR 2020.
    """
    v.check_choice("strategy", strategy, STRATEGIES)
    num_classes = v.check_int("num_classes", num_classes, low=1)
    class_of = _class_function(dataset, num_classes, "dataset")
    if seed is not None:
        seed = v.check_int("seed", seed, low=0)
    v.check_bool("cache", cache)
    if class_counts is None:
        class_counts = count_classes(dataset, num_classes)
    counts = _check_counts(class_counts, num_classes)
    probabilities = sampling_probabilities(counts, strategy)

    streams = []
    for j in range(num_classes):
        stream = dataset.filter(lambda x, y, j=j: tf.equal(class_of(y), j))
        if cache:
            stream = stream.cache()
        # The per-class seeds differ from each other and from the class draws' seed.
        stream_seed = None if seed is None else int(np.random.SeedSequence([seed, j]).generate_state(1)[0])
        stream = stream.shuffle(max(1, int(min(counts[j], 2**31 - 1))), seed=stream_seed, reshuffle_each_iteration=True)
        streams.append(stream.repeat())
    return tf.data.Dataset.sample_from_datasets(
        streams, weights=probabilities.tolist(), seed=seed, stop_on_empty_dataset=True
    )


def _check_counts(class_counts, num_classes=None):
    try:
        counts = np.asarray(class_counts, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"`class_counts` must be a list of numbers, got {class_counts!r}.") from None
    if counts.ndim != 1 or counts.size == 0 or (num_classes is not None and counts.size != num_classes):
        expected = "a non-empty 1-D list" if num_classes is None else f"a 1-D list of {num_classes} (`num_classes`)"
        raise ValueError(f"`class_counts` must be {expected} counts, got shape {counts.shape}.")
    if not np.all(np.isfinite(counts)):
        raise ValueError(f"`class_counts` must be finite, got {class_counts!r}.")
    empty = np.flatnonzero(counts <= 0)
    if empty.size:
        raise ValueError(
            f"`class_counts` must be > 0 for every class: class(es) {empty.tolist()} have "
            f"{counts[empty].tolist()} examples, and every strategy draws every class."
        )
    return counts


def _class_function(dataset, num_classes, name):
    """`y -> int64 class` for the unbatched labels of `dataset`'s `(x, y)` pairs: an index, or an argmax."""
    if not isinstance(dataset, tf.data.Dataset):
        raise ValueError(f"`{name}` must be a tf.data.Dataset of (x, y) pairs, got {type(dataset).__name__}.")
    spec = dataset.element_spec
    if not isinstance(spec, tuple) or len(spec) != 2 or not isinstance(spec[1], tf.TensorSpec):
        raise ValueError(f"`{name}` must give (x, y) pairs with a tensor label y, got elements {spec}.")
    label = spec[1]
    if label.shape.rank == 0 and (label.dtype.is_integer or label.dtype.is_floating):
        return lambda y: tf.cast(y, tf.int64)
    if label.shape.rank == 1 and label.shape[0] == num_classes:
        return lambda y: tf.argmax(y, output_type=tf.int64)
    raise ValueError(
        f"`{name}` must give unbatched labels: an int class index (a scalar) or a one-hot vector of "
        f"{num_classes} (`num_classes`), got a label {label} (unbatch a batched dataset first)."
    )
