"""IDX files, the format MNIST is distributed in: parse, read (gzipped or not), write, find in a folder."""

from __future__ import annotations

import gzip
import os
import re
import stat
import zlib
from pathlib import Path

import numpy as np

from core.data.dataset import NUM_CLASSES
from core.data.roots import Roots, inside
from core.errors import DataError
from core.i18n import N_

#: Largest IDX payload read (uncompressed). Full MNIST train images are 47 MB.
MAX_IDX_BYTES = 256 * 1024 * 1024

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
                    N_(
                        "{path_name} is {st_size:,.0f} MB, larger than the {limit:,.0f} MB an MNIST-style"
                        " IDX file can be"
                    ),
                    path_name=path.name,
                    st_size=path.stat().st_size / 1e6,
                    limit=limit / 1e6,
                )
            data = path.read_bytes()
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise DataError(N_("cannot read {path_name}: {err}"), path_name=path.name, err=err) from None
    if len(data) > limit:
        raise DataError(
            N_("{path_name} holds more than {limit:,.0f} MB, too large for an MNIST-style IDX file"),
            path_name=path.name,
            limit=limit / 1e6,
        )
    return data


def parse_idx(data: bytes, source: str = "data") -> np.ndarray:
    """Parse an IDX (ubyte) blob into an array; DataError for anything that is not a valid one."""
    if len(data) < 4:
        raise DataError(N_("{source} is not an IDX file: only {data_count} bytes"), source=source, data_count=len(data))
    zero1, zero2, dtype_code, ndim = data[:4]
    if zero1 != 0 or zero2 != 0 or dtype_code != _IDX_UBYTE or not 1 <= ndim <= 4:
        raise DataError(
            N_(
                "{source} is not an unsigned-byte IDX file (magic number 0x{hex}, expected "
                "0x00000801 for labels or 0x00000803 for images)"
            ),
            source=source,
            hex=data[:4].hex(),
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(N_("{source} is truncated inside its header"), source=source)
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(dims, dtype=np.int64))
    actual = len(data) - header
    if actual != expected:
        shape = "x".join(f"{d:,}" for d in dims)
        state = "is truncated" if actual < expected else "has extra bytes at the end"
        raise DataError(
            N_("{source} {state}: its header says {shape} values but it holds {actual:,}"),
            source=source,
            state=state,
            shape=shape,
            actual=actual,
        )
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
            N_(
                "{folder} has no {prefix}-{kind} file (expected {prefix}-{kind}-idx{ndim}-ubyte "
                "or .gz); it holds: {listing}"
            ),
            folder=folder,
            prefix=prefix,
            kind=kind,
            ndim=ndim,
            listing=listing,
        )
    return matches[0]


def _short(folder: Path) -> str:
    text = str(folder)
    return text if len(text) <= 80 else text[:79] + "…"


def _check_folder(folder: Path) -> None:
    if "\0" in str(folder):
        raise DataError(N_("a folder name cannot contain a NUL byte"))
    try:
        info = folder.stat()
        if stat.S_ISDIR(info.st_mode):
            os.listdir(folder)  # a folder that cannot be listed (e.g. /proc/1/cwd) is refused here, not later
    except FileNotFoundError:
        raise DataError(N_("folder {short} does not exist"), short=_short(folder)) from None
    except OSError as err:  # permission denied, name too long, a loop of links, ...
        raise DataError(
            N_("cannot open folder {short}: {value}"), short=_short(folder), value=err.strerror or err
        ) from None
    if not stat.S_ISDIR(info.st_mode):
        raise DataError(N_("{short} is a file, not a folder of IDX files"), short=_short(folder))


def read_idx_split(folder: str | Path, prefix: str, roots: Roots | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28, 1) uint8 and labels (N,) int32 of one split (``train`` or ``t10k``).

    With ``roots`` (a served dashboard), a file that is a link to a place outside them is refused."""
    folder = Path(folder)
    _check_folder(folder)
    image_file = find_idx_file(folder, prefix, "images")
    label_file = find_idx_file(folder, prefix, "labels")
    for file in (image_file, label_file):
        if roots is not None and not inside(file, roots):
            raise DataError(
                N_("{file_name} is a link to a file outside the data roots, so it is not read"), file_name=file.name
            )
    images = parse_idx(read_idx_bytes(image_file, MAX_IDX_BYTES), image_file.name)
    labels = parse_idx(read_idx_bytes(label_file, MAX_IDX_BYTES), label_file.name)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(
            N_("{image_file_name} must hold 28x28 images, it holds an array of shape {images_shape}"),
            image_file_name=image_file.name,
            images_shape=images.shape,
        )
    if labels.ndim != 1:
        raise DataError(
            N_("{label_file_name} must hold one label per image, it holds shape {labels_shape}"),
            label_file_name=label_file.name,
            labels_shape=labels.shape,
        )
    if images.shape[0] != labels.shape[0]:
        raise DataError(
            N_("{image_file_name} has {images_shape:,} images but {label_file_name} has {labels_shape:,} labels"),
            image_file_name=image_file.name,
            images_shape=images.shape[0],
            label_file_name=label_file.name,
            labels_shape=labels.shape[0],
        )
    if labels.size and labels.max() >= NUM_CLASSES:
        raise DataError(
            N_("{label_file_name} has label {max}; labels must be 0-9"),
            label_file_name=label_file.name,
            max=int(labels.max()),
        )
    return images[..., None], labels.astype(np.int32)
