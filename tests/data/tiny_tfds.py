"""A tiny TFDS dataset built offline from scikit-image's photos: `tfds:tiny_photos` for the pipeline tests."""

import numpy as np
import tensorflow_datasets as tfds

CLASSES = ("astronaut", "chelsea", "coffee")


class TinyPhotos(tfds.core.GeneratorBasedBuilder):
    """3 classes of JPEG-encoded 40x30 photos: 6 train and 3 test images a class."""

    VERSION = tfds.core.Version("1.0.0")
    url_infos = {}  # nothing to download (TFDS would look for a checksums file beside this module's code)

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(30, 40, 3), encoding_format="jpeg"),
                    "label": tfds.features.ClassLabel(names=CLASSES),
                }
            ),
            supervised_keys=("image", "label"),
        )

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(6), "test": self._generate_examples(3)}

    def _generate_examples(self, per_class):
        from PIL import Image
        from skimage import data

        for label, name in enumerate(CLASSES):
            photo = Image.fromarray(getattr(data, name)()[..., :3])
            for i in range(per_class):
                image = np.asarray(photo.rotate(30 * i).resize((40, 30)))
                yield f"{name}-{i}", {"image": image, "label": label}


def prepare(data_dir):
    """Builds `tiny_photos` in `data_dir` (no network) and returns its builder."""
    builder = TinyPhotos(data_dir=str(data_dir))
    builder.download_and_prepare()
    return builder
