"""Real photos that ship inside scikit-image (no network): the default input of `tfaug preview`."""

import numpy as np

#: scikit-image loader name -> class name shown in pictures. All eight ship with the package.
PHOTOS = {
    "astronaut": "astronaut",
    "chelsea": "cat",
    "coffee": "coffee",
    "rocket": "rocket",
    "hubble_deep_field": "galaxy",
    "immunohistochemistry": "tissue",
    "retina": "retina",
    "colorwheel": "colorwheel",
}


def _require_skimage():
    try:
        import skimage.data
    except ImportError as error:  # optional dependency
        raise ImportError(
            "The sample photos come from scikit-image: pip install 'tfaug[examples]' (or scikit-image)."
        ) from error
    return skimage.data


def center_crop_resize(image, size):
    """Centre-crops an `[H, W, C]` uint8 image to a square and resizes it to `size` (PIL, bicubic)."""
    from PIL import Image

    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    crop = Image.fromarray(image[top : top + side, left : left + side])
    return np.asarray(crop.resize((size, size), Image.BICUBIC))


def sample_photos(size=224, names=None):
    """Returns `(images, class_names)`: uint8 `[N, size, size, 3]` photos and one class name per photo.

    Args:
        size: side of the square output, >= 8.
        names: scikit-image loader names to use (default: all of `PHOTOS`).

    Raises:
        ValueError: for an unknown name or a size below 8.
        ImportError: if scikit-image is not installed.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise ValueError(f"`size` must be an int >= 8, got {size!r}.")
    names = list(PHOTOS) if names is None else list(names)
    unknown = [name for name in names if name not in PHOTOS]
    if unknown:
        raise ValueError(f"`names` has unknown photos {unknown}; choose from {list(PHOTOS)}.")
    data = _require_skimage()
    images = [center_crop_resize(getattr(data, name)()[..., :3], size) for name in names]
    return np.stack(images), [PHOTOS[name] for name in names]


def load_image_folder(path, size=224, limit=16, on_unreadable=None):
    """Loads up to `limit` images from a folder (sorted by name) as uint8 `[N, size, size, 3]`.

    The class of an image is its sub-folder's name if it lies in one, else its file stem. Files that PIL
    cannot read are skipped: `on_unreadable(path)` is called for each of those whose suffix is an image
    format's (a truncated or corrupt image); other files (notes.txt) are not images.

    Raises:
        ValueError: if the folder does not exist or holds no readable images.
    """
    import pathlib

    from PIL import Image
    from PIL import UnidentifiedImageError

    root = pathlib.Path(path)
    if not root.is_dir():
        raise ValueError(f"image folder {str(root)!r} does not exist or is not a folder.")
    image_suffixes = {suffix for suffix, kind in Image.registered_extensions().items() if kind in Image.OPEN}
    images, names = [], []
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        if len(images) == limit:
            break
        try:
            with Image.open(file) as image:
                array = np.asarray(image.convert("RGB"))
        except (UnidentifiedImageError, OSError):
            if on_unreadable is not None and file.suffix.lower() in image_suffixes:
                on_unreadable(str(file))
            continue
        images.append(center_crop_resize(array, size))
        names.append(file.parent.name if file.parent != root else file.stem)
    if not images:
        raise ValueError(f"image folder {str(root)!r} holds no readable images (png, jpeg, ...).")
    return np.stack(images), names
