"""`tf.data` map functions: the layers' augmentations as functions for `Dataset.map` after `batch`.

Each factory builds the layer with the same arguments and returns a function that runs the layer's
pure-TensorFlow path (no Keras machinery), so it works whatever `KERAS_BACKEND` is set to. Elements may
be an image tensor, `(images, labels)` or a dict, exactly as for the layers.

Seeds: the function keeps a call counter, so the n-th batch it sees gets the n-th seed. With a parallel
`map` the order in which batches reach the counter can vary; for bit-reproducible parallel pipelines
put `enumerate()` before `map`: the element index then picks the seed. Enumerate after `repeat()`
(or shift the index by the epoch): `enumerate()` restarts at 0 on every pass, so without it every
epoch would get the same draws.

    >>> ds = ds.batch(64).map(tfaug.data.cutmix(alpha=1.0, num_classes=10, seed=0))
    >>> ds = ds.batch(64).repeat().enumerate().map(tfaug.data.mixup(seed=0), num_parallel_calls=tf.data.AUTOTUNE)
"""

import tensorflow as tf

from tfaug.data.decode import decode_center_crop
from tfaug.data.decode import decode_random_resized_crop
from tfaug.data.pipeline import eval_pipeline
from tfaug.data.pipeline import train_pipeline
from tfaug.layers import AugMix
from tfaug.layers import AutoAugment
from tfaug.layers import ColorJitter
from tfaug.layers import Corruption
from tfaug.layers import CutMix
from tfaug.layers import Cutout
from tfaug.layers import GaussianNoise
from tfaug.layers import LabelSmoothing
from tfaug.layers import MixUp
from tfaug.layers import MixUpCutMix
from tfaug.layers import RandAugment
from tfaug.layers import RandConv
from tfaug.layers import RandomApply
from tfaug.layers import RandomChoice
from tfaug.layers import RandomCorruption
from tfaug.layers import RandomErasing
from tfaug.layers import RandomFlip
from tfaug.layers import RandomGrayscale
from tfaug.layers import RandomOrder
from tfaug.layers import RandomResizedCrop
from tfaug.layers import ResizeMix
from tfaug.layers import SaliencyMix
from tfaug.layers import StyleAugmentation
from tfaug.layers import TrivialAugmentWide


def map_fn(layer):
    """Turns any tfaug layer into a `Dataset.map` function (`fn.layer` is the layer)."""

    # tfaug's graph code needs no AutoGraph (no Python control flow on tensors): unconverted, `Dataset.map`
    # traces it directly instead of converting every function it calls first.
    @tf.autograph.experimental.do_not_convert
    def augment(*args):
        if len(args) == 2 and _is_index(args[0]):
            index, element = args
            return layer.augment(element, seed=layer.seed_for_index(index))
        return layer.augment(args[0] if len(args) == 1 else tuple(args))

    augment.layer = layer
    return augment


def _is_index(value):
    value = tf.convert_to_tensor(value) if not isinstance(value, (tuple, dict)) else value
    return isinstance(value, tf.Tensor) and value.shape.rank == 0 and value.dtype.is_integer


def cutmix(**kwargs):
    """Map function of `tfaug.layers.CutMix(**kwargs)`."""
    return map_fn(CutMix(**kwargs))


def mixup(**kwargs):
    """Map function of `tfaug.layers.MixUp(**kwargs)`."""
    return map_fn(MixUp(**kwargs))


def mixup_cutmix(**kwargs):
    """Map function of `tfaug.layers.MixUpCutMix(**kwargs)`."""
    return map_fn(MixUpCutMix(**kwargs))


def cutout(**kwargs):
    """Map function of `tfaug.layers.Cutout(**kwargs)`."""
    return map_fn(Cutout(**kwargs))


def random_erasing(**kwargs):
    """Map function of `tfaug.layers.RandomErasing(**kwargs)`."""
    return map_fn(RandomErasing(**kwargs))


def random_resized_crop(size, **kwargs):
    """Map function of `tfaug.layers.RandomResizedCrop(size, **kwargs)`, on batches of decoded images (for
    encoded ones, before batching, see `decode_random_resized_crop`)."""
    return map_fn(RandomResizedCrop(size, **kwargs))


def resize_mix(**kwargs):
    """Map function of `tfaug.layers.ResizeMix(**kwargs)`."""
    return map_fn(ResizeMix(**kwargs))


def saliency_mix(**kwargs):
    """Map function of `tfaug.layers.SaliencyMix(**kwargs)`."""
    return map_fn(SaliencyMix(**kwargs))


def label_smoothing(**kwargs):
    """Map function of `tfaug.layers.LabelSmoothing(**kwargs)`."""
    return map_fn(LabelSmoothing(**kwargs))


def rand_augment(**kwargs):
    """Map function of `tfaug.layers.RandAugment(**kwargs)`."""
    return map_fn(RandAugment(**kwargs))


def auto_augment(**kwargs):
    """Map function of `tfaug.layers.AutoAugment(**kwargs)`."""
    return map_fn(AutoAugment(**kwargs))


def trivial_augment_wide(**kwargs):
    """Map function of `tfaug.layers.TrivialAugmentWide(**kwargs)`."""
    return map_fn(TrivialAugmentWide(**kwargs))


def aug_mix(**kwargs):
    """Map function of `tfaug.layers.AugMix(**kwargs)`."""
    return map_fn(AugMix(**kwargs))


def corruption(corruption, **kwargs):
    """Map function of `tfaug.layers.Corruption(corruption, **kwargs)`."""
    return map_fn(Corruption(corruption, **kwargs))


def random_corruption(**kwargs):
    """Map function of `tfaug.layers.RandomCorruption(**kwargs)`."""
    return map_fn(RandomCorruption(**kwargs))


def rand_conv(**kwargs):
    """Map function of `tfaug.layers.RandConv(**kwargs)`."""
    return map_fn(RandConv(**kwargs))


def random_flip(**kwargs):
    """Map function of `tfaug.layers.RandomFlip(**kwargs)`."""
    return map_fn(RandomFlip(**kwargs))


def color_jitter(**kwargs):
    """Map function of `tfaug.layers.ColorJitter(**kwargs)`."""
    return map_fn(ColorJitter(**kwargs))


def gaussian_noise(**kwargs):
    """Map function of `tfaug.layers.GaussianNoise(**kwargs)`."""
    return map_fn(GaussianNoise(**kwargs))


def random_grayscale(**kwargs):
    """Map function of `tfaug.layers.RandomGrayscale(**kwargs)`."""
    return map_fn(RandomGrayscale(**kwargs))


def random_apply(layer, **kwargs):
    """Map function of `tfaug.layers.RandomApply(layer, **kwargs)`.

    With `enumerate()` the element index picks the seed of tfaug inner layers too; a Keras inner layer draws
    from its own seed generator, in the order batches reach the map.
    """
    return map_fn(RandomApply(layer, **kwargs))


def random_choice(layers, **kwargs):
    """Map function of `tfaug.layers.RandomChoice(layers, **kwargs)` (seeds as for `random_apply`)."""
    return map_fn(RandomChoice(layers, **kwargs))


def random_order(layers, **kwargs):
    """Map function of `tfaug.layers.RandomOrder(layers, **kwargs)` (seeds as for `random_apply`)."""
    return map_fn(RandomOrder(layers, **kwargs))


def style_augmentation(encoder, decoder, **kwargs):
    """Map function of `tfaug.layers.StyleAugmentation(encoder, decoder, **kwargs)`.

    With `style_source="random"`, `adapt()` the layer (`fn.layer.adapt(style_images)`) before the pipeline
    runs; without it every batch updates the layer's style statistics in the order batches reach the map,
    which a parallel map does not fix.
    """
    return map_fn(StyleAugmentation(encoder, decoder, **kwargs))


#: The functions of `__all__` that are no layer's map function: per-element decoding and pipelines (the rest of
#: `__all__`, `map_fn` aside, are the registry's map functions, named as the layers' registry names).
PIPELINE_FUNCTIONS = ("decode_center_crop", "decode_random_resized_crop", "eval_pipeline", "train_pipeline")

__all__ = [
    "aug_mix",
    "auto_augment",
    "color_jitter",
    "corruption",
    "cutmix",
    "cutout",
    "decode_center_crop",
    "decode_random_resized_crop",
    "eval_pipeline",
    "gaussian_noise",
    "label_smoothing",
    "map_fn",
    "mixup",
    "mixup_cutmix",
    "rand_augment",
    "rand_conv",
    "random_apply",
    "random_choice",
    "random_corruption",
    "random_erasing",
    "random_flip",
    "random_grayscale",
    "random_order",
    "random_resized_crop",
    "resize_mix",
    "saliency_mix",
    "style_augmentation",
    "train_pipeline",
    "trivial_augment_wide",
]
