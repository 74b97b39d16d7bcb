import gzip
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.data import FASHION_NAMES, load_dataset, parse_dataset_name
from core.data.idx import MAX_IDX_BYTES, export_idx, parse_idx, read_idx_split, write_idx
from core.errors import DataError


def test_sample_is_real_balanced_and_shuffled(sample):
    assert sample.train_images.shape == (4500, 28, 28, 1) and sample.train_images.dtype == np.uint8
    assert sample.test_images.shape == (500, 28, 28, 1)
    assert sample.train_labels.dtype == np.int32
    assert np.bincount(sample.train_labels, minlength=10).tolist() == [450] * 10
    assert np.bincount(sample.test_labels, minlength=10).tolist() == [50] * 10
    # the source file is sorted by class; our split must not be
    assert len(np.unique(sample.train_labels[:50])) >= 8
    assert len(np.unique(sample.test_labels[:30])) >= 6
    # real digits: dark background, ink in the middle, about 19% of pixels lit like MNIST
    lit = (sample.train_images > 0).mean()
    assert 0.15 < lit < 0.25
    assert sample.train_images[:, :2].max() == 0 or sample.train_images[:, :2].mean() < 1
    assert not sample.train_images.flags.writeable


def test_sample_is_cached():
    assert load_dataset("sample") is load_dataset("sample")


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, sample, gz):
    export_idx(tmp_path, "train", sample.train_images[:100], sample.train_labels[:100], gz=gz)
    export_idx(tmp_path, "t10k", sample.test_images[:40], sample.test_labels[:40], gz=gz)
    ds = load_dataset(f"idx:{tmp_path}")
    np.testing.assert_array_equal(ds.train_images, sample.train_images[:100])
    np.testing.assert_array_equal(ds.test_labels, sample.test_labels[:40])
    assert ds.num_train == 100 and ds.num_test == 40


def test_debian_fashion_mnist_full_size(fashion_dir):
    ds = load_dataset(f"idx:{fashion_dir}")
    assert ds.train_images.shape == (60000, 28, 28, 1)
    assert ds.test_images.shape == (10000, 28, 28, 1)
    assert np.bincount(ds.test_labels).tolist() == [1000] * 10
    assert ds.class_names == FASHION_NAMES


def _split(tmp_path, images=None, labels=None, prefix="t10k"):
    images = np.zeros((5, 28, 28), np.uint8) if images is None else images
    labels = np.arange(5, dtype=np.uint8) if labels is None else labels
    write_idx(tmp_path / f"{prefix}-images-idx3-ubyte", images)
    write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", labels)


def test_missing_folder(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(f"idx:{tmp_path / 'nope'}")


def test_empty_folder_lists_what_is_expected(tmp_path):
    with pytest.raises(DataError, match=r"no train-images file .*holds: nothing"):
        load_dataset(f"idx:{tmp_path}")


def test_only_some_files(tmp_path):
    _split(tmp_path, prefix="train")
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((5, 28, 28), np.uint8))
    with pytest.raises(DataError, match="no t10k-labels file"):
        load_dataset(f"idx:{tmp_path}")


def test_count_mismatch(tmp_path):
    _split(tmp_path, labels=np.arange(4, dtype=np.uint8))
    with pytest.raises(DataError, match="has 5 images but t10k-labels-idx1-ubyte has 4 labels"):
        read_idx_split(tmp_path, "t10k")


def test_truncated_file(tmp_path):
    _split(tmp_path)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="is truncated: its header says 5x28x28 values but it holds 3,820"):
        read_idx_split(tmp_path, "t10k")


def test_a_file_with_extra_bytes_at_the_end_is_refused(tmp_path):
    _split(tmp_path)
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes() + b"\x07\x07\x07")  # 5 labels, then 3 more bytes
    message = "t10k-labels-idx1-ubyte has extra bytes at the end: its header says 5 values but it holds 8"
    with pytest.raises(DataError, match=message):
        read_idx_split(tmp_path, "t10k")


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (bytes(range(7)), "has extra bytes at the end: its header says 2x3 values but it holds 7"),
        (bytes(range(5)), "is truncated: its header says 2x3 values but it holds 5"),
    ],
    ids=["one byte too many", "one byte too few"],
)
def test_idx_body_must_hold_exactly_what_its_header_says(body, problem):
    header = bytes([0, 0, 8, 2]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big")  # a 2x3 ubyte array
    with pytest.raises(DataError, match=f"^blob {problem}$"):
        parse_idx(header + body, "blob")
    np.testing.assert_array_equal(parse_idx(header + bytes(range(6)), "blob"), [[0, 1, 2], [3, 4, 5]])


def test_idx_cut_inside_its_header_is_refused():
    with pytest.raises(DataError, match="blob is truncated inside its header"):
        parse_idx(bytes([0, 0, 8, 3]) + (5).to_bytes(4, "big"), "blob")  # 3 dimensions, only 1 given


def test_wrong_magic(tmp_path):
    _split(tmp_path)
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(b"\x00\x00\x0d\x01" + path.read_bytes()[4:])  # float32 type code
    with pytest.raises(DataError, match="magic number 0x00000d01"):
        read_idx_split(tmp_path, "t10k")


def test_corrupt_gzip(tmp_path):
    _split(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01" + b"\x00" * 50)[:-9])
    with pytest.raises(DataError, match=r"cannot read t10k-labels-idx1-ubyte\.gz"):
        read_idx_split(tmp_path, "t10k")


def test_wrong_image_size(tmp_path):
    _split(tmp_path, images=np.zeros((5, 32, 32), np.uint8))
    with pytest.raises(DataError, match="must hold 28x28 images"):
        read_idx_split(tmp_path, "t10k")


def test_label_out_of_range(tmp_path):
    _split(tmp_path, labels=np.array([0, 1, 2, 3, 12], np.uint8))
    with pytest.raises(DataError, match="label 12"):
        read_idx_split(tmp_path, "t10k")


def test_huge_file_is_refused_without_reading_it(tmp_path):
    _split(tmp_path)
    path = tmp_path / "t10k-images-idx3-ubyte"
    with open(path, "r+b") as f:  # a sparse 2 GB file: nothing is really written
        f.truncate(2 * 1024**3)
    assert os.path.getsize(path) > MAX_IDX_BYTES
    with pytest.raises(DataError, match="larger than"):
        read_idx_split(tmp_path, "t10k")


def test_folder_that_is_a_file(tmp_path):
    (tmp_path / "x").write_text("hi")
    with pytest.raises(DataError, match="is a file"):
        load_dataset(f"idx:{tmp_path / 'x'}")


@pytest.mark.parametrize("name", ["", "cifar10", "idx:", "  ", "MNIST!"])
def test_unknown_dataset_names(name):
    with pytest.raises(DataError):
        parse_dataset_name(name)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_parse_or_raise_data_error(blob):
    try:
        array = parse_idx(blob, "blob")
    except DataError:
        return
    assert array.dtype == np.uint8 and array.size == len(blob) - 4 - 4 * array.ndim


@settings(max_examples=200, deadline=None)
@given(
    ndim=st.integers(1, 4),
    dims=st.lists(st.integers(0, 6), min_size=4, max_size=4),
    extra=st.integers(-3, 3),
)
def test_headers_with_any_dims_parse_or_raise(ndim, dims, extra):
    header = bytes([0, 0, 8, ndim]) + b"".join(d.to_bytes(4, "big") for d in dims[:ndim])
    body = b"\x01" * max(0, int(np.prod(dims[:ndim])) + extra)
    try:
        array = parse_idx(header + body)
    except DataError:
        assert extra != 0
        return
    assert array.shape == tuple(dims[:ndim])


def test_folders_outside_the_data_roots_are_refused(tmp_path, sample):
    inside = tmp_path / "root" / "mnist"
    export_idx(inside, "train", sample.train_images[:20], sample.train_labels[:20])
    export_idx(inside, "t10k", sample.test_images[:10], sample.test_labels[:10])
    roots = [tmp_path / "root"]
    assert load_dataset(f"idx:{inside}", allowed_roots=roots).num_train == 20
    with pytest.raises(DataError, match="not allowed: this dashboard is served to other computers"):
        load_dataset(f"idx:{tmp_path}", allowed_roots=roots)
    with pytest.raises(DataError, match="not allowed"):  # '..' cannot climb out of a root
        load_dataset(f"idx:{inside}/../../", allowed_roots=roots)
    secret = tmp_path / "secret-place"
    export_idx(secret, "train", sample.train_images[:20], sample.train_labels[:20])
    export_idx(secret, "t10k", sample.test_images[:10], sample.test_labels[:10])
    (tmp_path / "root" / "link").symlink_to(secret)
    with pytest.raises(DataError, match="not allowed") as refused:  # nor can a symlink
        load_dataset(f"idx:{tmp_path / 'root' / 'link'}", allowed_roots=roots)
    # the refusal names the folder as typed (cut short when long), not where the link leads on the server
    shown = str(refused.value).removeprefix("reading ").split(" is not allowed")[0].removesuffix("…")
    assert str(tmp_path / "root" / "link").startswith(shown) and len(shown) > len(str(tmp_path))
    assert "secret-place" not in str(refused.value)


def test_idx_files_linking_outside_the_data_roots_are_not_read(tmp_path, sample):
    secret, inside = tmp_path / "secret-place", tmp_path / "root" / "mnist"
    export_idx(secret, "train", sample.train_images[:20], sample.train_labels[:20])
    export_idx(inside, "train", sample.train_images[:20], sample.train_labels[:20])
    inside.joinpath("t10k-images-idx3-ubyte").symlink_to(secret / "train-images-idx3-ubyte")
    inside.joinpath("t10k-labels-idx1-ubyte").symlink_to(inside / "train-labels-idx1-ubyte")  # inside: fine
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte is a link to a file outside the data roots") as no:
        load_dataset(f"idx:{inside}", allowed_roots=[tmp_path / "root"])
    assert "secret-place" not in str(no.value)
    # on one's own computer (no data roots) the same folder is read, links and all
    assert load_dataset(f"idx:{inside}").num_test == 20


def test_what_a_person_is_asked_to_draw_follows_the_classes():
    from core.data.dataset import DIGIT_NAMES, FASHION_NAMES, KUZUSHIJI_NAMES, drawing_subject

    assert drawing_subject(DIGIT_NAMES) == "digit"
    assert drawing_subject(KUZUSHIJI_NAMES) == "hiragana character"
    assert drawing_subject(FASHION_NAMES) == "piece of clothing"
    names = ("cat", "dog")
    assert drawing_subject(names) == "picture of one of: cat, dog"


def test_labels_are_checked_against_the_class_names():
    from core.data.dataset import LETTER_NAMES, make_dataset

    images = np.zeros((3, 28, 28, 1), np.uint8)
    letters = make_dataset("x", "x", LETTER_NAMES, (images, np.array([0, 12, 25])), (images, np.array([1, 2, 25])))
    assert letters.train_labels.max() == 25 and len(letters.class_names) == 26
    with pytest.raises(DataError, match="labels must be 0-25"):
        make_dataset("x", "x", LETTER_NAMES, (images, np.array([0, 1, 26])), (images, np.array([1, 2, 3])))
    with pytest.raises(DataError, match="labels must be 0-9"):
        make_dataset("x", "x", tuple("0123456789"), (images, np.array([0, 1, 10])), (images, np.array([1, 2, 3])))
    with pytest.raises(DataError, match="2 to 64 classes"):
        make_dataset("x", "x", ("only",), (images, np.zeros(3, int)), (images, np.zeros(3, int)))


def test_one_image_of_a_class_is_said_with_the_datasets_own_noun():
    from core.data.dataset import DIGIT_NAMES, FASHION_NAMES, LETTER_NAMES, one_of_class, what_each_image_is

    assert one_of_class(DIGIT_NAMES, 7) == "a 7" and one_of_class(DIGIT_NAMES, 8) == "an 8"
    assert one_of_class(FASHION_NAMES, 9) == "an Ankle boot" and one_of_class(LETTER_NAMES, 0) == "an A/a"
    shapes = ("circles", "glass", "puppies")
    assert [one_of_class(shapes, i) for i in range(3)] == ["a circle", "a glass", "a puppy"]
    assert what_each_image_is(DIGIT_NAMES) == "a digit"
    assert what_each_image_is(FASHION_NAMES) == "a piece of clothing"
    assert what_each_image_is(shapes) == "a circle, a glass or a puppy"
    assert what_each_image_is(tuple("abcdefg")) == "each of your 7 classes"


def test_a_dataset_is_named_in_words_without_its_folder():
    from core.data import dataset_title

    assert dataset_title("sample") == "the bundled MNIST sample"
    assert dataset_title("fashion_mnist") == "Fashion-MNIST"
    assert dataset_title("folder:/tmp/upload-x1y2/images") == "your images"
    assert dataset_title("idx:/srv/data/secret/fashion-mnist") == "the IDX folder fashion-mnist"
