"""Folders of image files -> a Dataset, in the layout Keras' ``image_dataset_from_directory`` and
torchvision's ``ImageFolder`` use::

    DIR/train/<class name>/*.png|jpg|jpeg|bmp|gif|webp
    DIR/test/<class name>/*          (optional)

Class names are the folder names, sorted (as Keras and torchvision sort them), so label 0 is the
first name. Without ``test/`` a fixed-seed, stratified fifth of each class is held out as the test
split. ``DIR/<class name>/*`` (no ``train/``) and a ``DIR`` holding only one folder that has that
layout (what zipping a folder gives) are accepted too.

Each image becomes 28x28 grey like MNIST: the first frame, transparency composited onto white,
converted to grey (ITU-R 601 luma), then *polarity*: MNIST is light ink on a dark background, so an
image whose outer border is mostly light (mean above mid-grey: dark ink on paper, the usual photo or
scan) is inverted. Then it is scaled, keeping its aspect, so that its longer side is 28 pixels
(already 28x28: left untouched) and centred on a black (background) canvas.
A classifier trained on a folder has one output per class folder (at most NUM_CLASSES of them).
Files that cannot be decoded are skipped and counted; files with other suffixes and hidden files
(``.DS_Store``, ``__MACOSX/``) are ignored.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from core.data.dataset import NUM_CLASSES, Dataset, make_dataset
from core.data.roots import Roots, inside
from core.errors import DataError
from core.i18n import N_

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
SIDE = 28
MAX_IMAGES = 200_000  # 157 MB of 28x28 pixels; more is not what this tool is for
MAX_PIXELS = 40_000_000  # one image larger than this (e.g. a decompression bomb) is skipped, not decoded
TEST_FRACTION = 0.2
#: The folder (in the system's temporary folder) that uploaded zips are unpacked below: a path there
#: means nothing to the person who uploaded it, so descriptions say "your uploaded images".
UPLOADS_FOLDER_NAME = "flax-dashboard-uploads"
SPLIT_SEED = 0
UNREADABLE = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


@dataclass(frozen=True)
class FolderImages:
    """One split read from class folders: images (N, 28, 28, 1) uint8, labels (N,) int32, skipped file names."""

    images: np.ndarray
    labels: np.ndarray
    skipped: tuple[str, ...]


def to_mnist_image(image: Image.Image) -> np.ndarray:
    """Any PIL image -> (28, 28) uint8, light ink on black, aspect kept (see the module docstring)."""
    image.seek(0)
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        pixels = np.asarray(image, dtype=np.float64)
        top = 65535.0 if pixels.max() > 255 else 255.0
        grey = np.clip(pixels / top * 255.0, 0, 255).round().astype(np.uint8)
    else:
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            image = image.convert("RGBA")
            paper = Image.new("RGBA", image.size, (255, 255, 255, 255))
            image = Image.alpha_composite(paper, image)
        grey = np.asarray(image.convert("L"), dtype=np.uint8)
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if border.mean() > 127.5:
        grey = 255 - grey
    height, width = grey.shape
    if (height, width) == (SIDE, SIDE):
        return np.ascontiguousarray(grey)
    scale = SIDE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    fitted = np.asarray(Image.fromarray(grey).resize(size, Image.Resampling.LANCZOS), dtype=np.uint8)
    canvas = np.zeros((SIDE, SIDE), np.uint8)
    top, left = (SIDE - size[1]) // 2, (SIDE - size[0]) // 2
    canvas[top : top + size[1], left : left + size[0]] = fitted
    return canvas


def read_image(path: Path) -> np.ndarray:
    """One file -> (28, 28) uint8; raises one of UNREADABLE when it is not an image Pillow can decode."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as image:
            if image.width * image.height > MAX_PIXELS:
                raise ValueError(f"{image.width}x{image.height} pixels is too large")
            image.load()
            return to_mnist_image(image)


def is_visible(path: Path) -> bool:
    return not path.name.startswith((".", "__MACOSX"))


def class_folders(split: Path) -> list[Path]:
    """The sorted class folders of one split (folders directly inside it)."""
    return sorted((p for p in split.iterdir() if p.is_dir() and is_visible(p)), key=lambda p: p.name)


def image_files(folder: Path) -> list[Path]:
    """Image files anywhere below a class folder (torchvision walks sub-folders too), sorted."""
    found = []
    for parent, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__MACOSX")))
        found += [Path(parent) / f for f in files if not f.startswith(".") and f.lower().endswith(IMAGE_SUFFIXES)]
    return sorted(found)


def find_layout(root: Path) -> tuple[Path, Path | None]:
    """(train folder, test folder or None) of an image folder; DataError saying what it holds otherwise."""
    if not root.exists():
        raise DataError(N_("folder {root} does not exist"), root=root)
    if not root.is_dir():
        raise DataError(N_("{root} is a file, not a folder of class folders"), root=root)
    entries = [p for p in root.iterdir() if is_visible(p)]
    if not (root / "train").is_dir():
        inner = [p for p in entries if p.is_dir()]
        if len(entries) == 1 and len(inner) == 1 and (inner[0] / "train").is_dir():
            return find_layout(inner[0])
    train = root / "train" if (root / "train").is_dir() else root
    test = root / "test" if train != root and (root / "test").is_dir() else None
    if not class_folders(train):
        listing = ", ".join(sorted(p.name for p in entries)[:8]) or "nothing"
        raise DataError(
            N_(
                "{root} has no class folders: expected {root}/train/<class name>/<images> (and "
                "optionally {root}/test/<class name>/...); it holds: {listing}"
            ),
            root=root,
            listing=listing,
        )
    return train, test


#: Marks a skipped entry that is a link leading outside the data roots.
LINK_OUT = " (link outside the data roots)"


def read_split(split: Path, class_names: tuple[str, ...], roots: Roots | None = None) -> FolderImages:
    """Every image below ``split/<class name>/``, labelled by the class's index in ``class_names``.

    With ``roots`` (a served dashboard), files and class folders that are links to places outside
    them are skipped and counted with the unreadable files."""
    images, labels, skipped = [], [], []
    for label, name in enumerate(class_names):
        folder = split / name
        if not folder.is_dir():
            continue
        if roots is not None and not inside(folder, roots):
            skipped.append(name + "/" + LINK_OUT)
            continue
        for path in image_files(folder):
            if len(images) >= MAX_IMAGES:
                raise DataError(
                    N_("{split} holds more than {max_images:,} images; use fewer"), split=split, max_images=MAX_IMAGES
                )
            if roots is not None and not inside(path, roots):
                skipped.append(str(path.relative_to(split)) + LINK_OUT)
                continue
            try:
                images.append(read_image(path))
            except UNREADABLE:
                skipped.append(str(path.relative_to(split)))
                continue
            labels.append(label)
    stacked = np.stack(images)[..., None] if images else np.zeros((0, SIDE, SIDE, 1), np.uint8)
    return FolderImages(stacked, np.asarray(labels, np.int32), tuple(skipped))


def stratified_split(labels: np.ndarray, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED):
    """(train indices, test indices): each class shuffled with a fixed seed and ``test_fraction`` of it
    (at least one image when a class has two or more) held out; the rest, in file order, train."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        held = round(len(members) * test_fraction)
        held = min(max(held, 1 if len(members) >= 2 else 0), len(members) - 1)
        test += members[:held].tolist()
        train += members[held:].tolist()
    return np.sort(np.asarray(train, np.int64)), np.sort(np.asarray(test, np.int64))


def _check_classes(train_dir: Path, test_dir: Path | None, class_names: tuple[str, ...]) -> None:
    """DataError unless the training folder has 2 to NUM_CLASSES classes and the test folder none besides."""
    if len(class_names) > NUM_CLASSES:
        raise DataError(
            N_(
                "{train_dir} has {class_names_count} class folders ({class_names}{value}); the "
                "models here have {num_classes} outputs, so use at most {num_classes} classes"
            ),
            train_dir=train_dir,
            class_names_count=len(class_names),
            class_names=", ".join(class_names[:12]),
            value=", …" if len(class_names) > 12 else "",
            num_classes=NUM_CLASSES,
        )
    if len(class_names) < 2:
        raise DataError(
            N_("{train_dir} has only the class folder {class_names!r}; a classifier needs two or more"),
            train_dir=train_dir,
            class_names=class_names[0],
        )
    if test_dir is not None:
        unknown = sorted({p.name for p in class_folders(test_dir)} - set(class_names))
        if unknown:
            raise DataError(
                N_(
                    "{test_dir} has class folders that {train_dir} does not: {unknown}; the test "
                    "classes must be among {class_names}"
                ),
                test_dir=test_dir,
                train_dir=train_dir,
                unknown=", ".join(unknown),
                class_names=", ".join(class_names),
            )


def read_image_folder(root: str | Path, name: str | None = None, roots: Roots | None = None) -> Dataset:
    """The Dataset of an image folder (see the module docstring); DataError with what to fix otherwise.
    ``roots``: see ``read_split``."""
    root = Path(root)
    train_dir, test_dir = find_layout(root)
    folders = class_folders(train_dir)
    linked_out = [p.name + "/" + LINK_OUT for p in folders if roots is not None and not inside(p, roots)]
    class_names = tuple(p.name for p in folders if roots is None or inside(p, roots))
    _check_classes(train_dir, test_dir, class_names)
    train = read_split(train_dir, class_names, roots)
    empty = [n for i, n in enumerate(class_names) if not np.any(train.labels == i)]
    if empty:
        raise DataError(N_("no readable images in {empty}"), empty=", ".join(f"{train_dir}/{n}" for n in empty))
    skipped = linked_out + list(train.skipped)
    if test_dir is not None:
        test = read_split(test_dir, class_names, roots)
        skipped += [f"test/{s}" for s in test.skipped]
        if test.labels.size == 0:
            raise DataError(N_("no readable images in {test_dir}"), test_dir=test_dir)
        train_part = (train.images, train.labels)
        test_part = (test.images, test.labels)
        how = "its test folder"
    else:
        keep, held = stratified_split(train.labels)
        if held.size == 0:
            raise DataError(
                N_("{train_dir} has too few images to hold some out for testing; add a test folder"),
                train_dir=train_dir,
            )
        train_part = (train.images[keep], train.labels[keep])
        test_part = (train.images[held], train.labels[held])
        how = f"a stratified {TEST_FRACTION:.0%} held out (seed {SPLIT_SEED})"
    links = sum(s.endswith(LINK_OUT) for s in skipped)
    unreadable = len(skipped) - links
    note = f"; {unreadable:,} unreadable file{'s' if unreadable != 1 else ''} skipped" if unreadable else ""
    if links:
        note += f"; {links:,} link{'s' if links != 1 else ''} leading outside the data roots not followed"
    uploaded = any(parent.name == UPLOADS_FOLDER_NAME for parent in root.parents)
    description = (
        f"{'Your uploaded images' if uploaded else f'Images in {root}'}: {len(class_names)} classes "
        f"({', '.join(class_names)}), "
        f"{len(train_part[1]):,} train / {len(test_part[1]):,} test from {how}{note}"
    )
    # only the folder's classes: a classifier trained on it gets one output per class (spec.for_classes)
    return make_dataset(name or f"folder:{root}", description, class_names, train_part, test_part)


def read_test_folder(root: str | Path) -> FolderImages:
    """``root/test``'s images, labelled by the sorted class folders of ``root/train`` (or of ``root/test``
    itself when there is no train folder): what a checkpoint trained on ``folder:root`` is evaluated on."""
    root = Path(root)
    if not root.is_dir():
        missing = N_("folder {root} does not exist") if not root.exists() else N_("{root} is a file, not a folder")
        raise DataError(missing, root=root)
    test_dir = root / "test"
    if not test_dir.is_dir():
        raise DataError(N_("{root} has no test folder: expected {root}/test/<class name>/<images>"), root=root)
    train_dir = root / "train"
    class_names = tuple(p.name for p in class_folders(train_dir if train_dir.is_dir() else test_dir))
    unknown = sorted({p.name for p in class_folders(test_dir)} - set(class_names))
    if unknown or not class_names or len(class_names) > NUM_CLASSES:
        raise DataError(
            N_(
                "{test_dir}'s class folders ({test_classes}) must be 1 to {num_classes} classes "
                "among {train_dir}'s ({train_classes})"
            ),
            test_dir=test_dir,
            test_classes=", ".join(p.name for p in class_folders(test_dir)) or "none",
            num_classes=NUM_CLASSES,
            train_dir=train_dir,
            train_classes=", ".join(class_names) or "none",
        )
    test = read_split(test_dir, class_names)
    if test.labels.size == 0:
        raise DataError(N_("no readable images in {test_dir}"), test_dir=test_dir)
    return test


def folder_fingerprint(root: Path) -> tuple:
    """Every file's path, size and modification time below ``root``: a changed file invalidates the cache."""
    entries = []
    for parent, _dirs, files in os.walk(root):
        for f in files:
            try:
                stat = os.stat(os.path.join(parent, f))
            except OSError:
                continue
            entries.append((os.path.join(parent, f), stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(entries))


def write_image_folder(
    root: str | Path, split: str, images: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...]
) -> Path:
    """Write one split as ``root/split/<class name>/<index>.png`` (e.g. to turn a dataset into a folder)."""
    root = Path(root)
    for index, (image, label) in enumerate(zip(np.asarray(images), np.asarray(labels), strict=True)):
        folder = root / split / class_names[int(label)]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.asarray(image, np.uint8).reshape(SIDE, SIDE)).save(folder / f"{index:06d}.png")
    return root / split
