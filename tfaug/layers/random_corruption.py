"""A random ImageNet-C corruption (`tfaug.corruptions`) per image, as an augmentation layer."""

import keras
import tensorflow as tf

from tfaug import corruptions
from tfaug import random as tfr
from tfaug.layers._corrupting import CorruptionLayer
from tfaug.ops.selection import apply_to_rows
from tfaug.ops.selection import first_slot_results
from tfaug.ops.selection import group_rows

#: Most images per chunk when each corruption runs on the images that chose it.
_MAX_CHUNK = 8


@keras.saving.register_keras_serializable(package="tfaug")
class RandomCorruption(CorruptionLayer):
    """Applies a corruption drawn per image from `corruptions`, at a given or random severity.

    Each corruption runs only on the images that drew it (in fixed-size chunks, so the cost follows the
    draw and the graph compiles under XLA), not on the whole batch.

    Warning: training on the corruptions a robustness benchmark evaluates invalidates the benchmark (the
    model has seen the test shift). The default, every corruption, is for data augmentation in general; to
    claim robustness on `tfaug.corruptions.COMMON`, train with `corruptions=tfaug.corruptions.HELD_OUT`
    (or none) and evaluate on `COMMON`, as AugMix's authors do with their own augmentations.

    Args:
        corruptions: names in `tfaug.corruptions.CORRUPTIONS`, drawn uniformly; default all nineteen.
        severity: an int in 1..5, or an inclusive `(low, high)` range of them. Default `(1, 5)`.
        table: `"auto"` (parameters by image size) or one of `tfaug.corruptions.TABLES`.
        value_range, batchwise, seed: see `BaseAugmentation` (`batchwise`: one corruption and severity for
            the whole batch).

    Inputs: as for `Corruption`.

    Example:
        >>> RandomCorruption(tfaug.corruptions.HELD_OUT, severity=(1, 3), seed=0)(images)
    """

    def __init__(self, corruptions=None, severity=(1, 5), table="auto", **kwargs):
        super().__init__(severity=severity, table=table, **kwargs)
        self.corruptions = _check_corruptions(corruptions)

    def _corruptions(self):
        return self.corruptions

    def get_random_transformation(self, data, seed):
        choice_seed, severity_seed, noise_seed = tf.unstack(tfr.split_seed(seed, 3))
        batch_size = tf.shape(data["images"])[0]
        n = 1 if self.batchwise else batch_size
        choice = tfr.randint(choice_seed, [n], 0, len(self.corruptions))
        return {
            "corruption": tf.broadcast_to(choice, [batch_size]),
            "severity": self._draw_severity(severity_seed, batch_size),
            "seed": noise_seed,
        }

    def transform_images(self, images, transformation):
        self._check(images)
        choice, severity, seed = transformation["corruption"], transformation["severity"], transformation["seed"]
        order, starts, counts = group_rows(choice, len(self.corruptions))
        chunk = _chunk_size(images.shape[0], len(self.corruptions))
        out = images
        for k, name in enumerate(self.corruptions):
            # A seed per corruption and chunk (its first row): chunks draw independently. The draws differ by
            # slot, so a repeated row takes its first slot's result.
            @first_slot_results
            def corrupt_rows(rows, chunk_images, chunk_severity, name=name, k=k):
                chunk_seed = tfr.fold_in(tfr.fold_in(seed, k), rows[0])
                return corruptions.apply(chunk_images, name, chunk_severity, chunk_seed, self.table, self.value_range)

            out = apply_to_rows(corrupt_rows, order, starts[k], counts[k], (out, severity), out, chunk, whole=())
        return out

    def get_config(self):
        config = super().get_config()
        config.update(corruptions=list(self.corruptions))
        return config


def _chunk_size(batch_size, num_corruptions):
    """Images per chunk: about the expected number that draw one corruption, at most `_MAX_CHUNK`."""
    if batch_size is None:
        return 2
    return max(1, min(_MAX_CHUNK, batch_size // num_corruptions))


def _check_corruptions(names):
    return tuple(corruptions.CORRUPTIONS) if names is None else corruptions.check_corruptions(names)
