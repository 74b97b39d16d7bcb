"""The files of tfds' MNIST-style builders once they are on disk: which they are, and how both splits are
read from them (the four IDX .gz files, or EMNIST's zip), with no TensorFlow. ``core.data.tfds`` fetches
them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from core.data.idx import MAX_IDX_BYTES, parse_idx, read_idx_bytes
from core.errors import DataError
from core.i18n import N_, Term

SPLITS = ("train", "test")
#: EMNIST comes as one zip (tfds' emnist builder) of every subset's IDX .gz files, its images stored
#: transposed (column by column); our name -> (tfds builder, subset, the label of the first class: the
#: letters are numbered 1 to 26 in EMNIST's files)
ARCHIVED = {"emnist_digits": ("emnist", "digits", 0), "emnist_letters": ("emnist", "letters", 1)}
#: The four files of an MNIST-style dataset, by the keys of tfds' MNIST builder: the standard IDX names
#: (tfds' KMNIST builder subclasses its MNIST builder: same four files, its own URL and checksums).
FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
#: What to do instead, ending a message about data that could not be had (in the visitor's language)
ADVICE = Term(
    N_(
        "use the bundled sample of 5,000 MNIST digits, or a folder of IDX files on this computer "
        "(the Train page's 'A folder of IDX files', or idx:<folder> on the command line)"
    )
)
#: The same advice as a sentence of its own
ADVICE_SENTENCE = Term(
    N_(
        "Use the bundled sample of 5,000 MNIST digits, or a folder of IDX files on this computer "
        "(the Train page's 'A folder of IDX files', or idx:<folder> on the command line)"
    )
)


def read_archived(name: str, archive_path: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Both splits of an EMNIST subset from tfds' downloaded zip, images transposed back upright."""
    import gzip
    import zipfile

    _builder, subset, first_label = ARCHIVED[name]
    out = {}
    try:
        with zipfile.ZipFile(archive_path) as archive:
            for split in SPLITS:
                arrays = []
                for kind, ndim in (("images", 3), ("labels", 1)):
                    member = f"gzip/emnist-{subset}-{split}-{kind}-idx{ndim}-ubyte.gz"
                    with archive.open(member) as packed, gzip.open(packed) as f:
                        data = f.read(MAX_IDX_BYTES + 1)
                    if len(data) > MAX_IDX_BYTES:
                        raise DataError(
                            N_("{member} in {archive_path} is larger than {max_idx_bytes:,} bytes"),
                            member=member,
                            archive_path=archive_path,
                            max_idx_bytes=MAX_IDX_BYTES,
                        )
                    arrays.append(parse_idx(data, member))
                images, labels = arrays
                if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != (images.shape[0],):
                    raise DataError(
                        N_("{name} {split} files have unexpected shapes {images_shape} / {labels_shape}"),
                        name=name,
                        split=split,
                        images_shape=images.shape,
                        labels_shape=labels.shape,
                    )
                upright = np.ascontiguousarray(images.transpose(0, 2, 1))[..., None]
                out[split] = (upright, labels.astype(np.int32) - first_label)
    except (zipfile.BadZipFile, KeyError, OSError, EOFError) as err:
        raise DataError(
            N_("the downloaded {name} archive {archive_path} could not be read ({err}); {advice}"),
            name=name,
            archive_path=archive_path,
            err=err,
            advice=ADVICE,
        ) from None
    return out


def parse_split(paths: Mapping[str, str], split: str) -> tuple[np.ndarray, np.ndarray]:
    images = parse_idx(read_idx_bytes(Path(paths[f"{split}_images"]), MAX_IDX_BYTES), f"{split} images")
    labels = parse_idx(read_idx_bytes(Path(paths[f"{split}_labels"]), MAX_IDX_BYTES), f"{split} labels")
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != (images.shape[0],):
        raise DataError(
            N_("downloaded {split} files have unexpected shapes {images_shape} / {labels_shape}"),
            split=split,
            images_shape=images.shape,
            labels_shape=labels.shape,
        )
    return images[..., None], labels.astype(np.int32)
