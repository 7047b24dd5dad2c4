"""Every policy layer's outputs at fixed seeds, recorded once and compared bit for bit.

The policy engine is optimised by hand (shared chain levels, deferred lookups, fused kernels); a change to
it must not move a single output. The recorded outputs cover every layer and interpolation, uint8 and
float32 images, three shapes (non-square and odd sizes) and per-image and batchwise draws.

Re-record (only after a deliberate change of behaviour, saying why in the commit):
    python tests/policies/test_golden_outputs.py --record
"""

import pathlib
import sys

import numpy as np
import pytest

import tfaug
from tfaug.policies import levels

GOLDEN = pathlib.Path(__file__).with_name("golden_outputs.npz")
SHAPES = ((4, 24, 40), (3, 17, 23), (2, 32, 32))
#: Every op when the outputs were recorded (ops added since draw from a longer list, so they are left out).
RECORDED_OPS = tuple(name for name in levels.OP_NAMES if name != "posterize_increasing")

LAYERS = {
    "rand_augment": lambda: tfaug.RandAugment(seed=1),
    "rand_augment_all_ops_bilinear": lambda: tfaug.RandAugment(
        num_ops=3, magnitude=7, magnitude_std=0.5, ops=RECORDED_OPS, interpolation="bilinear", seed=2
    ),
    "rand_augment_all_ops_nearest": lambda: tfaug.RandAugment(num_ops=3, ops=RECORDED_OPS, seed=3),
    "rand_augment_batchwise": lambda: tfaug.RandAugment(batchwise=True, seed=4),
    "auto_augment_imagenet": lambda: tfaug.AutoAugment("imagenet", seed=5),
    "auto_augment_svhn": lambda: tfaug.AutoAugment("svhn", fill_value=0, seed=6),
    "trivial_augment_wide": lambda: tfaug.TrivialAugmentWide(seed=7),
    "aug_mix": lambda: tfaug.AugMix(seed=8),
    "aug_mix_all_ops_bilinear": lambda: tfaug.AugMix(all_ops=True, interpolation="bilinear", seed=9),
}


def _photos(shape):
    """Real photos (scikit-image) resized to `shape` `(B, H, W)`: uint8 `[B, H, W, 3]`."""
    from skimage import data
    from skimage.transform import resize

    names = ("astronaut", "coffee", "chelsea", "rocket")
    batch, height, width = shape
    images = [resize(getattr(data, name)(), (height, width), preserve_range=True, anti_aliasing=True) for name in names]
    return np.round(np.stack(images[:batch])).astype(np.uint8)


def _inputs():
    """`(key, images, value_range)` for every shape and dtype."""
    for shape in SHAPES:
        images = _photos(shape)
        tag = "x".join(map(str, shape))
        yield f"uint8_{tag}", images, (0, 255)
        yield f"float32_{tag}", images.astype(np.float32) / 255.0, (0, 1)


#: The default run's cases: one layer for each path of the engine (the general program, AugMix's shared
#: chains, tiled chains with bilinear geometry), each on one input.
QUICK = ("rand_augment_all_ops_nearest", "aug_mix", "aug_mix_all_ops_bilinear")


def outputs(quick=False):
    """`{case: output}` of every layer on every input (two calls per layer: the seed's first two draws).

    `quick`: the `QUICK` layers only, each on one of the inputs (layer k on input k modulo their number).
    """
    results = {}
    inputs = list(_inputs())
    for k, (name, make) in enumerate(LAYERS.items()):
        if quick and name not in QUICK:
            continue
        for key, images, value_range in [inputs[k % len(inputs)]] if quick else inputs:
            layer = make()
            layer.value_range = value_range
            for call in range(2):
                results[f"{name}/{key}/{call}"] = np.asarray(layer(images))
    return results


@pytest.fixture(scope="module")
def recorded():
    with np.load(GOLDEN) as golden:
        return dict(golden)


def _moved(results, recorded):
    """`{case: number of values that differ}` for the cases that moved."""
    moved = {}
    for case, actual in results.items():
        expected = recorded[case]
        assert actual.dtype == expected.dtype and actual.shape == expected.shape, case
        differ = actual != expected
        if differ.any():
            moved[case] = int(differ.sum())
    return moved


def test_each_engine_path_equals_its_recorded_outputs_on_one_input(recorded):
    moved = _moved(outputs(quick=True), recorded)
    assert not moved, f"outputs moved (case: differing values): {moved}"


@pytest.mark.slow
def test_policy_outputs_equal_the_recorded_ones_bit_for_bit(recorded):
    results = outputs()
    assert sorted(results) == sorted(recorded)
    moved = _moved(results, recorded)
    assert not moved, f"outputs moved (case: differing values): {moved}"


if __name__ == "__main__" and "--record" in sys.argv:
    np.savez_compressed(GOLDEN, **outputs())
    print(f"wrote {GOLDEN}")
