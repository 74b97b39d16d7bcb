"""The throughput benchmark runs end to end, as CI runs it. Speeds are printed, never asserted."""

import pytest

from tests.benchmarks.reports import not_positive, run_small

MEASURED_PER_CANDIDATE = ("samples_per_s", "startup_s", "gflops", "ceiling_fraction")


@pytest.mark.slow
def test_small_benchmark_exits_cleanly_and_reports_positive_numbers(fashion_dir, tmp_path):
    proc, report = run_small("benchmarks.throughput", tmp_path / "throughput.json")
    assert "matmul ceiling" in proc.stdout

    assert report["train_images"] == 6_000
    assert set(report["dataset_load"]) == {"cold_s", "cached_s"}
    assert report["matmul"]["gflops"] > 0
    for name, model in report["models"].items():
        candidates = model["candidates"]
        assert {"engine", "engine_augment", "plain_flax"} <= set(candidates), name
        for candidate in candidates.values():
            assert set(MEASURED_PER_CANDIDATE) <= set(candidate)
        assert {"engine/plain_flax", "engine_augment/engine"} <= set(model["ratios"])
    assert {"together_samples_per_s", "one_by_one_samples_per_s", "together/one_by_one"} <= set(report["seeds"])
    assert "one stack (vmap) against one by one" in proc.stdout
    assert not not_positive(report)
