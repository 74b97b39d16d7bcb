"""A dataset in memory: uint8 images (N, 28, 28, 1) and int32 labels for train and test, with class names."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.errors import DataError

IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10  # most datasets here: digits, clothes, hiragana
MAX_CLASSES = 64  # the most classes a dataset may have (EMNIST letters has 26)
DIGIT_NAMES = tuple(str(d) for d in range(10))
#: EMNIST letters' 26 classes: each holds a letter's capital and small forms together
LETTER_NAMES = tuple(f"{c}/{c.lower()}" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
FASHION_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
#: Kuzushiji-MNIST's ten cursive hiragana, in its label order (kmnist_classmap.csv), with their readings
KUZUSHIJI_NAMES = (
    "お (o)",
    "き (ki)",
    "す (su)",
    "つ (tsu)",
    "な (na)",
    "は (ha)",
    "ま (ma)",
    "や (ya)",
    "れ (re)",
    "を (wo)",
)


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train and test arrays plus what a person needs to read them."""

    name: str
    description: str
    class_names: tuple[str, ...]
    train_images: np.ndarray = field(repr=False)  # uint8 (N, 28, 28, 1)
    train_labels: np.ndarray = field(repr=False)  # int32 (N,)
    test_images: np.ndarray = field(repr=False)
    test_labels: np.ndarray = field(repr=False)

    @property
    def num_train(self) -> int:
        return int(self.train_labels.shape[0])

    @property
    def num_test(self) -> int:
        return int(self.test_labels.shape[0])


def make_dataset(
    name: str,
    description: str,
    class_names: tuple[str, ...],
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
) -> Dataset:
    """Check shapes and types, make the arrays read-only (they are shared between visitors)."""
    if not 2 <= len(class_names) <= MAX_CLASSES:
        raise DataError(f"{name}: a dataset has 2 to {MAX_CLASSES} classes, got {len(class_names)}")
    arrays = []
    for split, (images, labels) in (("train", train), ("test", test)):
        images = np.asarray(images)
        labels = np.asarray(labels)
        if images.ndim == 3:
            images = images[..., None]
        if images.shape[1:] != IMAGE_SHAPE:
            raise DataError(f"{name}: {split} images must be 28x28 grey, got shape {images.shape[1:]}")
        if images.dtype != np.uint8:
            raise DataError(f"{name}: {split} images must be uint8 pixels 0-255, got {images.dtype}")
        if labels.shape != (images.shape[0],):
            raise DataError(f"{name}: {images.shape[0]:,} {split} images but {labels.shape[0]:,} labels")
        if images.shape[0] == 0:
            raise DataError(f"{name}: the {split} split is empty")
        if labels.min() < 0 or labels.max() >= len(class_names):
            raise DataError(
                f"{name}: {split} labels must be 0-{len(class_names) - 1} (one per class name), "
                f"found {int(labels.min())}..{int(labels.max())}"
            )
        images = np.ascontiguousarray(images)
        labels = labels.astype(np.int32)
        images.setflags(write=False)
        labels.setflags(write=False)
        arrays += [images, labels]
    return Dataset(name, description, class_names, *arrays)


def drawing_subject(class_names: tuple[str, ...]) -> str:
    """What to ask a person to draw for a model that knows ``class_names``: "digit", "hiragana
    character", "piece of clothing", or for an image folder "picture of one of: cat, dog"."""
    known = {
        DIGIT_NAMES: "digit",
        KUZUSHIJI_NAMES: "hiragana character",
        FASHION_NAMES: "piece of clothing",
        LETTER_NAMES: "letter (capital or small)",
    }
    if tuple(class_names) in known:
        return known[tuple(class_names)]
    return f"picture of one of: {', '.join(class_names)}"
