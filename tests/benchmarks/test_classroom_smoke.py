"""The classroom benchmark runs end to end in real Chromium, as CI runs it. Speeds are printed, never asserted."""

import os

import pytest

from testkit.browser_support import CHROMIUM
from tests.benchmarks.reports import run_small


@pytest.mark.slow
@pytest.mark.browser  # drives Chromium: runs in the browser phase, beside tests that mostly wait for pages
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} not installed (apt-get install chromium)")
def test_small_classroom_benchmark_compares_runs_that_trained_the_same_images(tmp_path):
    proc, report = run_small("benchmarks.classroom", tmp_path / "classroom.json")
    assert "at once" in proc.stdout and "page switch" in proc.stdout and "first visit" in proc.stdout

    trainings = report["trainings"]
    assert [t["visitors"] for t in trainings] == [1, 2]
    alone, together = trainings
    # the ratio's two sides: every run, alone or together, trained the same epochs and the same images
    assert len(together["images"]) == 2 and len(alone["images"]) == 1
    assert set(alone["epochs"] + together["epochs"]) == {report["epochs"]}
    assert len(set(alone["images"] + together["images"])) == 1 and alone["images"][0] > 0
    assert len(set(alone["steps"] + together["steps"])) == 1
    assert len(report["browsing"][0]["switch_s"]) == 5
    assert len(report["first_visits"]) == 1
