"""The DeiT / timm ImageNet input pipelines in `tf.data`: `train_pipeline` and `eval_pipeline`.

The training pipeline is timm's `create_transform(is_training=True)` plus its `Mixup` collate, run on encoded
images in parallel:

    read (parallel) -> shuffle -> repeat -> enumerate -> decode + random resized crop (per image, JPEGs decoded
    only inside the window) -> batch -> enumerate -> horizontal / vertical flip -> RandAugment (or colour
    jitter) -> your `layers` -> Random Erasing -> MixUp / CutMix with label smoothing -> normalise -> prefetch

Every random stage is seeded by the index `enumerate()` gives its element (per image before batching, per
batch after), so a seeded pipeline gives the same batches in every run, in parallel too; the index runs on
across passes, so every epoch draws afresh. Stage arguments carry timm's names (`hflip`, `auto_augment`,
`reprob`, `mixup_switch_prob`, ...). A stage set to 0 or None is left out.

Where the stages differ from timm's PIL transforms: RandAugment runs on the batch after the crop, with
bilinear geometry (timm: bicubic when `interpolation="bicubic"`) and a grey fill of level 128 (timm: the
mean colour); Random Erasing runs before normalisation, on pixels, so `remode="pixel"` noise is
`N(127.5, 63.75)` clipped to [0, 255] (about timm's `N(0, 1)` on normalised values, which timm does not clip).
MixUp and normalisation are both affine, so their order does not matter.

    >>> train = tfaug.data.train_pipeline("imagenet/train", num_classes=1000, seed=0)   # one class a folder
    >>> model.fit(train, epochs=300, steps_per_epoch=1_281_167 // 128)
    >>> model.evaluate(tfaug.data.eval_pipeline("imagenet/val", num_classes=1000))
"""

import numbers

import tensorflow as tf

from tfaug import ops
from tfaug import validation as v
from tfaug.data.decode import decode_center_crop
from tfaug.data.decode import decode_random_resized_crop
from tfaug.data.sources import open_source
from tfaug.data.sources import stage_seed
from tfaug.layers import ColorJitter
from tfaug.layers import MixUpCutMix
from tfaug.layers import RandAugment
from tfaug.layers import RandomErasing
from tfaug.layers import RandomFlip
from tfaug.layers.base import BaseAugmentation
from tfaug.random import make_seed

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: timm's `remode` -> `RandomErasing`'s `fill`.
ERASE_MODES = {"pixel": "pixel", "rand": "random", "const": "const"}
#: timm's `mixup_mode` -> one draw per batch (timm's default) or per image ("pair" is not offered).
MIXUP_MODES = {"batch": True, "elem": False}


def train_pipeline(
    source,
    num_classes,
    image_size=224,
    batch_size=128,
    *,
    scale=(0.08, 1.0),
    ratio=(3.0 / 4.0, 4.0 / 3.0),
    interpolation="bicubic",
    antialias=False,
    hflip=0.5,
    vflip=0.0,
    auto_augment="rand-m9-mstd0.5-inc1",
    color_jitter=0.4,
    force_color_jitter=False,
    layers=(),
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    mixup=0.8,
    cutmix=1.0,
    cutmix_minmax=None,
    mixup_prob=1.0,
    mixup_switch_prob=0.5,
    mixup_mode="batch",
    smoothing=0.1,
    reprob=0.25,
    remode="pixel",
    recount=1,
    shuffle_buffer=10_000,
    epochs=None,
    seed=None,
    deterministic=True,
    num_parallel_calls=tf.data.AUTOTUNE,
    prefetch=tf.data.AUTOTUNE,
    ignore_errors=False,
    split="train",
    data_dir=None,
    image_key="image/encoded",
    label_key="image/class/label",
):
    """The DeiT / timm training input pipeline: batches of normalised, augmented images and soft labels.

    Args:
        source: where to read `(encoded image, int label)` examples: a `tf.data.Dataset` of them, a folder with
            one sub-folder per class, `(files, labels)`, TFRecord files (a list or a glob pattern), or
            `"tfds:NAME[/SPLIT]"` prepared in `data_dir` (see `tfaug.data.sources`).
        num_classes: number of classes K (labels are one-hot, then mixed and smoothed).
        image_size: output side, an int or `(height, width)`. Default 224.
        batch_size: images a batch, >= 1 (>= 2 with MixUp / CutMix). Default 128.
        scale, ratio: the random resized crop's area fraction and aspect (width / height) ranges (timm's
            defaults); `scale=None` leaves the crop out: the image is resized (shorter side) and centre-cropped.
        interpolation: resizing, `"bicubic"` (DeiT), `"bilinear"` (timm's default) or `"nearest"`.
        antialias: antialiased resizing (as PIL, which timm uses; slower); default False, as TensorFlow's
            reference pipelines.
        hflip, vflip: probability of a horizontal / vertical flip per image. Defaults 0.5 and 0.
        auto_augment: a timm RandAugment string (`RandAugment.from_string`; without `p` the ops apply with
            probability 0.5, timm's default), a tfaug layer, or None. Default `"rand-m9-mstd0.5-inc1"`.
        color_jitter: torchvision `ColorJitter` strength(s): a number for brightness, contrast and saturation, or
            a tuple of 3 or 4 (with hue); applied only without `auto_augment` (timm's rule) unless
            `force_color_jitter`. Default 0.4.
        layers: further tfaug layers run in order on each batch, on float32 pixels in [0, 255] with one-hot
            labels, after RandAugment and before Random Erasing.
        mean, std: normalisation per channel, in [0, 1] units: `(x / 255 - mean) / std`. Both None: left out,
            images stay in [0, 255].
        mixup, cutmix: Beta concentrations (0 turns one off); `cutmix_minmax` box-side bounds as in
            `MixUpCutMix`; `mixup_prob`: chance to mix; `mixup_switch_prob`: chance of CutMix when both are
            on; `mixup_mode`: `"batch"` (one draw a batch, timm's default) or `"elem"` (per image). Images
            are paired with the batch's mirror (image i with B-1-i), as timm does.
        smoothing: label smoothing eps in [0, 1) (also without mixing). Default 0.1.
        reprob, remode, recount: Random Erasing's probability, fill (`"pixel"`, `"rand"` or `"const"`) and
            largest box count (1..recount per image).
        shuffle_buffer: examples in the shuffle buffer (file lists are permuted whole instead); 0 or None: no
            shuffling. Default 10,000.
        epochs: passes over the source; None (default) repeats forever (give `fit` its `steps_per_epoch`).
        seed: int seed of every stage, or None for fresh OS entropy.
        deterministic: keep the element order under parallel stages (with a seed, the same batches every run);
            False lets parallel stages deliver out of order, faster. Default True.
        num_parallel_calls: parallel reads and map calls. Default AUTOTUNE.
        prefetch: batches to prefetch (AUTOTUNE by default; 0 or None: none).
        ignore_errors: skip examples whose bytes do not decode (`Dataset.ignore_errors`); False (default)
            raises `tf.errors.InvalidArgumentError` when such an example is reached.
        split: TFDS split when `source` names none. Default `"train"`.
        data_dir: TFDS data folder (TFDS only; nothing is downloaded).
        image_key, label_key: TFRecord feature keys (TFRecord sources only).

    Returns:
        a `tf.data.Dataset` of `(images, labels)`: float32 `[B, H, W, 3]` and float32 `[B, K]` (rows sum to 1).
        Batches run on across passes (the data repeats before it is batched); with `epochs`, a last partial
        batch is dropped.

    Raises:
        ValueError: for a bad argument (named) or source (see `tfaug.data.sources.open_source`).

    Example:
        >>> ds = train_pipeline("photos/", num_classes=10, image_size=64, batch_size=32, seed=0)
        >>> images, labels = next(iter(ds))   # [32, 64, 64, 3], [32, 10]
    """
    k = v.check_num_classes(num_classes)
    batch_size = v.check_int("batch_size", batch_size, low=1)
    seed = make_seed(seed)
    crop = (
        decode_center_crop(image_size, 1.0, interpolation, antialias=antialias)
        if scale is None
        else decode_random_resized_crop(
            image_size, scale, ratio, interpolation, seed=stage_seed(seed, "crop"), antialias=antialias
        )
    )
    geometry = "nearest" if interpolation == "nearest" else "bilinear"
    pixel_layers = _flips(hflip, vflip, seed)
    augment = _auto_augment(auto_augment, geometry, seed)
    pixel_layers += [augment] if augment is not None else []
    force_color_jitter = v.check_bool("force_color_jitter", force_color_jitter)
    if color_jitter is not None and (augment is None or force_color_jitter):
        pixel_layers += _color_jitter(color_jitter, seed)
    float_layers = _checked_layers(layers)
    if v.check_probability("reprob", reprob) > 0:
        fill = v.check_choice("remode", remode, tuple(ERASE_MODES))
        recount = v.check_int("recount", recount, low=1)
        count = 1 if recount == 1 else (1, recount)
        float_layers.append(
            RandomErasing(
                reprob, fill=ERASE_MODES[fill], count=count, value_range=(0, 255), seed=stage_seed(seed, "erasing")
            )
        )
    smoothing = v.check_probability("smoothing", smoothing)
    mixer = _mixer(mixup, cutmix, cutmix_minmax, mixup_prob, mixup_switch_prob, mixup_mode, smoothing, k, seed)
    if mixer is not None and batch_size < 2:
        raise ValueError(f"`batch_size` must be >= 2 to mix images (mixup / cutmix), got {batch_size}.")
    normalize = _normalizer(mean, std)
    shuffle_buffer = _check_optional_int("shuffle_buffer", shuffle_buffer)
    epochs = None if epochs is None else v.check_int("epochs", epochs, low=1)
    deterministic = v.check_bool("deterministic", deterministic)
    opened = open_source(
        source,
        shuffle=bool(shuffle_buffer),
        seed=seed,
        split=split,
        data_dir=data_dir,
        image_key=image_key,
        label_key=label_key,
        num_parallel_calls=num_parallel_calls,
        deterministic=deterministic,
    )
    ds = opened.dataset
    if shuffle_buffer and not opened.permuted:
        ds = ds.shuffle(shuffle_buffer, seed=stage_seed(seed, "shuffle"), reshuffle_each_iteration=True)
    ds = ds.repeat(epochs).enumerate()
    ds = ds.map(_per_image(crop, k), num_parallel_calls=num_parallel_calls, deterministic=deterministic)
    if v.check_bool("ignore_errors", ignore_errors):
        ds = ds.ignore_errors()
    ds = ds.batch(batch_size, drop_remainder=True, num_parallel_calls=num_parallel_calls, deterministic=deterministic)
    per_batch = _per_batch(pixel_layers, float_layers, mixer, smoothing, normalize)
    ds = ds.enumerate().map(per_batch, num_parallel_calls=num_parallel_calls, deterministic=deterministic)
    return _finish(ds, prefetch, deterministic)


def eval_pipeline(
    source,
    num_classes,
    image_size=224,
    crop_pct=0.875,
    batch_size=128,
    *,
    interpolation="bicubic",
    antialias=False,
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    deterministic=True,
    num_parallel_calls=tf.data.AUTOTUNE,
    prefetch=tf.data.AUTOTUNE,
    ignore_errors=False,
    split="validation",
    data_dir=None,
    image_key="image/encoded",
    label_key="image/class/label",
):
    """The timm / DeiT evaluation pipeline: resize the shorter side to `floor(size / crop_pct)`, centre-crop.

    One pass over `source` in its order (no shuffling), the last batch kept even when partial.

    Args:
        source, num_classes, image_size, interpolation, antialias, mean, std, deterministic, num_parallel_calls,
            prefetch, ignore_errors, data_dir, image_key, label_key: as in `train_pipeline`.
        crop_pct: the crop's share of the resized shorter side, in (0, 1]. Default 0.875 (256 -> 224).
        batch_size: images a batch, >= 1. Default 128.
        split: TFDS split when `source` names none. Default `"validation"`.

    Returns:
        a `tf.data.Dataset` of float32 `[B, H, W, 3]` normalised images and float32 one-hot labels `[B, K]`.

    Raises:
        ValueError: for a bad argument (named) or source.

    Example:
        >>> model.evaluate(eval_pipeline("imagenet/val", num_classes=1000))
    """
    k = v.check_num_classes(num_classes)
    batch_size = v.check_int("batch_size", batch_size, low=1)
    crop = decode_center_crop(image_size, crop_pct, interpolation, antialias=antialias)
    normalize = _normalizer(mean, std)
    deterministic = v.check_bool("deterministic", deterministic)
    opened = open_source(
        source,
        shuffle=False,
        seed=0,
        split=split,
        data_dir=data_dir,
        image_key=image_key,
        label_key=label_key,
        num_parallel_calls=num_parallel_calls,
        deterministic=deterministic,
    )
    ds = opened.dataset.map(_per_image(crop, k), num_parallel_calls=num_parallel_calls, deterministic=deterministic)
    if v.check_bool("ignore_errors", ignore_errors):
        ds = ds.ignore_errors()
    ds = ds.batch(batch_size, num_parallel_calls=num_parallel_calls, deterministic=deterministic)
    ds = ds.map(lambda images, labels: (normalize(tf.cast(images, tf.float32)), labels))
    return _finish(ds, prefetch, deterministic)


# -- stages ---------------------------------------------------------------------------------------------------


def _per_image(crop, num_classes):
    @tf.autograph.experimental.do_not_convert
    def decode(*element):
        image, label = crop(*element)
        return image, tf.one_hot(label, num_classes, dtype=tf.float32)

    return decode


def _per_batch(pixel_layers, float_layers, mixer, smoothing, normalize):
    """`fn(index, (uint8 images, one-hot labels))`: every batch stage, each layer seeded by the batch index."""

    # Plain TensorFlow: AutoGraph would only cost tracing time (see `tfaug.data.map_fn`).
    @tf.autograph.experimental.do_not_convert
    def augment(index, batch):
        images, labels = batch
        for layer in pixel_layers:  # uint8: the policy ops run on 256 levels anyway
            images = layer.augment(images, seed=layer.seed_for_index(index))
        images = tf.cast(images, tf.float32)
        for layer in float_layers:
            images, labels = layer.augment((images, labels), seed=layer.seed_for_index(index))
        if mixer is not None:
            images, labels = mixer.augment((images, labels), seed=mixer.seed_for_index(index))
        elif smoothing:
            labels = ops.smooth_labels(labels, smoothing)
        return normalize(images), labels

    return augment


def _flips(hflip, vflip, seed):
    layers = []
    for name, mode, probability in (("hflip", "horizontal", hflip), ("vflip", "vertical", vflip)):
        if v.check_probability(name, probability or 0.0) > 0:
            layers.append(RandomFlip(mode, probability, seed=stage_seed(seed, name)))
    return layers


def _auto_augment(auto_augment, geometry, seed):
    if auto_augment is None or auto_augment == "":
        return None
    if isinstance(auto_augment, BaseAugmentation):
        return auto_augment
    if not isinstance(auto_augment, str) or not auto_augment.startswith("rand-"):
        raise ValueError(
            f"`auto_augment` must be a RandAugment string like 'rand-m9-mstd0.5-inc1', a tfaug layer or None, "
            f"got {auto_augment!r}."
        )
    timm_defaults = {} if any(part.startswith("p") for part in auto_augment.split("-")[1:]) else {"probability": 0.5}
    return RandAugment.from_string(
        auto_augment, interpolation=geometry, seed=stage_seed(seed, "auto_augment"), **timm_defaults
    )


def _color_jitter(color_jitter, seed):
    if isinstance(color_jitter, numbers.Real) and not isinstance(color_jitter, bool):
        strengths = (float(color_jitter),) * 3
    elif isinstance(color_jitter, (tuple, list)) and len(color_jitter) in (3, 4):
        strengths = tuple(color_jitter)
    else:
        raise ValueError(f"`color_jitter` must be a number or a tuple of 3 or 4 numbers, got {color_jitter!r}.")
    if not any(strengths):
        return []
    return [ColorJitter(*strengths, seed=stage_seed(seed, "color_jitter"))]


def _checked_layers(layers):
    layers = list(layers) if isinstance(layers, (list, tuple)) else [layers]
    for layer in layers:
        if not isinstance(layer, BaseAugmentation):
            raise ValueError(f"`layers` must be tfaug layers, got {layer!r}.")
    return layers


def _mixer(mixup, cutmix, cutmix_minmax, mixup_prob, switch_prob, mode, smoothing, num_classes, seed):
    mixup = v.check_positive("mixup", mixup or 0.0, allow_zero=True)
    cutmix = v.check_positive("cutmix", cutmix or 0.0, allow_zero=True)
    batchwise = MIXUP_MODES[v.check_choice("mixup_mode", mode, tuple(MIXUP_MODES))]
    if v.check_probability("mixup_prob", mixup_prob) == 0 or not (mixup or cutmix or cutmix_minmax is not None):
        return None
    return MixUpCutMix(
        mixup_alpha=mixup,
        cutmix_alpha=cutmix,
        cutmix_minmax=cutmix_minmax,
        probability=mixup_prob,
        switch_prob=switch_prob,
        label_smoothing=smoothing,
        num_classes=num_classes,
        pairing="flip",
        batchwise=batchwise,
        value_range=(0, 255),
        seed=stage_seed(seed, "mixup"),
    )


def _normalizer(mean, std):
    if mean is None and std is None:
        return lambda images: images
    if mean is None or std is None:
        raise ValueError(f"`mean` and `std` are both given or both None, got mean={mean!r} and std={std!r}.")
    mean = _check_channels("mean", mean, low=0.0)
    std = _check_channels("std", std, low=0.0, positive=True)
    scale = tf.constant([1.0 / (255.0 * s) for s in std], tf.float32)
    shift = tf.constant([m / s for m, s in zip(mean, std)], tf.float32)
    return lambda images: images * scale - shift


def _check_channels(name, value, low, positive=False):
    ok = isinstance(value, (tuple, list)) and len(value) == 3
    ok = ok and all(isinstance(x, numbers.Real) and not isinstance(x, bool) for x in value)
    ok = ok and all(x > low if positive else x >= low for x in value) and all(x <= 1.0 for x in value)
    if not ok:
        bound = "in (0, 1]" if positive else "in [0, 1]"
        raise ValueError(f"`{name}` must be 3 numbers {bound} (one per RGB channel), got {value!r}.")
    return tuple(float(x) for x in value)


def _check_optional_int(name, value):
    return 0 if value is None or value == 0 else v.check_int(name, value, low=1)


def _finish(ds, prefetch, deterministic):
    options = tf.data.Options()
    options.deterministic = deterministic
    ds = ds.with_options(options)
    return ds.prefetch(prefetch) if prefetch else ds
