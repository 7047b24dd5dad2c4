"""A small AdaIN encoder and decoder for 32 x 32 digits, trained here: no pretrained network is needed.

The encoder is a fixed, randomly initialised two-stage conv net (random conv features carry texture
statistics well enough for style transfer on small images); the decoder is trained with the AdaIN paper's
objective (Huang and Belongie 2017): content loss `||f(g(t)) - t||^2` with `t = AdaIN(f(c), f(s))`, plus
the style loss on the means and standard deviations of every encoder stage, weight `STYLE_WEIGHT`.
Contents are the training digits; styles are patches of `shifted_digits.STYLE_PHOTOS` and the digits
themselves.
"""

import keras
import numpy as np
import tensorflow as tf

import tfaug

STYLE_WEIGHT = 2.0
STEPS = 600
BATCH_SIZE = 32


def encoder(size, seed):
    """Fixed random encoder: [0, 1] RGB -> (relu1 `[H, W, 32]`, relu2 `[H/2, W/2, 64]`)."""
    init = keras.initializers.HeNormal(seed=seed)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(2.0, offset=-1.0)(inputs)
    one = keras.layers.Conv2D(32, 3, padding="same", activation="relu", kernel_initializer=init)(x)
    two = keras.layers.Conv2D(64, 3, strides=2, padding="same", activation="relu", kernel_initializer=init)(one)
    model = keras.Model(inputs, [one, two], name="style_encoder")
    model.trainable = False
    return model


def decoder(seed):
    """relu2 features -> [0, 1] RGB at twice their size."""
    init = keras.initializers.HeNormal(seed=seed)
    inputs = keras.Input((None, None, 64))
    x = keras.layers.UpSampling2D()(inputs)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu", kernel_initializer=init)(x)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu", kernel_initializer=init)(x)
    outputs = keras.layers.Conv2D(3, 3, padding="same", activation="sigmoid")(x)
    return keras.Model(inputs, outputs, name="style_decoder")


def last_stage(model):
    """The encoder with its last stage only: the `encoder` a `tfaug.layers.StyleAugmentation` takes."""
    return keras.Model(model.inputs, model.outputs[-1], name="style_encoder_last")


def _moments_loss(a, b):
    mean_a, std_a = tfaug.ops.feature_moments(a)
    mean_b, std_b = tfaug.ops.feature_moments(b)
    return tf.reduce_mean(tf.square(mean_a - mean_b)) + tf.reduce_mean(tf.square(std_a - std_b))


def fit(digits, styles, seed, steps=STEPS):
    """Trains a decoder for `encoder(size, seed)`; `digits`, `styles`: float32 `[n, H, W, 3]` in [0, 255]."""
    size = digits.shape[1]
    enc, dec = encoder(size, seed), decoder(seed)
    optimizer = keras.optimizers.Adam(1e-3)
    rng = np.random.default_rng(seed)
    pool = np.concatenate([styles, digits]) / 255.0

    @tf.function(jit_compile=True)
    def step(content, style):
        content_features, style_features = enc(content), enc(style)
        target = tfaug.ops.adain(content_features[-1], style_features[-1])
        with tf.GradientTape() as tape:
            out = enc(dec(target))
            loss = tf.reduce_mean(tf.square(out[-1] - target))
            loss += STYLE_WEIGHT * sum(_moments_loss(o, s) for o, s in zip(out, style_features))
        grads = tape.gradient(loss, dec.trainable_variables)
        optimizer.apply_gradients(zip(grads, dec.trainable_variables))
        return loss

    for _ in range(steps):
        content = digits[rng.integers(0, len(digits), BATCH_SIZE)] / 255.0
        style = pool[rng.integers(0, len(pool), BATCH_SIZE)]
        step(tf.constant(content, tf.float32), tf.constant(style, tf.float32))
    return last_stage(enc), dec
