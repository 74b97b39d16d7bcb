"""A dataset in memory: uint8 images (N, 28, 28, 1) and int32 labels for train and test, with class names."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from core.errors import DataError
from core.i18n import N_

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
        raise DataError(
            N_("{name}: a dataset has 2 to {max_classes} classes, got {class_names_count}"),
            name=name,
            max_classes=MAX_CLASSES,
            class_names_count=len(class_names),
        )
    arrays = []
    for split, (images, labels) in (("train", train), ("test", test)):
        images = np.asarray(images)
        labels = np.asarray(labels)
        if images.ndim == 3:
            images = images[..., None]
        if images.shape[1:] != IMAGE_SHAPE:
            raise DataError(
                N_("{name}: {split} images must be 28x28 grey, got shape {images_shape}"),
                name=name,
                split=split,
                images_shape=images.shape[1:],
            )
        if images.dtype != np.uint8:
            raise DataError(
                N_("{name}: {split} images must be uint8 pixels 0-255, got {images_dtype}"),
                name=name,
                split=split,
                images_dtype=images.dtype,
            )
        if labels.shape != (images.shape[0],):
            raise DataError(
                N_("{name}: {images_shape:,} {split} images but {labels_shape:,} labels"),
                name=name,
                images_shape=images.shape[0],
                split=split,
                labels_shape=labels.shape[0],
            )
        if images.shape[0] == 0:
            raise DataError(N_("{name}: the {split} split is empty"), name=name, split=split)
        if labels.min() < 0 or labels.max() >= len(class_names):
            raise DataError(
                N_("{name}: {split} labels must be 0-{class_names_count} (one per class name), found {min}..{max}"),
                name=name,
                split=split,
                class_names_count=len(class_names) - 1,
                min=int(labels.min()),
                max=int(labels.max()),
            )
        images = np.ascontiguousarray(images)
        labels = labels.astype(np.int32)
        images.setflags(write=False)
        labels.setflags(write=False)
        arrays += [images, labels]
    return Dataset(name, description, class_names, *arrays)


#: What one image of a known class set is, in words.
KNOWN_NOUNS = {
    DIGIT_NAMES: N_("digit"),
    KUZUSHIJI_NAMES: N_("hiragana character"),
    FASHION_NAMES: N_("piece of clothing"),
    LETTER_NAMES: N_("letter"),
}


def with_article(word: str, gettext: Callable[[str], str] = str) -> str:
    """``word`` after "a" or "an" by its first sound as usually spoken: "a 7", "an 8", "an owl"; in the
    language of ``gettext`` (Japanese has no article: "7")."""
    first = word.split("/")[0].split(" ")[0].lower()
    vowel = first[:1] in tuple("aeiou8") or first in ("11", "18")
    return gettext(N_("an {noun}") if vowel else N_("a {noun}")).format(noun=word)


def singular(name: str) -> str:
    """A folder's class name as one thing: "circles" -> "circle", "puppies" -> "puppy", "glass" stays."""
    if len(name) > 4 and name.endswith("ies"):
        return name[:-3] + "y"
    if len(name) > 3 and name.endswith("s") and not name.endswith(("ss", "us", "is")):
        return name[:-1]
    return name


def one_of_class(class_names: tuple[str, ...], label: int, gettext: Callable[[str], str] = str) -> str:
    """One image of class ``label`` in words: "a 7", "an Ankle boot", "a circle" (a folder "circles"), in
    the language of ``gettext``."""
    name = class_names[label]
    return with_article(name if tuple(class_names) in KNOWN_NOUNS else singular(name), gettext)


def what_each_image_is(class_names: tuple[str, ...], gettext: Callable[[str], str] = str) -> str:
    """What the model learns to recognise: "a digit", "a piece of clothing", or for a folder of a few
    classes "a circle, a square or a triangle" (more than four: "each of your 7 classes"), in the language
    of ``gettext`` (a folder's class names as they are)."""
    known = KNOWN_NOUNS.get(tuple(class_names))
    if known:
        return with_article(gettext(known), gettext)
    if len(class_names) > 4:
        return gettext(N_("each of your {count} classes")).format(count=len(class_names))
    items = [with_article(singular(name), gettext) for name in class_names]
    return gettext(N_("{first} or {last}")).format(first=gettext(N_(", ")).join(items[:-1]), last=items[-1])


def drawing_subject(class_names: tuple[str, ...]) -> str:
    """What to ask a person to draw for a model that knows ``class_names``: "digit", "hiragana
    character", "piece of clothing", or for an image folder "picture of one of: cat, dog"."""
    if tuple(class_names) == LETTER_NAMES:
        return "letter (capital or small)"
    if tuple(class_names) in KNOWN_NOUNS:
        return KNOWN_NOUNS[tuple(class_names)]
    return f"picture of one of: {', '.join(class_names)}"
