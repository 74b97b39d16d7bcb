"""Uploaded zips of image folders: a real one unpacks and reads; hostile ones are refused with a message."""

from __future__ import annotations

import io
import stat
import zipfile

import numpy as np
import pytest
from PIL import Image

from core.data import archive
from core.data.archive import extract_image_zip
from core.data.folder import read_image_folder
from core.errors import DataError


def png(value: int = 200) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((28, 28), value, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def zip_of(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buffer.getvalue()


def test_zip_of_a_sample_folder_unpacks_and_reads(tmp_path, sample):
    entries = {}
    for split, images, labels in (("train", sample.train_images[:60], sample.train_labels[:60]),
                                  ("test", sample.test_images[:20], sample.test_labels[:20])):  # fmt: skip
        for i, (image, label) in enumerate(zip(images, labels, strict=True)):
            buffer = io.BytesIO()
            Image.fromarray(image[:, :, 0]).save(buffer, format="PNG")
            entries[f"digits/{split}/{label}/{i:03d}.png"] = buffer.getvalue()
    entries["digits/README.txt"] = b"not an image: not written"
    entries["__MACOSX/digits/._x.png"] = b"resource fork"
    entries["digits/train/3/bad.png"] = b"junk"
    folder = extract_image_zip(zip_of(entries), tmp_path / "up")
    assert not (folder / "digits" / "README.txt").exists()
    ds = read_image_folder(folder)
    assert (ds.num_train, ds.num_test) == (60, 20)
    assert ds.class_names == tuple("0123456789")
    assert ds.description.endswith("1 unreadable file skipped")
    order = np.argsort(sample.test_labels[:20], kind="stable")
    np.testing.assert_array_equal(ds.test_images, sample.test_images[:20][order])


def symlink_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("train/a/1.png", png())
        link = zipfile.ZipInfo("train/a/2.png")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(link, "/etc/passwd")
    return buffer.getvalue()


def encrypted_zip() -> bytes:
    """zipfile cannot encrypt: set the 'encrypted' flag bit in the local and central headers by hand."""
    data = bytearray(zip_of({"train/a/1.png": png()}))
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    data[local + 6] |= 0x1
    data[central + 8] |= 0x1
    return bytes(data)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: b"PK but not really a zip", "this is not a zip file"),
        (lambda: zip_of({}), "the zip holds no image files"),
        (lambda: zip_of({"train/a/notes.txt": b"x"}), "the zip holds no image files"),
        (lambda: zip_of({"train/a/bomb.bmp": bytes(10 * 2**20)}), "expands 1,0"),
        (lambda: zip_of({"../escape.png": png()}), "a path leaving its folder"),
        (lambda: zip_of({"train/../../escape.png": png()}), "a path leaving its folder"),
        (lambda: zip_of({"/etc/cron.d/x.png": png()}), "a path leaving its folder"),
        (lambda: zip_of({"C:\\windows\\x.png": png()}), "a path leaving its folder"),
        (symlink_zip, "symbolic link"),
        (encrypted_zip, "is encrypted"),
    ],
)
def test_hostile_or_useless_zips_are_refused_and_nothing_is_written(tmp_path, make, words):
    with pytest.raises(DataError, match=words):
        extract_image_zip(make(), tmp_path / "up")
    assert not (tmp_path / "up").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_limits_on_files_sizes_and_total(tmp_path, monkeypatch):
    many = zip_of({f"train/a/{i}.png": png() for i in range(6)})
    monkeypatch.setattr(archive, "MAX_FILES", 5)
    with pytest.raises(DataError, match="the zip holds 6 entries; at most 5 are accepted"):
        extract_image_zip(many, tmp_path / "a")
    monkeypatch.setattr(archive, "MAX_FILES", 100)
    monkeypatch.setattr(archive, "MAX_FILE_BYTES", 2**20)
    with pytest.raises(DataError, match=r"is 2 MiB; images up to 1 MiB"):
        extract_image_zip(zip_of({"train/a/big.png": np.random.default_rng(0).bytes(2 * 2**20)}), tmp_path / "b")
    monkeypatch.setattr(archive, "MAX_TOTAL_BYTES", 3 * len(png()))
    with pytest.raises(DataError, match="add up to over"):
        extract_image_zip(many, tmp_path / "c")
    monkeypatch.setattr(archive, "MAX_ZIP_BYTES", 100)
    with pytest.raises(DataError, match="at most 0 MiB is accepted"):
        extract_image_zip(many, tmp_path / "d")
    assert list(tmp_path.iterdir()) == []


def test_an_upload_gets_a_new_folder_and_a_refused_one_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(archive, "UPLOAD_ROOT", tmp_path / "uploads")
    good = zip_of({"train/a/1.png": png(), "train/b/1.png": png(10)})
    first, second = archive.unpack_upload(good), archive.unpack_upload(good)
    assert first != second and first.parent == second.parent == tmp_path / "uploads"
    assert sorted(p.name for p in (first / "train").iterdir()) == ["a", "b"]
    with pytest.raises(DataError, match="a path leaving its folder"):
        archive.unpack_upload(zip_of({"train/a/1.png": png(), "../x.png": png()}))
    assert sorted((tmp_path / "uploads").iterdir()) == sorted([first, second])


def test_old_uploads_and_those_over_the_disk_budget_are_removed_oldest_first(tmp_path, monkeypatch):
    import os

    monkeypatch.setattr(archive, "UPLOAD_ROOT", tmp_path / "uploads")
    monkeypatch.setattr(archive, "UPLOADS_BUDGET_BYTES", 4_000_000)
    now = 1_000_000_000.0
    folders = {}
    for name, megabytes, hours_ago in [("a", 1, 30), ("b", 1, 5), ("c", 1, 3), ("d", 0.5, 1)]:
        folder = tmp_path / "uploads" / f"upload-{name}"
        (folder / "train" / "x").mkdir(parents=True)
        (folder / "train" / "x" / "1.png").write_bytes(b"\0" * int(megabytes * 1_000_000))
        os.utime(folder, (now - hours_ago * 3600, now - hours_ago * 3600))
        folders[name] = folder
    (tmp_path / "uploads" / "not-an-upload").mkdir()  # only the dashboard's own folders are touched
    # all 3.5 MB and 0.5 MB more fit in 4 MB, but a is 30 hours old: it goes for its age alone
    assert archive.prune_uploads(room_for=500_000, now=now) == [folders["a"]]
    monkeypatch.setattr(archive, "UPLOADS_BUDGET_BYTES", 3_000_000)
    # b, c and d (2.5 MB) and 1.2 MB more do not fit in 3 MB: the oldest left (b) makes room
    assert archive.prune_uploads(room_for=1_200_000, now=now) == [folders["b"]]
    assert sorted(p.name for p in (tmp_path / "uploads").iterdir()) == ["not-an-upload", "upload-c", "upload-d"]
    monkeypatch.setattr(archive, "UPLOADS_BUDGET_BYTES", 1)
    fresh = archive.unpack_upload(zip_of({"train/a/1.png": png(), "train/b/1.png": png(10)}))
    assert fresh.exists() and not folders["c"].exists() and not folders["d"].exists()  # made room for it
