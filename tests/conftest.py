"""Shared fixtures. JAX runs on the CPU in tests so results are the same on every machine."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Compiled programs persist between test runs (and reach CLI subprocesses through the env).
os.environ.setdefault("FLAX_DASHBOARD_JAX_CACHE", str(ROOT / ".cache" / "jax"))
# Runs saved by tests (and by the servers they start) go to a fresh folder, never ./runs.
os.environ.setdefault("FLAX_DASHBOARD_RUNS_DIR", tempfile.mkdtemp(prefix="flax-dashboard-test-runs-"))

import pytest  # noqa: E402

from core.data import Dataset, load_dataset, make_dataset  # noqa: E402
from core.jax_setup import enable_compilation_cache  # noqa: E402
from core.runs.jobs import stop_all  # noqa: E402
from testkit.waits import HANG_S  # noqa: E402

FASHION_DIR = "/usr/share/datasets/fashion-mnist"
# Compiling is most of a test's CPU time (tests/core/test_train.py and test_models.py: 62-68 s of CPU
# compiling into an empty cache, 16 s from a filled one): every test process shares the cache, as the
# servers and subprocesses the tests start already do, so a program compiled once is read after that.
enable_compilation_cache()


@pytest.fixture(scope="session")
def sample() -> Dataset:
    """The bundled real-MNIST sample (4,500 train / 500 test)."""
    return load_dataset("sample")


@pytest.fixture(scope="session")
def small(sample: Dataset) -> Dataset:
    """1,024 train / 200 test digits of the sample: enough to learn, quick to compile and run."""
    return make_dataset(
        "small",
        "first 1,024 train / 200 test digits of the sample",
        sample.class_names,
        (sample.train_images[:1024], sample.train_labels[:1024]),
        (sample.test_images[:200], sample.test_labels[:200]),
    )


@pytest.fixture(scope="session")
def fashion_dir() -> str:
    """Debian's full Fashion-MNIST; CI installs it (REQUIRE_FASHION_MNIST=1 makes absence a failure)."""
    if not os.path.isdir(FASHION_DIR):
        if os.environ.get("REQUIRE_FASHION_MNIST") == "1":
            pytest.fail(f"{FASHION_DIR} is missing: apt-get install dataset-fashion-mnist")
        pytest.skip(f"{FASHION_DIR} not installed (apt-get install dataset-fashion-mnist)")
    return FASHION_DIR


@pytest.fixture(autouse=True)
def _no_job_outlives_its_test():
    """Every training or sweep a test started (itself or through a page) is stopped and waited for when the
    test ends, so no background thread works on into the next test or keeps the run from ending."""
    yield
    still = stop_all(HANG_S)
    assert not still, f"{len(still)} background job(s) did not end {HANG_S:g} s after being stopped: {still}"


#: Folders whose files each start their own server, Chromium or benchmark process: one worker runs a
#: whole file (its module fixtures start once), while the other tests spread one by one.
WHOLE_FILES = ("tests/browser/", "tests/benchmarks/")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With ``--dist loadgroup`` (scripts/test.sh), each browser or benchmark file is one group."""
    for item in items:
        path = item.nodeid.split("::")[0]
        if path.startswith(WHOLE_FILES):
            item.add_marker(pytest.mark.xdist_group(path))
