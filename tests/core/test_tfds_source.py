"""tensorflow-datasets route: only the network is fake (a loopback HTTP server); tfds is real."""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import http.server
import io
import os
import socket
import threading
import types
import uuid
import zipfile

import numpy as np
import pytest
import tensorflow_datasets as tfds
from tensorflow_datasets.core.download import checksums as checksums_lib

from core.data import load_dataset
from core.data import tfds as tfds_source
from core.errors import DataError

N_TRAIN, N_TEST = 30, 12
FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


@pytest.fixture(autouse=True)
def _fresh_cache():
    tfds_source._load_cached.cache_clear()
    yield
    tfds_source._load_cached.cache_clear()


def test_tensorflow_is_not_needed():
    with pytest.raises(ImportError):
        import tensorflow  # noqa: F401


def test_default_data_dir_is_the_one_tfds_load_documents(monkeypatch, tmp_path):
    """$TFDS_DATA_DIR when set, else ~/tensorflow_datasets (read without tfds' internal constants)."""
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    assert tfds_source.default_data_dir() == str(tmp_path / "tfds")
    monkeypatch.delenv("TFDS_DATA_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert tfds_source.default_data_dir() == str(tmp_path / "tensorflow_datasets")


def _idx_gz(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes(), mtime=0)


@pytest.fixture(scope="module")
def raw():
    rng = np.random.default_rng(0)
    return {
        "train_images": rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, N_TRAIN, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, N_TEST, dtype=np.uint8),
    }


def _infos(urls, blobs):
    return {
        urls[key]: checksums_lib.UrlInfo(
            size=len(blobs[key]), checksum=hashlib.sha256(blobs[key]).hexdigest(), filename=FILES[key]
        )
        for key in FILES
    }


@pytest.fixture
def server(raw, tmp_path, monkeypatch):
    """Serve the IDX files on loopback and make tfds' registered resources point there.

    Each test gets a unique URL prefix: tfds keeps registered checksums process-wide.
    """
    blobs = {key: _idx_gz(array) for key, array in raw.items()}
    prefix = uuid.uuid4().hex
    (tmp_path / "www" / prefix).mkdir(parents=True)
    for key, blob in blobs.items():
        (tmp_path / "www" / prefix / FILES[key]).write_bytes(blob)
    hits: list[str] = []  # the path of every GET request

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=tmp_path / "www"))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}/{prefix}/"
    urls = {key: base + name for key, name in FILES.items()}
    infos = _infos(urls, blobs)
    monkeypatch.setattr(tfds_source, "registered_resources", lambda name: (urls, infos))
    yield types.SimpleNamespace(urls=urls, infos=infos, hits=hits, data_dir=str(tmp_path / "tfds"))
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize(
    ("name", "base"),
    [
        ("mnist", "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        ("fashion_mnist", "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"),
        ("kmnist", "http://codh.rois.ac.jp/kmnist/dataset/kmnist/"),
    ],
)
def test_registered_resources_are_tfds_own(name, base):
    urls, infos = tfds_source.registered_resources(name)
    assert {key: url.removeprefix(base) for key, url in urls.items()} == FILES
    assert all(len(infos[url].checksum) == 64 and int(infos[url].size) > 1000 for url in urls.values())


@pytest.mark.parametrize(
    ("name", "title", "first_class"), [("mnist", "MNIST via", "0"), ("kmnist", "Kuzushiji-MNIST via", "お (o)")]
)
def test_download_is_verified_parsed_and_cached(server, raw, name, title, first_class):
    ds = load_dataset(name, data_dir=server.data_dir)
    assert ds.description.startswith(title) and ds.class_names[0] == first_class and len(ds.class_names) == 10
    assert ds.train_images.shape == (N_TRAIN, 28, 28, 1) and ds.train_images.dtype == np.uint8
    np.testing.assert_array_equal(ds.train_images[..., 0], raw["train_images"])
    np.testing.assert_array_equal(ds.test_labels, raw["test_labels"])
    assert "downloaded through tfds" in ds.description
    assert len(server.hits) == 4
    files = os.listdir(os.path.join(server.data_dir, "downloads", name))
    assert len([f for f in files if f.endswith(".gz")]) == 4
    tfds_source._load_cached.cache_clear()
    again = load_dataset(name, data_dir=server.data_dir)  # from tfds' download cache: no request
    np.testing.assert_array_equal(again.test_images, ds.test_images)
    assert len(server.hits) == 4


@pytest.mark.parametrize(
    ("name", "subset", "first_label", "title", "names"),
    [
        ("emnist_digits", "digits", 0, "EMNIST digits via", [str(d) for d in range(10)]),
        (
            "emnist_letters",
            "letters",
            1,
            "EMNIST letters via",
            [f"{c}/{c.lower()}" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"],
        ),
    ],
)
def test_emnist_subsets_come_from_tfds_zip_and_are_turned_upright(
    raw, tmp_path, monkeypatch, name, subset, first_label, title, names
):
    """EMNIST's files store each image transposed, and number the letters from 1; the zip holds
    every subset under gzip/ (the other subset here is a decoy that must not be read)."""
    other = "letters" if subset == "digits" else "digits"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for split, prefix in (("train", "train"), ("test", "test")):
            z.writestr(f"gzip/emnist-{subset}-{prefix}-images-idx3-ubyte.gz",
                       _idx_gz(raw[f"{split}_images"].transpose(0, 2, 1)))  # fmt: skip
            z.writestr(f"gzip/emnist-{subset}-{prefix}-labels-idx1-ubyte.gz",
                       _idx_gz(raw[f"{split}_labels"] + first_label))  # fmt: skip
            z.writestr(f"gzip/emnist-{other}-{prefix}-labels-idx1-ubyte.gz", _idx_gz(np.ones(3, np.uint8)))
    blob = buffer.getvalue()
    prefix = uuid.uuid4().hex
    (tmp_path / "www" / prefix).mkdir(parents=True)
    (tmp_path / "www" / prefix / "gzip.zip").write_bytes(blob)
    hits: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            hits.append(self.path)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=tmp_path / "www"))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/{prefix}/gzip.zip"
    info = checksums_lib.UrlInfo(size=len(blob), checksum=hashlib.sha256(blob).hexdigest(), filename="gzip.zip")
    monkeypatch.setattr(tfds_source, "registered_archive", lambda name: (url, info))
    try:
        ds = load_dataset(name, data_dir=str(tmp_path / "tfds"))
        tfds_source._load_cached.cache_clear()
        again = load_dataset(name, data_dir=str(tmp_path / "tfds"))  # from the download cache
    finally:
        httpd.shutdown()
        httpd.server_close()
    np.testing.assert_array_equal(ds.train_images[..., 0], raw["train_images"])
    np.testing.assert_array_equal(ds.test_images[..., 0], raw["test_images"])
    np.testing.assert_array_equal(ds.test_labels, raw["test_labels"])
    assert ds.description.startswith(title) and list(ds.class_names) == names
    np.testing.assert_array_equal(again.train_images, ds.train_images)
    assert len(hits) == 1


def test_registered_emnist_archive_is_tfds_own():
    url, info = tfds_source.registered_archive("emnist_digits")
    assert url == "https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip" and int(info.size) == 561753746
    with pytest.raises(DataError, match="downloading is off"):
        tfds_source.load("emnist_digits", data_dir="/nonexistent", download=False)


def test_wrong_checksum_is_rejected(server):
    url = server.urls["train_labels"]
    good = server.infos[url]
    server.infos[url] = checksums_lib.UrlInfo(size=good.size, checksum="0" * 64, filename=good.filename)
    with pytest.raises(DataError, match="did not match the checksum"):
        load_dataset("mnist", data_dir=server.data_dir)


def test_http_error_is_one_clear_message_after_one_request(server):
    server.urls["test_labels"] += ".missing"
    server.infos[server.urls["test_labels"]] = checksums_lib.UrlInfo(size=1, checksum="1" * 64, filename="x")
    with pytest.raises(DataError, match=r"downloading mnist through tensorflow-datasets failed: .*404.*bundled sample"):
        load_dataset("mnist", data_dir=server.data_dir)
    missing = "/" + server.urls["test_labels"].split("/", 3)[3]
    assert server.hits.count(missing) == 1  # a 404 is not asked again


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _unreachable(monkeypatch, base: str) -> None:
    urls = {key: base + name for key, name in FILES.items()}
    infos = {u: checksums_lib.UrlInfo(size=1, checksum="2" * 64, filename="x") for u in urls.values()}
    monkeypatch.setattr(tfds_source, "registered_resources", lambda name: (urls, infos))


@pytest.fixture
def connections(monkeypatch):
    """Every ``socket.create_connection`` as (address, timeout); the real connection is still made."""
    seen, real = [], socket.create_connection

    def create_connection(address, timeout=None, *args, **kwargs):
        seen.append((address, timeout))
        return real(address, timeout, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    return seen


def test_offline_is_one_bounded_probe_and_suggests_the_sample(monkeypatch, tmp_path, connections):
    port = _closed_port()
    _unreachable(monkeypatch, f"http://127.0.0.1:{port}/{uuid.uuid4().hex}/")
    with pytest.raises(
        DataError,
        match=r"no network: cannot reach the download server \(127\.0\.0\.1\).*bundled sample of 5,000 "
        r"MNIST digits.*'A folder of IDX files'",
    ) as caught:
        load_dataset("fashion_mnist", data_dir=str(tmp_path))
    assert "Errno" not in str(caught.value) and "refused" not in str(caught.value)  # no raw socket error
    # four files on one host: one connection attempt, with the 3 s connect timeout, and no download tried
    assert connections == [(("127.0.0.1", port), 3.0)]


def test_a_name_lookup_that_never_answers_is_cut_off_at_the_connect_timeout(monkeypatch, tmp_path):
    """DNS has no timeout of its own: the probe's deadline must end the wait."""
    released, seen = threading.Event(), []

    def lookup_never_answers(address, timeout=None, *args, **kwargs):
        seen.append((address, timeout))
        released.wait(30)  # far beyond the deadline; ends the thread once the test is over
        raise socket.gaierror(-3, "Temporary failure in name resolution")

    host = f"{uuid.uuid4().hex}.invalid"
    _unreachable(monkeypatch, f"http://{host}/")
    monkeypatch.setattr(socket, "create_connection", lookup_never_answers)
    monkeypatch.setattr(tfds_source, "CONNECT_TIMEOUT_S", 1.0)
    try:
        with pytest.raises(
            DataError, match=rf"no network: the download server \({host}:80\) did not answer within 1s.*bundled sample"
        ):
            load_dataset("mnist", data_dir=str(tmp_path))
    finally:
        released.set()
    assert seen == [((host, 80), 1.0)]


def test_a_server_that_never_answers_is_given_up_when_no_data_arrives(monkeypatch, tmp_path):
    """It accepts connections (the kernel does, listen() without accept()) and never sends a byte:
    tfds alone would wait forever. The probe connects, then tfds' download does, and is given up."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(32)
    _unreachable(monkeypatch, f"http://127.0.0.1:{listener.getsockname()[1]}/{uuid.uuid4().hex}/")
    monkeypatch.setattr(tfds_source, "READ_TIMEOUT_S", 0.3)
    hang_guard = threading.Timer(30, listener.close)  # ends the abandoned download threads' wait
    hang_guard.start()
    accepted = []
    try:
        with pytest.raises(DataError, match=r"downloading mnist stalled: no data arrived for 0\.3s; .*bundled sample"):
            load_dataset("mnist", data_dir=str(tmp_path))
        listener.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            while True:
                accepted.append(listener.accept()[0])
    finally:
        hang_guard.cancel()
        listener.close()
        for conn in accepted:
            conn.close()
    assert len(accepted) >= 2  # the probe, and at least one file request that never got an answer


def test_no_download_when_not_prepared(tmp_path):
    with pytest.raises(DataError, match=r"not prepared .* downloading is off"):
        tfds_source.load("mnist", data_dir=str(tmp_path), download=False)


def test_mock_data_through_data_source():
    with tfds.testing.mock_data(num_examples=5):
        splits = tfds_source.read_prepared("mnist", "/ignored/by/mock")
    images, labels = splits["train"]
    assert images.shape == (5, 28, 28, 1) and images.dtype == np.uint8
    assert labels.shape == (5,) and labels.dtype == np.int32


def _prepare_without_tensorflow(name: str, data_dir: str) -> None:
    """Write a real array_record build of ``name`` from the (loopback) IDX files.

    tfds' own builder needs TensorFlow to extract and encode, so this subclass downloads
    through core and yields PNG bytes encoded by PIL; the result is what a machine with
    TensorFlow would have prepared.
    """
    from PIL import Image

    base = tfds.builder_cls(name)

    def _split_generators(self, dl_manager):
        paths = tfds_source.download_idx_files(name, data_dir)
        return {split: self._examples(tfds_source.parse_split(paths, split)) for split in ("train", "test")}

    def _examples(self, split):
        images, labels = split
        for i in range(len(labels)):
            buffer = io.BytesIO()
            Image.fromarray(images[i, :, :, 0]).save(buffer, format="PNG")
            yield i, {"image": buffer.getvalue(), "label": int(labels[i])}

    def body(ns):
        ns.update(name=name, url_infos={}, _split_generators=_split_generators, _examples=_examples)

    cls = types.new_class(f"TfFree{base.__name__}", (base,), {"skip_registration": True}, body)
    cls(data_dir=data_dir, file_format="array_record").download_and_prepare()


@pytest.mark.slow
def test_prepared_build_is_read_with_data_source(server, raw):
    _prepare_without_tensorflow("mnist", server.data_dir)
    assert tfds_source.is_prepared("mnist", server.data_dir)
    hits_before = len(server.hits)
    ds = load_dataset("mnist", data_dir=server.data_dir)
    assert "tfds build" in ds.description
    assert len(server.hits) == hits_before  # read from the build, nothing downloaded
    # tfds stores records in its own (hashed) order: compare as multisets of (image, label)
    want = sorted(raw["test_images"][i].tobytes() + bytes([raw["test_labels"][i]]) for i in range(N_TEST))
    have = sorted(ds.test_images[i, :, :, 0].tobytes() + bytes([ds.test_labels[i]]) for i in range(N_TEST))
    assert have == want
