"""``mnist``, ``fashion_mnist``, ``kmnist`` (Kuzushiji-MNIST), ``emnist_digits`` and ``emnist_letters``
through tensorflow-datasets, without TensorFlow. (EMNIST: its zip is fetched the same way, see ``read_archived``.)

Two routes, tried in order:
1. Prepared: a finished array_record build in the tfds data dir is read with
   ``tfds.data_source(..., download=False)``.
2. Download: the four IDX .gz files of the tfds builder are fetched by tfds' own
   ``DownloadManager`` (sha256 + size checked against the checksums tfds registers for
   the builder, cached under ``<data_dir>/downloads/<name>/``) and parsed by
   ``core.data``. The stock ``download_and_prepare`` cannot be used: it extracts and
   encodes through TensorFlow.

Never hang: tfds' downloader uses ``requests`` with no timeout and 10 retries (over 200 s
offline, forever on a stalled server), and has no public setting for either. So before
fetching a file that is not cached we probe DNS + TCP to its host in a daemon thread with a
deadline, and the download itself runs in a daemon thread that is given up (with a message)
once no byte has arrived for ``READ_TIMEOUT_S``.

The public ``tfds.download.DownloadManager`` does the downloading; reading tfds' registered checksums,
asking its cache and naming its checksum error have no public API, so those few internals are named,
with why, in tests/core/test_boundary.py's ALLOW_LIST.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.data.dataset import DIGIT_NAMES, FASHION_NAMES, KUZUSHIJI_NAMES, LETTER_NAMES, Dataset, make_dataset
from core.data.tfds_files import ADVICE, ADVICE_SENTENCE, ARCHIVED, FILES, SPLITS, parse_split, read_archived
from core.errors import DataError
from core.i18n import N_

CLASS_NAMES = {
    "mnist": DIGIT_NAMES,
    "fashion_mnist": FASHION_NAMES,
    "kmnist": KUZUSHIJI_NAMES,
    "emnist_digits": DIGIT_NAMES,
    "emnist_letters": LETTER_NAMES,
}
TITLES = {
    "mnist": "MNIST",
    "fashion_mnist": "Fashion-MNIST",
    "kmnist": "Kuzushiji-MNIST",
    "emnist_digits": N_("EMNIST digits"),
    "emnist_letters": N_("EMNIST letters"),
}
CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 30.0


def _tfds():
    import tensorflow_datasets as tfds  # heavy: imported only when a tfds dataset is asked for
    from absl import logging as absl_logging

    # tfds logs internal notes ("Variant folder ... has no dataset_info.json") as warnings;
    # the person gets our DataError instead.
    absl_logging.set_verbosity(absl_logging.ERROR)
    return tfds


def default_data_dir() -> str:
    """tfds' data dir: $TFDS_DATA_DIR or ~/tensorflow_datasets, as ``tfds.load``'s documentation of
    ``data_dir`` says (tfds has no documented function that returns it)."""
    return os.path.expanduser(os.environ.get("TFDS_DATA_DIR", os.path.join("~", "tensorflow_datasets")))


def load(name: str, *, data_dir: str | None = None, download: bool = True) -> Dataset:
    """The dataset ``name`` from a prepared tfds build, or downloaded through tfds; DataError otherwise."""
    if name not in CLASS_NAMES:
        raise DataError(
            N_("tensorflow-datasets source supports {class_names}, not {name!r}"),
            class_names=", ".join(CLASS_NAMES),
            name=name,
        )
    return _load_cached(name, os.fspath(data_dir or default_data_dir()), download)


@lru_cache(maxsize=2)
def _load_cached(name: str, data_dir: str, download: bool) -> Dataset:
    tic = time.perf_counter()
    if name in ARCHIVED:  # tfds' own build of EMNIST needs TensorFlow: only the download route
        if not download:
            raise DataError(
                N_("{name} is read from its downloaded archive and downloading is off; {advice}"),
                name=name,
                advice=ADVICE,
            )
        splits = read_archived(name, download_archive(name, data_dir))
        how = f"downloaded through tfds, cached in {data_dir}/downloads"
    elif is_prepared(name, data_dir):
        splits = read_prepared(name, data_dir)
        how = f"tfds build in {data_dir}"
    elif not download:
        raise DataError(
            N_("{name} is not prepared in {data_dir} and downloading is off; {advice}"),
            name=name,
            data_dir=data_dir,
            advice=ADVICE,
        )
    else:
        paths = download_idx_files(name, data_dir)
        splits = {split: parse_split(paths, split) for split in SPLITS}
        how = f"downloaded through tfds, cached in {data_dir}/downloads"
    return make_dataset(
        name,
        f"{TITLES[name]} via tensorflow-datasets ({how}; "
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
        raise DataError(
            N_("the tfds build of {name} in {data_dir} could not be read ({err}); {advice}"),
            name=name,
            data_dir=data_dir,
            err=err,
            advice=ADVICE,
        ) from None
    return out


# ----- route 2: download the IDX files through tfds' DownloadManager ----------------------------


def registered_resources(name: str) -> tuple[dict[str, str], dict[str, object]]:
    """({key: url}, {url: UrlInfo}): the files and checksums tfds' own builder would download."""
    tfds = _tfds()
    from tensorflow_datasets.core.download import checksums

    builder_cls = tfds.builder_cls(name)
    urls = {key: urllib.parse.urljoin(builder_cls.URL, file) for key, file in FILES.items()}
    # builder_cls.url_infos reads the same file but needs importlib_resources (tfds issue #11212)
    infos = checksums.load_url_infos(tfds.core.tfds_path("url_checksums", f"{name}.txt"))
    missing = [url for url in urls.values() if url not in infos]
    if missing:
        raise DataError(
            N_("tensorflow-datasets has no registered checksum for {missing}; {advice}"),
            missing=missing[0],
            advice=ADVICE,
        )
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
            N_(
                "no network: the download server ({hosts}) did not answer within {timeout:.0f}s, "
                "so this dataset cannot be downloaded now; {advice}"
            ),
            hosts=hosts,
            timeout=timeout,
            advice=ADVICE,
        )
    if result["error"] is not None:
        # the socket error (errno, resolver text) means nothing to a person: say what it means instead
        raise DataError(
            N_(
                "no network: cannot reach the download server ({split}) after {monotonic:.1f}s, "
                "so this dataset cannot be downloaded now; {advice}"
            ),
            split=result["target"].split(":")[0],
            monotonic=time.monotonic() - tic,
            advice=ADVICE,
        )


def _is_cached(manager, url: str, url_info, download_dir: str, name: str) -> bool:
    """Whether the DownloadManager would serve ``url`` from its checksum-named cache (with or
    without the dataset's folder, as tfds looks)."""
    from tensorflow_datasets.core.download import resource as resource_lib

    checksum = getattr(url_info, "checksum", None)
    if checksum is None:  # no registered checksum: the DownloadManager would not serve it from its cache
        return False
    res = resource_lib.Resource(url=url)
    fname = resource_lib.get_dl_fname(url, checksum)
    folders = (Path(download_dir) / name, Path(download_dir))
    return any(resource_lib.is_locally_cached(folder / res.relative_download_dir / fname) for folder in folders)


def _folder_bytes(folder: str) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for file in files:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(root, file)).st_size
    return total


def download_with_progress_deadline(download: Callable[[], dict], folder: str, stall_s: float, what: str) -> dict:
    """Run ``download()`` in a daemon thread; give it up when ``folder`` has not grown for ``stall_s``.

    A given-up download goes on in its thread until its socket fails (it holds no lock);
    the person gets a DataError at once.
    """
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            outcome["paths"] = download()
        except BaseException as err:
            outcome["error"] = err

    thread = threading.Thread(target=work, name="tfds-download", daemon=True)
    thread.start()
    size, changed = -1, time.monotonic()
    while thread.is_alive():
        thread.join(0.2)
        now_size = _folder_bytes(folder)
        if now_size != size:
            size, changed = now_size, time.monotonic()
        elif thread.is_alive() and time.monotonic() - changed > stall_s:
            raise DataError(
                N_("downloading {what} stalled: no data arrived for {stall_s:g}s; {advice}"),
                what=what,
                stall_s=stall_s,
                advice=ADVICE,
            )
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["paths"]  # type: ignore[return-value]


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
        download_dir=os.path.join(data_dir, "downloads"),  # the same folder as download_dir below
        dataset_name=name,
        url_infos=dict(url_infos),
        force_checksums_validation=True,  # refuse any file without a registered checksum
    )
    download_dir = os.path.join(data_dir, "downloads")
    todo = [url for url in urls.values() if not _is_cached(manager, url, url_infos[url], download_dir, name)]
    if todo:
        check_reachable(todo, timeout=connect_timeout)
    try:
        paths = download_with_progress_deadline(lambda: manager.download(dict(urls)), download_dir, read_timeout, name)
    except DataError:
        raise
    except NonMatchingChecksumError:
        raise DataError(
            N_(
                "a downloaded {name} file did not match the checksum tensorflow-datasets expects "
                "(damaged or tampered download); it was not used. {upper}{advice}"
            ),
            name=name,
            upper="",
            advice=ADVICE_SENTENCE,
        ) from None
    except Exception as err:  # requests errors, HTTP status errors, disk errors
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(
            N_("downloading {name} through tensorflow-datasets failed: {first_line}; {advice}"),
            name=name,
            first_line=first_line,
            advice=ADVICE,
        ) from None
    return {key: os.fspath(path) for key, path in paths.items()}


def registered_archive(name: str) -> tuple[str, object]:
    """(url, UrlInfo) of the archive tfds' builder for ``name`` downloads, with its registered checksum."""
    tfds = _tfds()
    from tensorflow_datasets.core.download import checksums

    builder_name = ARCHIVED[name][0]
    url = tfds.builder_cls(builder_name).URL
    infos = checksums.load_url_infos(tfds.core.tfds_path("url_checksums", f"{builder_name}.txt"))
    if url not in infos:
        raise DataError(
            N_("tensorflow-datasets has no registered checksum for {url}; {advice}"), url=url, advice=ADVICE
        )
    return url, infos[url]


def download_archive(name: str, data_dir: str, *, url: str | None = None, url_info: object = None) -> str:
    """Checksum-verified download (or cache hit) of ``name``'s archive -> its path."""
    if url is None or url_info is None:
        url, url_info = registered_archive(name)
    paths = download_idx_files(ARCHIVED[name][0], data_dir, urls={"archive": url}, url_infos={url: url_info})
    return paths["archive"]
