"""The CNN benchmark runs end to end, as CI runs it. Speeds are printed, never asserted; what a ratio
compares is: its candidates trained the same number of images, and it is the quotient of their best speeds."""

import pytest

from tests.benchmarks.reports import not_positive, run_small


@pytest.mark.slow
def test_small_cnn_benchmark_compares_the_engine_and_a_plain_loop_on_the_same_images(fashion_dir, tmp_path):
    proc, report = run_small("benchmarks.cnn", tmp_path / "cnn.json")
    assert "engine_b128/plain_flax" in proc.stdout and "lax conv step, images NCHW" in proc.stdout
    assert report["description"] == "MLP 784-conv32-avgpool-conv64-avgpool-256-10"
    candidates = report["candidates"]
    assert set(candidates) == {"engine_b32", "engine_b128", "engine_b512", "plain_flax", "lax_NHWC", "lax_NCHW"}
    train = report["train_images"]
    for name in ("engine_b128", "plain_flax", "lax_NHWC", "lax_NCHW"):  # whole batches of 128
        assert candidates[name]["runs_images"] == [train // 128 * 128] * report["size"]["repeats"], name
    best = {name: candidate["samples_per_s"] for name, candidate in candidates.items()}
    for ratio, value in report["ratios"].items():
        top, bottom = ratio.split("/")
        assert value == pytest.approx(best[top] / best[bottom]), ratio
    assert not not_positive(report)
