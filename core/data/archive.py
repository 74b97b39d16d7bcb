"""Unpacking an uploaded .zip of an image folder, refusing what could hurt the server.

Refused, each with a message: not a zip; no image files; more than ``MAX_FILES`` entries; an image
over ``MAX_FILE_BYTES`` or all of them over ``MAX_TOTAL_BYTES`` uncompressed; an entry expanding more
than ``MAX_RATIO`` times (a zip bomb); encrypted entries; names that are absolute or use ``..``;
symbolic links. Only files with image suffixes are written (everything else is skipped), and the
bytes written are counted as they are written, so a header lying about sizes cannot exceed the limits.

Unpacked uploads are kept for a day and within ``UPLOADS_BUDGET_BYTES`` together: before each new
upload the oldest are removed (``prune_uploads``). A dataset already loaded stays in memory; only
reloading it after its folder was removed asks for the zip again.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import tempfile
import time
import zipfile
from pathlib import Path, PurePosixPath

from core.data.folder import IMAGE_SUFFIXES, UPLOADS_FOLDER_NAME
from core.errors import DataError
from core.i18n import N_

MAX_ZIP_BYTES = 200 * 2**20
MAX_FILES = 100_000
MAX_FILE_BYTES = 20 * 2**20
MAX_TOTAL_BYTES = 500 * 2**20
MAX_RATIO = 200  # image files are compressed already: PNG/JPEG hardly shrink, a blank BMP ~100x
CHUNK = 2**16
#: where the dashboard unpacks visitors' zips, one new folder per upload
UPLOAD_ROOT = Path(tempfile.gettempdir()) / UPLOADS_FOLDER_NAME
#: disk kept for unpacked uploads of all visitors together, and how long one is kept
UPLOADS_BUDGET_BYTES = 2 * 2**30
UPLOAD_MAX_AGE_S = 24 * 3600


def safe_member_path(name: str) -> PurePosixPath:
    """The relative path an entry may be written to; DataError for absolute names and ``..``."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or (path.parts and path.parts[0].endswith(":")) or ".." in path.parts:
        raise DataError(N_("the zip holds {name!r}, a path leaving its folder; zip the folder itself"), name=name)
    return path


def extract_image_zip(source: bytes | str | Path, destination: str | Path) -> Path:
    """Check every entry of the zip ``source`` (its bytes or its path), then write its image files
    below ``destination`` (a new folder). Returns ``destination``."""
    destination = Path(destination)
    try:
        size = len(source) if isinstance(source, bytes) else Path(source).stat().st_size
    except OSError as err:
        raise DataError(
            N_("cannot read the zip {source} ({err_strerror})"), source=source, err_strerror=err.strerror
        ) from None
    if size > MAX_ZIP_BYTES:
        raise DataError(
            N_("the zip is {size:,.0f} MiB; at most {max_zip_bytes} MiB is accepted"),
            size=size / 2**20,
            max_zip_bytes=MAX_ZIP_BYTES // 2**20,
        )
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise DataError(N_("this is not a zip file ({err})"), err=err) from None
    with archive:
        images = _checked_images(archive)
        destination.mkdir(parents=True, exist_ok=True)
        _write_images(archive, images, destination)
    return destination


def _checked_images(archive: zipfile.ZipFile) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """The image entries of ``archive`` and their safe paths, once every entry passed the checks (no
    link, no path outside the folder, no password, no bomb, sizes within the limits)."""
    entries = archive.infolist()
    if len(entries) > MAX_FILES:
        raise DataError(
            N_("the zip holds {entries_count:,} entries; at most {max_files:,} are accepted"),
            entries_count=len(entries),
            max_files=MAX_FILES,
        )
    images, total = [], 0
    for entry in entries:
        path = safe_member_path(entry.filename)
        if stat.S_ISLNK(entry.external_attr >> 16):
            raise DataError(
                N_("the zip holds a symbolic link, {entry_filename!r}; links are not accepted"),
                entry_filename=entry.filename,
            )
        if entry.is_dir() or not path.name.lower().endswith(IMAGE_SUFFIXES):
            continue
        if entry.flag_bits & 0x1:
            raise DataError(
                N_("{entry_filename!r} is encrypted; zip the images without a password"), entry_filename=entry.filename
            )
        if entry.file_size > MAX_FILE_BYTES:
            raise DataError(
                N_("{entry_filename!r} is {entry_file_size:.0f} MiB; images up to {max_file_bytes} MiB are accepted"),
                entry_filename=entry.filename,
                entry_file_size=entry.file_size / 2**20,
                max_file_bytes=MAX_FILE_BYTES // 2**20,
            )
        if entry.file_size > CHUNK and entry.file_size > MAX_RATIO * max(entry.compress_size, 1):
            raise DataError(
                N_(
                    "{entry_filename!r} expands {entry_file_size:,.0f} times (a zip bomb?); at most "
                    "{max_ratio} times is accepted"
                ),
                entry_filename=entry.filename,
                entry_file_size=entry.file_size / max(entry.compress_size, 1),
                max_ratio=MAX_RATIO,
            )
        total += entry.file_size
        if total > MAX_TOTAL_BYTES:
            raise DataError(
                N_("the zip's images add up to over {max_total_bytes} MiB uncompressed"),
                max_total_bytes=MAX_TOTAL_BYTES // 2**20,
            )
        images.append((entry, path))
    if not images:
        raise DataError(N_("the zip holds no image files ({image_suffixes})"), image_suffixes=", ".join(IMAGE_SUFFIXES))
    return images


def _write_images(archive: zipfile.ZipFile, images: list, destination: Path) -> None:
    """Write the checked ``images`` below ``destination``, refusing an entry that holds more than its header says."""
    written = 0
    for entry, path in images:
        target = destination.joinpath(*path.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        size = 0
        try:
            with archive.open(entry) as src, open(target, "wb") as out:
                while chunk := src.read(CHUNK):
                    size += len(chunk)
                    written += len(chunk)
                    if size > entry.file_size or size > MAX_FILE_BYTES or written > MAX_TOTAL_BYTES:
                        raise DataError(
                            N_("{entry_filename!r} holds more than its header says; refused"),
                            entry_filename=entry.filename,
                        )
                    out.write(chunk)
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as err:
            if isinstance(err, NotImplementedError):
                raise DataError(
                    N_("{entry_filename!r} uses a compression this server cannot read"), entry_filename=entry.filename
                ) from None
            target.write_bytes(b"")  # a damaged entry: the folder reader counts it as unreadable


def folder_bytes(folder: Path) -> int:
    """Bytes of the files below ``folder`` (links are not followed)."""
    total = 0
    for parent, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(parent, name)).st_size
            except OSError:
                continue
    return total


def prune_uploads(
    root: Path | None = None,
    budget_bytes: int | None = None,
    max_age_s: float | None = None,
    room_for: int = 0,
    now: float | None = None,
) -> list[Path]:
    """Remove unpacked uploads older than ``max_age_s``, then the oldest until the rest and ``room_for``
    more bytes fit in ``budget_bytes``; returns the folders removed. Defaults: ``UPLOAD_ROOT``,
    ``UPLOADS_BUDGET_BYTES``, ``UPLOAD_MAX_AGE_S``."""
    root = UPLOAD_ROOT if root is None else root
    budget_bytes = UPLOADS_BUDGET_BYTES if budget_bytes is None else budget_bytes
    max_age_s = UPLOAD_MAX_AGE_S if max_age_s is None else max_age_s
    now = time.time() if now is None else now
    try:
        folders = [p for p in root.iterdir() if p.name.startswith("upload-") and p.is_dir() and not p.is_symlink()]
    except OSError:
        return []
    folders.sort(key=lambda p: p.stat().st_mtime)  # oldest first
    sizes = {p: folder_bytes(p) for p in folders}
    removed = []
    total = sum(sizes.values()) + room_for
    for folder in folders:
        if now - folder.stat().st_mtime <= max_age_s and total <= budget_bytes:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        total -= sizes[folder]
        removed.append(folder)
    return removed


def unpack_upload(data: bytes) -> Path:
    """Unpack an uploaded zip into a new folder below ``UPLOAD_ROOT`` (removed again if refused), after
    making room for it within the uploads' disk budget."""
    UPLOAD_ROOT.mkdir(parents=True, exist_ok=True)
    prune_uploads(room_for=len(data))  # images hardly compress: about what the unpacked folder takes
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=UPLOAD_ROOT))
    try:
        return extract_image_zip(data, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
