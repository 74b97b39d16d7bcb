"""The throughput benchmark runs end to end, as CI runs it. Speeds are printed, never asserted."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.benchmarks.reports import numeric_leaves

ROOT = Path(__file__).resolve().parents[2]
MEASURED_PER_CANDIDATE = ("samples_per_s", "startup_s", "gflops", "ceiling_fraction")


@pytest.mark.slow
def test_small_benchmark_exits_cleanly_and_reports_positive_numbers(fashion_dir, tmp_path):
    out = tmp_path / "throughput.json"
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.throughput", "--size", "small", "--json", str(out)],
        capture_output=True, text=True, timeout=600, cwd=ROOT, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "matmul ceiling" in proc.stdout
    report = json.loads(out.read_text())

    assert report["train_images"] == 6_000
    assert set(report["dataset_load"]) == {"cold_s", "cached_s"}
    assert report["matmul"]["gflops"] > 0
    for name, model in report["models"].items():
        candidates = model["candidates"]
        assert {"engine", "engine_augment", "plain_flax"} <= set(candidates), name
        for candidate in candidates.values():
            assert set(MEASURED_PER_CANDIDATE) <= set(candidate)
        assert {"engine/plain_flax", "engine_augment/engine"} <= set(model["ratios"])
    not_positive = [(path, value) for path, value in numeric_leaves(report) if value <= 0]
    assert not not_positive
