"""The throughput benchmark runs end to end, as CI runs it. Speeds are printed, never asserted; what a ratio
compares is: every candidate of a ratio trained the same images, and each ratio is the quotient of the
best speeds it names."""

import pytest

from benchmarks.throughput import SEEDS
from tests.benchmarks.reports import not_positive, run_small

MEASURED_PER_CANDIDATE = ("samples_per_s", "startup_s", "gflops", "ceiling_fraction", "runs_images")


@pytest.mark.slow
def test_small_throughput_benchmark_compares_candidates_that_trained_the_same_images(fashion_dir, tmp_path):
    proc, report = run_small("benchmarks.throughput", tmp_path / "throughput.json")
    assert "matmul ceiling" in proc.stdout and "one stack (vmap) against one by one" in proc.stdout

    size, batch = report["size"], report["batch_size"]
    assert report["train_images"] == 6_000
    images = size["epochs"] * (report["train_images"] // batch) * batch  # whole batches of each epoch
    assert set(report["dataset_load"]) == {"cold_s", "cached_s"}
    assert report["matmul"]["gflops"] > 0
    for name, model in report["models"].items():
        candidates = model["candidates"]
        assert {"engine", "engine_augment", "engine_layers", "plain_flax"} <= set(candidates), name
        for label, candidate in candidates.items():
            assert set(MEASURED_PER_CANDIDATE) <= set(candidate)
            # the same images in every round of every candidate: their images/s compare like with like
            assert candidate["runs_images"] == [images] * size["repeats"], (name, label)
            assert candidate["samples_per_s"] == max(candidate["runs_samples_per_s"])
        best = {label: candidate["samples_per_s"] for label, candidate in candidates.items()}
        assert {"engine/plain_flax", "engine_augment/engine", "engine_layers/engine"} <= set(model["ratios"])
        for ratio, value in model["ratios"].items():
            top, bottom = ratio.split("/")
            assert value == pytest.approx(best[top] / best[bottom]), (name, ratio)
    seeds = report["seeds"]
    for round_ in seeds["rounds"]:  # the seeds as one stack and one by one trained the same images
        assert round_["together_images"] == round_["one_by_one_images"] == len(SEEDS) * images
    assert seeds["together/one_by_one"] == pytest.approx(
        seeds["together_samples_per_s"] / seeds["one_by_one_samples_per_s"]
    )
    assert not not_positive(report)
