"""The small CNNs the recipes and benchmarks train on small images (digits, CIFAR-sized data).

Conv stages (BatchNorm, ReLU, max-pooling between), global average pooling, dropout and dense logits, so
class activation maps apply. Each stage's last activation is named `stage1`, `stage2`, ..., the places where
hidden-state recipes (`recipes.ManifoldMixup`) mix and feature-statistics layers (`tfaug.layers.MixStyle`,
`tfaug.layers.DSU`) go.
"""

import keras


def small_cnn(input_shape, num_classes, width=16, name="small_cnn", feature_augmentation=None):
    """3 conv stages (`width`, 2x, 4x filters), GAP, dropout 0.2, logits. 24k parameters at width 16.

    Inputs are images in [0, 255] (any dtype); outputs are logits.

    Args:
        feature_augmentation: optional factory `stage -> keras.layers.Layer` (or None) called after each of
            the first two stages (stage 1 and 2), as MixStyle and DSU are placed after early stages.
    """
    return _cnn(input_shape, num_classes, (width, 2 * width, 4 * width), 1, 0.2, name, feature_augmentation)


def wide_cnn(input_shape, num_classes, width=16, name="wide_cnn"):
    """The distillation teacher: two convs a stage and twice the filters of `small_cnn`."""
    return _cnn(input_shape, num_classes, (2 * width, 4 * width, 8 * width), 2, 0.3, name)


def _cnn(input_shape, num_classes, widths, convs_per_stage, dropout, name, feature_augmentation=None):
    inputs = keras.Input(input_shape)
    x = keras.layers.Rescaling(1 / 255)(inputs)
    for stage, filters in enumerate(widths, start=1):
        if stage > 1:
            x = keras.layers.MaxPooling2D()(x)
        for conv in range(convs_per_stage):
            x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            # momentum 0.9: short runs have too few steps for the default 0.99 moving averages.
            x = keras.layers.BatchNormalization(momentum=0.9)(x)
            x = keras.layers.ReLU(name=f"stage{stage}" if conv == convs_per_stage - 1 else None)(x)
        if feature_augmentation is not None and stage < len(widths):
            layer = feature_augmentation(stage)
            x = x if layer is None else layer(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(dropout)(x)
    outputs = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)
