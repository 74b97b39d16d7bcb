"""Image folders (``folder:DIR``): layout, conversion to 28x28 MNIST-like grey, split, refusals."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from core.data import load_dataset
from core.data.folder import read_image_folder, stratified_split, to_mnist_image, write_image_folder
from core.errors import DataError


def sorted_by_label(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(labels, kind="stable")
    return images[order], labels[order]


def test_sample_written_as_pngs_reads_back_pixel_for_pixel(tmp_path, sample):
    write_image_folder(tmp_path, "train", sample.train_images[:300], sample.train_labels[:300], sample.class_names)
    write_image_folder(tmp_path, "test", sample.test_images[:100], sample.test_labels[:100], sample.class_names)
    ds = load_dataset(f"folder:{tmp_path}")
    assert ds.class_names == tuple(str(d) for d in range(10))
    assert (ds.num_train, ds.num_test) == (300, 100)
    # files are read class by class in name order: the sample's images grouped by label, same order inside
    for images, labels, got_images, got_labels in (
        (sample.train_images[:300], sample.train_labels[:300], ds.train_images, ds.train_labels),
        (sample.test_images[:100], sample.test_labels[:100], ds.test_images, ds.test_labels),
    ):
        want_images, want_labels = sorted_by_label(images, labels)
        np.testing.assert_array_equal(got_labels, want_labels)
        np.testing.assert_array_equal(got_images, want_images)
    assert "10 classes (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), 300 train / 100 test from its test folder" in ds.description
    assert "skipped" not in ds.description


def test_a_test_folder_lacking_a_class_of_train_labels_each_image_by_its_folder(tmp_path, sample):
    """Labels are the class's place among the train folders: a test split without "3" labels its 4s as 4,
    not as the third of its own folders."""
    names = ("0", "1", "2", "3", "4")
    train_labels = np.array([0, 1, 2, 3, 4] * 4)
    test_labels = np.array([0, 1, 2, 4, 4, 2, 0])  # no 3
    pick = {label: np.flatnonzero(sample.train_labels == label) for label in range(5)}
    write_image_folder(tmp_path, "train", sample.train_images[[pick[c][i] for i, c in enumerate(train_labels)]],
                       train_labels, names)  # fmt: skip
    test_images = sample.train_images[[pick[c][-1 - i] for i, c in enumerate(test_labels)]]
    write_image_folder(tmp_path, "test", test_images, test_labels, names)
    ds = load_dataset(f"folder:{tmp_path}")
    assert ds.class_names[:5] == names
    want_images, want_labels = sorted_by_label(test_images, test_labels)
    np.testing.assert_array_equal(ds.test_labels, want_labels)  # [0, 0, 1, 2, 2, 4, 4]
    np.testing.assert_array_equal(ds.test_images, want_images)


def test_dark_ink_on_paper_is_inverted_and_fitted_keeping_aspect():
    paper = np.full((40, 80, 3), 250, np.uint8)  # 80 wide, 40 high, near-white RGB
    paper[10:30, 20:40] = (0, 0, 0)  # a black block
    out = to_mnist_image(Image.fromarray(paper))
    assert out.shape == (28, 28) and out.dtype == np.uint8
    # scaled by 28/80 to 28x14, centred: rows 7..20 hold the picture, the rest is black background
    assert out[:7].max() == 0 and out[21:].max() == 0
    # paper (250) became ink-free background (5 -> near 0), the block became bright ink
    assert out[14, 10] > 240 and out[8, 26] < 10
    assert out[14, 10] == out.max()


def test_light_ink_on_dark_is_kept_and_transparency_is_paper():
    mnist_like = np.zeros((28, 28), np.uint8)
    mnist_like[5:20, 12:16] = 255
    np.testing.assert_array_equal(to_mnist_image(Image.fromarray(mnist_like)), mnist_like)
    # black strokes on a transparent background (a typical drawing-app export) read as ink on paper
    rgba = np.zeros((28, 28, 4), np.uint8)
    rgba[5:20, 12:16] = (0, 0, 0, 255)
    np.testing.assert_array_equal(to_mnist_image(Image.fromarray(rgba, "RGBA")), mnist_like)


def test_unreadable_images_are_skipped_and_counted(tmp_path, sample):
    write_image_folder(tmp_path, "train", sample.train_images[:40], sample.train_labels[:40], sample.class_names)
    write_image_folder(tmp_path, "test", sample.test_images[:20], sample.test_labels[:20], sample.class_names)
    (tmp_path / "train" / "3" / "broken.png").write_bytes(b"not a png at all")
    (tmp_path / "test" / "7" / "cut.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 10)
    (tmp_path / "train" / "3" / "notes.txt").write_text("ignored: not an image suffix")
    (tmp_path / "train" / "3" / ".DS_Store").write_bytes(b"\x00")
    ds = read_image_folder(tmp_path)
    assert (ds.num_train, ds.num_test) == (40, 20)
    assert ds.description.endswith("; 2 unreadable files skipped")


def test_without_test_folder_a_stratified_fifth_is_held_out_with_a_fixed_seed(tmp_path, sample):
    labels = sample.train_labels[:500]
    write_image_folder(tmp_path / "images", "train", sample.train_images[:500], labels, sample.class_names)
    ds = read_image_folder(tmp_path / "images")
    counts = np.bincount(labels, minlength=10)
    np.testing.assert_array_equal(np.bincount(ds.test_labels, minlength=10), np.round(counts * 0.2))
    assert ds.num_train + ds.num_test == 500
    assert "a stratified 20% held out (seed 0)" in ds.description
    again = read_image_folder(tmp_path / "images")
    np.testing.assert_array_equal(again.test_images, ds.test_images)
    train, test = stratified_split(np.array([0, 0, 1, 1, 1, 1, 1, 2]))
    assert sorted([*train, *test]) == list(range(8)) and len(test) == 2  # 0: one of two, 1: one of five, 2: none


def test_class_folders_directly_inside_and_one_wrapping_folder_are_accepted(tmp_path, sample):
    root = tmp_path / "plain"
    for i, name in enumerate(("cat", "dog")):
        (root / name).mkdir(parents=True)
        for j in range(5):
            Image.fromarray(sample.train_images[i * 5 + j, :, :, 0]).save(root / name / f"{j}.png")
    ds = read_image_folder(root)
    assert ds.class_names == ("cat", "dog")
    assert (ds.num_train, ds.num_test) == (8, 2)
    wrapped = tmp_path / "unzipped"
    write_image_folder(wrapped / "my-digits", "train", sample.train_images[:30], sample.train_labels[:30], "0123456789")
    assert read_image_folder(wrapped).num_train + read_image_folder(wrapped).num_test == 30


@pytest.mark.parametrize(
    ("layout", "words"),
    [
        ({f"train/c{i:02d}/a.png" for i in range(11)}, "has 11 class folders (c00, c01"),
        ({"train/only/a.png"}, "has only the class folder 'only'; a classifier needs two or more"),
        ({"train/a/1.png", "train/b/1.png", "test/a/1.png", "test/z/1.png"}, "test classes must be among a, b"),
        ({"train/a/1.png", "train/b/broken.png"}, "no readable images in"),
        ({"readme.png"}, "has no class folders: expected"),
    ],
)
def test_bad_layouts_are_refused_with_what_to_fix(tmp_path, layout, words):
    for relative in layout:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if "broken" in relative:
            path.write_bytes(b"junk")
        else:
            Image.fromarray(np.full((28, 28), 9, np.uint8)).save(path)
    with pytest.raises(DataError, match=re.escape(words)):
        read_image_folder(tmp_path)


def test_missing_folder_and_roots_are_checked(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(f"folder:{tmp_path / 'nope'}")
    with pytest.raises(DataError, match=r"needs a folder, e\.g\. folder:"):
        load_dataset("folder:  ")
    with pytest.raises(DataError, match="is not allowed"):
        load_dataset(f"folder:{tmp_path}", allowed_roots=[tmp_path / "elsewhere"])


def test_links_leading_outside_the_data_roots_are_skipped_and_counted(tmp_path, sample):
    root, secret = tmp_path / "root", tmp_path / "secret-place"
    low = np.flatnonzero(sample.train_labels < 5)[:40]  # classes 0-4: room for one more
    write_image_folder(root / "mine", "train", sample.train_images[low], sample.train_labels[low], sample.class_names)
    write_image_folder(secret, "train", sample.train_images[:40], sample.train_labels[:40], sample.class_names)
    train = root / "mine" / "train"
    (train / "3" / "stolen.png").symlink_to(next((secret / "train" / "5").iterdir()))
    (train / "elsewhere").symlink_to(secret / "train" / "7", target_is_directory=True)
    (train / "0" / "again.png").symlink_to(next((train / "1").iterdir()))  # a link inside: followed
    served = load_dataset(f"folder:{root / 'mine'}", allowed_roots=[root])
    assert "elsewhere" not in served.class_names
    assert "2 links leading outside the data roots not followed" in served.description
    assert "unreadable" not in served.description and "secret-place" not in served.description
    assert served.num_train + served.num_test == 40 + 1
    sevens = len(list((secret / "train" / "7").iterdir()))
    local = load_dataset(f"folder:{root / 'mine'}")  # on one's own computer links are followed
    assert "elsewhere" in local.class_names
    assert local.num_train + local.num_test == 40 + 1 + 1 + sevens
