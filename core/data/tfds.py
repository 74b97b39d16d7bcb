"""``mnist`` and ``fashion_mnist`` through tensorflow-datasets, without TensorFlow.

Two routes, tried in order:
1. Prepared: a finished array_record build in the tfds data dir is read with
   ``tfds.data_source(..., download=False)``.
2. Download: the four IDX .gz files of the tfds builder are fetched by tfds' own
   ``DownloadManager`` (sha256 + size checked against the checksums tfds registers for
   the builder, cached under ``<data_dir>/downloads/<name>/``) and parsed by
   ``core.data``. The stock ``download_and_prepare`` cannot be used: it extracts and
   encodes through TensorFlow.

Never hang: tfds' downloader uses ``requests`` with no timeout and 10 retries (over 200 s
offline, forever on a stalled server). So before fetching a file that is not cached we
probe DNS + TCP to its host in a daemon thread with a deadline, and while downloading we
give tfds' (private) ``_open_url`` a timeout and one retry.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.data.dataset import DIGIT_NAMES, FASHION_NAMES, Dataset, make_dataset
from core.data.idx import MAX_IDX_BYTES, parse_idx, read_idx_bytes
from core.errors import DataError

SPLITS = ("train", "test")
CLASS_NAMES = {"mnist": DIGIT_NAMES, "fashion_mnist": FASHION_NAMES}
#: Keys of tfds' MNIST builder and the module constants holding each file name.
_FILE_CONSTANTS = {
    "train_images": "_MNIST_TRAIN_DATA_FILENAME",
    "train_labels": "_MNIST_TRAIN_LABELS_FILENAME",
    "test_images": "_MNIST_TEST_DATA_FILENAME",
    "test_labels": "_MNIST_TEST_LABELS_FILENAME",
}
CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 30.0
_ADVICE = "use the bundled 'sample' dataset, or a local folder of IDX files (idx:<folder>)"


def _tfds():
    import tensorflow_datasets as tfds  # heavy: imported only when a tfds dataset is asked for
    from absl import logging as absl_logging

    # tfds logs internal notes ("Variant folder ... has no dataset_info.json") as warnings;
    # the person gets our DataError instead.
    absl_logging.set_verbosity(absl_logging.ERROR)
    return tfds


def default_data_dir() -> str:
    """tfds' data dir: $TFDS_DATA_DIR or ~/tensorflow_datasets."""
    from tensorflow_datasets.core import constants

    return os.path.expanduser(constants.DATA_DIR)


def load(name: str, *, data_dir: str | None = None, download: bool = True) -> Dataset:
    """The dataset ``name`` from a prepared tfds build, or downloaded through tfds; DataError otherwise."""
    if name not in CLASS_NAMES:
        raise DataError(f"tensorflow-datasets source supports {', '.join(CLASS_NAMES)}, not {name!r}")
    return _load_cached(name, os.fspath(data_dir or default_data_dir()), download)


@lru_cache(maxsize=2)
def _load_cached(name: str, data_dir: str, download: bool) -> Dataset:
    tic = time.perf_counter()
    if is_prepared(name, data_dir):
        splits = read_prepared(name, data_dir)
        how = f"tfds build in {data_dir}"
    elif not download:
        raise DataError(f"{name} is not prepared in {data_dir} and downloading is off; {_ADVICE}")
    else:
        paths = download_idx_files(name, data_dir)
        splits = {split: _parse_split(paths, split) for split in SPLITS}
        how = f"downloaded through tfds, cached in {data_dir}/downloads"
    return make_dataset(
        name,
        f"{'MNIST' if name == 'mnist' else 'Fashion-MNIST'} via tensorflow-datasets ({how}; "
        f"{len(splits['train'][1]):,} train / {len(splits['test'][1]):,} test; {time.perf_counter() - tic:.1f}s)",
        CLASS_NAMES[name],
        splits["train"],
        splits["test"],
    )


# ----- route 1: a prepared array_record build ------------------------------------------------


def is_prepared(name: str, data_dir: str) -> bool:
    """True when tfds has a finished build of ``name`` with an array_record copy."""
    try:
        builder = _tfds().builder(name, data_dir=data_dir)
        if not builder.is_prepared():
            return False
        return "array_record" in {f.value for f in builder.info.available_file_formats()}
    except Exception:  # a damaged build folder: fall back to downloading
        return False


def read_prepared(name: str, data_dir: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read both splits with ``tfds.data_source`` (random access, no TensorFlow).

    ``split`` is passed explicitly and ``download=False`` so tfds never tries to prepare.
    """
    try:
        sources = _tfds().data_source(name, split=list(SPLITS), data_dir=data_dir, download=False)
        out = {}
        for split, source in zip(SPLITS, sources, strict=True):
            try:  # one batched read is ~3x faster than item by item
                records = source.__getitems__(range(len(source)))
            except TypeError:  # tfds.testing.mock_data's __getitems__ takes other arguments
                records = [source[i] for i in range(len(source))]
            images = np.stack([np.asarray(r["image"], np.uint8) for r in records]).reshape(-1, 28, 28, 1)
            labels = np.asarray([int(r["label"]) for r in records], np.int32)
            out[split] = (images, labels)
    except DataError:
        raise
    except Exception as err:
        raise DataError(f"the tfds build of {name} in {data_dir} could not be read ({err}); {_ADVICE}") from None
    return out


# ----- route 2: download the IDX files through tfds' DownloadManager ----------------------------


def registered_resources(name: str) -> tuple[dict[str, str], dict[str, object]]:
    """({key: url}, {url: UrlInfo}): the files and checksums tfds' own builder would download."""
    tfds = _tfds()
    from tensorflow_datasets.core.download import checksums

    builder_cls = tfds.builder_cls(name)
    module = sys.modules[builder_cls.__module__]
    urls = {
        key: urllib.parse.urljoin(builder_cls.URL, getattr(module, const)) for key, const in _FILE_CONSTANTS.items()
    }
    # builder_cls.url_infos reads the same file but needs importlib_resources (tfds issue #11212)
    infos = checksums.load_url_infos(tfds.core.tfds_path("url_checksums", f"{name}.txt"))
    missing = [url for url in urls.values() if url not in infos]
    if missing:
        raise DataError(f"tensorflow-datasets has no registered checksum for {missing[0]}; {_ADVICE}")
    return urls, {url: infos[url] for url in urls.values()}


def _probe_target(url: str) -> tuple[str, int]:
    """The host:port the HTTP client will connect to (a proxy from *_PROXY if one is set)."""
    import requests

    proxy = requests.utils.get_environ_proxies(url).get(urllib.parse.urlsplit(url).scheme)
    parts = urllib.parse.urlsplit(proxy or url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def check_reachable(urls: list[str], timeout: float = CONNECT_TIMEOUT_S) -> None:
    """DataError unless a TCP connection to every host opens within ``timeout`` seconds in total.

    Runs in a daemon thread: DNS lookups have no timeout of their own.
    """
    targets = sorted({_probe_target(url) for url in urls})
    result: dict[str, object] = {}

    def probe() -> None:
        for host, port in targets:
            try:
                socket.create_connection((host, port), timeout=timeout).close()
            except OSError as err:
                result["error"], result["target"] = err, f"{host}:{port}"
                return
        result["error"] = None

    tic = time.monotonic()
    thread = threading.Thread(target=probe, name="tfds-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    hosts = ", ".join(f"{h}:{p}" for h, p in targets)
    if "error" not in result:
        raise DataError(
            f"no network: the download server ({hosts}) did not answer within {timeout:.0f}s, so this dataset "
            f"cannot be downloaded now; {_ADVICE}"
        )
    if result["error"] is not None:
        # the socket error (errno, resolver text) means nothing to a person: say what it means instead
        raise DataError(
            f"no network: cannot reach the download server ({result['target'].split(':')[0]}) after "
            f"{time.monotonic() - tic:.1f}s, so this dataset cannot be downloaded now; {_ADVICE}"
        )


_PATCH_LOCK = threading.Lock()


@contextlib.contextmanager
def bounded_tfds_http(timeout: tuple[float, float], retries: int = 1) -> Iterator[None]:
    """Give tfds' downloader a (connect, read) timeout and fewer retries while the block runs.

    tfds 4.9 has no public setting for either (``socket.setdefaulttimeout`` does not
    help: requests passes ``timeout=None``). Patches private module globals, restored after.
    """
    from tensorflow_datasets.core.download import downloader

    if not hasattr(downloader, "_open_url") or not hasattr(downloader, "MAX_RETRIES"):
        yield  # tfds internals changed: the reachability probe still guards the common case
        return
    with _PATCH_LOCK:
        original_open, original_retries = downloader._open_url, downloader.MAX_RETRIES
        downloader._open_url = functools.partial(original_open, timeout=timeout)
        downloader.MAX_RETRIES = retries
        try:
            yield
        finally:
            downloader._open_url, downloader.MAX_RETRIES = original_open, original_retries


def _is_cached(manager, url: str) -> bool:
    """Whether the DownloadManager would serve ``url`` from its checksum-named cache."""
    from tensorflow_datasets.core.download import resource as resource_lib

    try:
        res = resource_lib.Resource(url=url)
        return bool(manager._get_checksum_dl_result(res) or manager._get_checksum_dl_result(res, legacy_mode=True))
    except Exception:  # private API changed: assume not cached, the probe then runs
        return False


def download_idx_files(
    name: str,
    data_dir: str,
    *,
    urls: Mapping[str, str] | None = None,
    url_infos: Mapping[str, object] | None = None,
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
) -> dict[str, str]:
    """Checksum-verified download (or cache hit) of the four IDX .gz files -> {key: path}.

    ``urls``/``url_infos`` default to tfds' registered ones; timeouts to the module's.
    """
    connect_timeout = connect_timeout or CONNECT_TIMEOUT_S
    read_timeout = read_timeout or READ_TIMEOUT_S
    tfds = _tfds()
    from tensorflow_datasets.core.download.download_manager import NonMatchingChecksumError

    if urls is None or url_infos is None:
        urls, url_infos = registered_resources(name)
    manager = tfds.download.DownloadManager(
        download_dir=os.path.join(data_dir, "downloads"),
        dataset_name=name,
        url_infos=dict(url_infos),
        force_checksums_validation=True,  # refuse any file without a registered checksum
    )
    todo = [url for url in urls.values() if not _is_cached(manager, url)]
    if todo:
        check_reachable(todo, timeout=connect_timeout)
    try:
        with bounded_tfds_http(timeout=(connect_timeout, read_timeout)):
            paths = manager.download(dict(urls))
    except NonMatchingChecksumError:
        raise DataError(
            f"a downloaded {name} file did not match the checksum tensorflow-datasets expects "
            f"(damaged or tampered download); it was not used. {_ADVICE[0].upper()}{_ADVICE[1:]}"
        ) from None
    except Exception as err:  # requests errors, HTTP status errors, disk errors
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"downloading {name} through tensorflow-datasets failed: {first_line}; {_ADVICE}") from None
    return {key: os.fspath(path) for key, path in paths.items()}


def _parse_split(paths: Mapping[str, str], split: str) -> tuple[np.ndarray, np.ndarray]:
    images = parse_idx(read_idx_bytes(Path(paths[f"{split}_images"]), MAX_IDX_BYTES), f"{split} images")
    labels = parse_idx(read_idx_bytes(Path(paths[f"{split}_labels"]), MAX_IDX_BYTES), f"{split} labels")
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != (images.shape[0],):
        raise DataError(f"downloaded {split} files have unexpected shapes {images.shape} / {labels.shape}")
    return images[..., None], labels.astype(np.int32)
