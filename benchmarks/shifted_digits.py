"""Shifted test domains for the digits, built from real photos, and the style images used in training.

A model trained on the gray digits is tested on the same test digits in three other domains:

- `inverted`: `255 - x` (dark digits on a light ground).
- `coloured`: each digit drawn in a random colour on a random ground colour, the two at least 96 apart in
  gray level so that every digit stays legible.
- `photo_blend`: the MNIST-M construction (Ganin and Lempitsky 2015): `|patch - x|` per channel with a random
  32 x 32 patch of a photo.

The photos of the test domains (`TEST_PHOTOS`) and the style images a training recipe may see
(`STYLE_PHOTOS`, for style augmentation's `adapt`) are disjoint scikit-image photos, so no configuration
trains on the domain it is tested on.
"""

import numpy as np

#: Photos whose patches make the `photo_blend` test domain (never seen in training).
TEST_PHOTOS = ("brick", "grass", "gravel", "immunohistochemistry", "hubble_deep_field", "colorwheel")
#: Photos a training recipe may use as styles.
STYLE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")
DOMAINS = ("inverted", "coloured", "photo_blend")
MIN_CONTRAST = 96.0


def _photo(name):
    from skimage import data

    image = getattr(data, name)()
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    return image[..., :3].astype(np.float32)


def patches(names, count, size, rng):
    """`count` random `size` x `size` RGB patches (float32, [0, 255]) of the photos `names`, evenly spread."""
    photos = [_photo(name) for name in names]
    out = np.empty((count, size, size, 3), np.float32)
    for i in range(count):
        photo = photos[i % len(photos)]
        top = rng.integers(0, photo.shape[0] - size + 1)
        left = rng.integers(0, photo.shape[1] - size + 1)
        out[i] = photo[top : top + size, left : left + size]
    return out


def _colour_pairs(count, rng):
    """Foreground and ground colours `[count, 3]` whose gray levels differ by at least `MIN_CONTRAST`."""
    weights = np.array([0.299, 0.587, 0.114], np.float32)
    fg, bg = rng.uniform(0, 255, (count, 3)), rng.uniform(0, 255, (count, 3))
    bad = np.abs((fg - bg) @ weights) < MIN_CONTRAST
    while bad.any():
        fg[bad], bg[bad] = rng.uniform(0, 255, (bad.sum(), 3)), rng.uniform(0, 255, (bad.sum(), 3))
        bad = np.abs((fg - bg) @ weights) < MIN_CONTRAST
    return fg.astype(np.float32), bg.astype(np.float32)


def shifted(x, seed=0):
    """The test images `x` (`[n, H, W, 3]` gray-as-RGB, [0, 255]) in each of `DOMAINS`, float32, by name."""
    rng = np.random.default_rng(seed)
    x = np.asarray(x, np.float32)
    ink = x.mean(axis=-1, keepdims=True) / 255.0
    fg, bg = _colour_pairs(len(x), rng)
    blends = patches(TEST_PHOTOS, len(x), x.shape[1], rng)
    return {
        "inverted": 255.0 - x,
        "coloured": bg[:, None, None] + ink * (fg - bg)[:, None, None],
        "photo_blend": np.abs(blends - x),
    }
