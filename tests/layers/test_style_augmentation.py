"""StyleAugmentation with a tiny encoder and decoder built here: AdaIN statistics, strength, the two style sources."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfaug.layers import StyleAugmentation
from tfaug.layers.style_augmentation import restyle_features
from tfaug.layers.style_augmentation import style_vectors

SEED = tf.constant([3, 4], tf.int64)


def networks(seed=0, upsample=4):
    """Encoder: two stride-2 convs, RGB in [0, 1] -> [B, H/4, W/4, 6]; decoder: UpSampling2D back, conv to RGB."""
    init = keras.initializers.HeNormal(seed=seed)
    images = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(5, 3, strides=2, padding="same", activation="relu", kernel_initializer=init)(images)
    features = keras.layers.Conv2D(6, 3, strides=2, padding="same", kernel_initializer=init)(x)
    inputs = keras.Input((None, None, 6))
    y = keras.layers.UpSampling2D(upsample)(inputs)
    y = keras.layers.Conv2D(3, 3, padding="same", activation="sigmoid", kernel_initializer=init)(y)
    return keras.Model(images, features), keras.Model(inputs, y)


@pytest.fixture(scope="module")
def nets():
    return networks()


@pytest.fixture(scope="module")
def unit_photos(small_photos):
    return small_photos.astype(np.float32) / 255.0


def np_moments(x):
    return x.mean(axis=(1, 2)), np.sqrt(x.var(axis=(1, 2)) + 1e-5)


def test_alpha_one_gives_the_partners_feature_statistics(nets, unit_photos):
    layer = StyleAugmentation(*nets, strength=(1.0, 1.0), value_range=(0, 1), seed=0)
    transformation = layer.get_random_transformation({"images": unit_photos}, SEED)
    partner = transformation["partner"].numpy()
    assert sorted(partner) == [0, 1, 2, 3] and (partner != np.arange(4)).all()
    features = layer.encode(unit_photos)
    mean, std = layer.target_moments(features, transformation)
    restyled = restyle_features(features, mean, std, transformation["strength"]).numpy().astype(np.float64)
    partner_mean, partner_std = np_moments(features.numpy().astype(np.float64)[partner])
    out_mean, out_std = np_moments(restyled)
    np.testing.assert_allclose(out_mean, partner_mean, atol=1e-5)
    np.testing.assert_allclose(out_std, partner_std, rtol=1e-3)


def test_injected_parameters_match_a_numpy_adain_reference(nets, unit_photos):
    encoder, decoder = nets
    layer = StyleAugmentation(encoder, decoder, value_range=(0, 1), seed=0)
    strength = np.array([1.0, 0.5, 0.0, 0.25], np.float32)
    transformation = {
        "strength": tf.constant(strength),
        "apply": tf.constant([True, True, True, False]),
        "partner": tf.constant([2, 0, 3, 1]),
    }
    out = layer.transform_images(tf.constant(unit_photos), transformation).numpy()
    f = encoder(unit_photos).numpy().astype(np.float64)
    mean, std = np_moments(f)
    adain = (f - mean[:, None, None]) / std[:, None, None] * std[[2, 0, 3, 1], None, None] + mean[
        [2, 0, 3, 1], None, None
    ]
    mixed = strength[:, None, None, None] * adain + (1 - strength[:, None, None, None]) * f
    expected = np.clip(decoder(mixed.astype(np.float32)).numpy(), 0, 1)
    np.testing.assert_allclose(out[:3], expected[:3], atol=1e-5)
    np.testing.assert_array_equal(out[3], unit_photos[3])  # not applied: exactly the input
    # strength = 0 is decoder(encoder(x)), the autoencoder's reconstruction.
    np.testing.assert_allclose(out[2], np.clip(decoder(encoder(unit_photos[2:3])).numpy()[0], 0, 1), atol=1e-6)


def test_probability_zero_alone_in_batch_and_training_false_are_identity(nets, small_photos):
    masks = small_photos[..., :1].astype(np.int32)
    data = {"images": small_photos, "labels": np.arange(4), "segmentation_masks": masks}
    out = StyleAugmentation(*nets, probability=0.0, seed=0)(data)
    for key in data:
        np.testing.assert_array_equal(out[key], data[key])
    layer = StyleAugmentation(*nets, seed=0)
    np.testing.assert_array_equal(layer(small_photos[0]), small_photos[0])  # one image: no partner style
    np.testing.assert_array_equal(layer(small_photos[:1]), small_photos[:1])
    np.testing.assert_array_equal(layer(small_photos, training=False), small_photos)
    out = layer(data)
    assert out["images"].dtype == tf.uint8 and (out["images"].numpy() != small_photos).any()
    np.testing.assert_array_equal(out["segmentation_masks"], masks)
    boxes = {"boxes": np.array([[[1.0, 2.0, 5.0, 6.0]]] * 4, np.float32), "labels": np.ones([4, 1], np.int32)}
    out = layer({"images": small_photos, "bounding_boxes": boxes})
    np.testing.assert_array_equal(out["bounding_boxes"]["boxes"], boxes["boxes"])


def test_adapt_estimates_the_style_gaussian_and_random_styles_follow_it(nets, small_photos):
    rng = np.random.default_rng(0)
    styles = np.concatenate([small_photos, rng.integers(0, 256, [7, 24, 40, 3]).astype(np.uint8)])
    layer = StyleAugmentation(*nets, style_source="random", seed=0)
    layer.adapt(styles, batch_size=3)  # four batches: the running merge is exercised
    vectors = style_vectors(nets[0](styles / 255.0)).numpy().astype(np.float64)
    mean, std = (x.numpy() for x in layer.style_statistics())
    assert float(layer.style_count) == 11
    np.testing.assert_allclose(mean, vectors.mean(0), atol=1e-5)
    np.testing.assert_allclose(std, vectors.std(0), rtol=1e-3, atol=1e-6)

    # Draws for many images: their style vectors have the adapted mean and spread (diagonal Gaussian).
    n = 4000
    transformation = layer.get_random_transformation({"images": tf.zeros([n, 1, 1, 3])}, SEED)
    drawn_mean, drawn_std = layer.target_moments(nets[0](small_photos / 255.0), transformation)
    drawn = np.concatenate([drawn_mean, np.log(drawn_std)], axis=-1).astype(np.float64)
    # 5 standard errors: of a mean, std / sqrt(n); of a standard deviation, about std / sqrt(2 n).
    np.testing.assert_array_less(np.abs(drawn.mean(0) - mean), 5 * std / np.sqrt(n) + 1e-6)
    np.testing.assert_array_less(np.abs(drawn.std(0) - std), 5 * std / np.sqrt(2 * n) + 1e-6)
    # Adapted statistics are not changed by augmenting calls.
    layer(small_photos)
    assert float(layer.style_count) == 11
    np.testing.assert_array_equal(layer.style_statistics()[0], mean)


def test_without_adapt_augmenting_calls_update_a_running_estimate(nets, small_photos):
    layer = StyleAugmentation(*nets, style_source="random", seed=0)
    first, second = small_photos[:3], small_photos[1:]
    layer(first)
    layer(second, training=False)  # no augmentation, no update
    layer(second)
    vectors = style_vectors(nets[0](np.concatenate([first, second]) / 255.0)).numpy().astype(np.float64)
    mean, std = (x.numpy() for x in layer.style_statistics())
    assert float(layer.style_count) == 6
    np.testing.assert_allclose(mean, vectors.mean(0), atol=1e-5)
    np.testing.assert_allclose(std, vectors.std(0), rtol=1e-3, atol=1e-6)


# Compiles the networks in three modes: the slow profile (conformance checks seeds by default).
@pytest.mark.slow
def test_same_seed_same_output_eagerly_in_graphs_and_under_xla(nets, small_photos):
    images = tf.constant(small_photos[:, :8, :16])
    layers = [StyleAugmentation(*nets, style_source=source, seed=5) for source in ("batch", "random")]
    layers[1].adapt(small_photos)

    def run(x):
        return [layer.augment(x, seed=SEED) for layer in layers]

    def run_random(x):
        return [None, layers[1].augment(x, seed=SEED)]

    eager = run(images)
    assert all((out.numpy() != small_photos[:, :8, :16]).any() for out in eager)
    # Compiled: the random source only (its state read under XLA as well); the slow conformance profile
    # compiles the batch source too.
    for other in (tf.function(run)(images), tf.function(run_random, jit_compile=True)(images)):
        for a, b in zip(eager, other):
            if b is not None:
                np.testing.assert_allclose(a.numpy().astype(float), b.numpy().astype(float), atol=1)  # uint8 rounding
    twins = [StyleAugmentation(*nets, style_source=source, seed=5) for source in ("batch", "random")]
    twins[1].adapt(small_photos)
    for layer, twin in zip(layers, twins):
        first = twin(images)
        np.testing.assert_array_equal(first, layer(images))
        assert (twin(images).numpy() != first.numpy()).any()  # the next call, the next seed


def test_random_style_state_round_trips_through_a_keras_file(nets, small_photos, tmp_path):
    layer = StyleAugmentation(*nets, style_source="random", strength=(0.5, 1.0), seed=1)
    layer.adapt(small_photos)
    inputs = keras.Input((24, 40, 3))
    model = keras.Model(inputs, layer(inputs))
    path = str(tmp_path / "style.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    [clone] = [x for x in loaded.layers if isinstance(x, StyleAugmentation)]
    for a, b in zip(layer.style_statistics(), clone.style_statistics()):
        np.testing.assert_array_equal(a, b)
    assert float(clone.adapted) == 1.0
    x = small_photos.astype(np.float32)
    np.testing.assert_array_equal(model(x, training=True), loaded(x, training=True))
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == len(layer.weights) > 4


def test_bad_models_and_arguments_are_refused_by_name(nets, small_photos):
    encoder, decoder = nets
    flat = keras.Model(encoder.inputs, keras.layers.GlobalAveragePooling2D()(encoder.outputs[0]))
    with pytest.raises(ValueError, match=r"`encoder` must return one \[batch, height, width, channels\]"):
        StyleAugmentation(flat, decoder)
    with pytest.raises(ValueError, match=r"`encoder` must return one .* got \(4, 3\)"):
        StyleAugmentation(keras.layers.GlobalAveragePooling2D(), decoder)(small_photos)
    with pytest.raises(ValueError, match=r"`decoder` output shape \(4, 12, 20, 3\) differs from the images' shape"):
        StyleAugmentation(encoder, networks(upsample=2)[1])(small_photos)
    with pytest.raises(TypeError, match="`encoder` must be a Keras model or layer"):
        StyleAugmentation(lambda x: x, decoder)
    with pytest.raises(TypeError, match="`decoder` must be a Keras model or layer"):
        StyleAugmentation(encoder, None)
    for strength in [(-0.1, 1.0), (0.0, 1.5), (0.8, 0.2), 0.5, (0.0, float("nan"))]:
        with pytest.raises(ValueError, match="`strength`"):
            StyleAugmentation(encoder, decoder, strength=strength)
    with pytest.raises(ValueError, match="`style_source` must be one of"):
        StyleAugmentation(encoder, decoder, style_source="paintings")
    with pytest.raises(ValueError, match="`probability`"):
        StyleAugmentation(encoder, decoder, probability=1.5)
    with pytest.raises(ValueError, match="number of output channels"):
        StyleAugmentation(keras.layers.Conv2D(4, 3), decoder, style_source="random")
    with pytest.raises(ValueError, match="needs style_source='random'"):
        StyleAugmentation(encoder, decoder).adapt(small_photos)
    with pytest.raises(ValueError, match="no style images"):
        StyleAugmentation(encoder, decoder, style_source="random").adapt(small_photos[:0])
