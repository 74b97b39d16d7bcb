"""The benchmark of many trainings at once runs end to end, as CI runs it. Speeds are printed, never asserted."""

import pytest

from benchmarks import app, sharing
from tests.benchmarks.reports import run_small


@pytest.mark.slow
def test_small_sharing_benchmark_measures_every_mix_of_jobs_in_both_modes(fashion_dir, tmp_path):
    proc, report = run_small("benchmarks.sharing", tmp_path / "sharing.json")
    assert "trainings at once" in proc.stdout and "fairness" in proc.stdout

    assert set(report["summary"]) == {"1/scheduled"} | {f"{k}/{m}" for k in (2, 3, 4) for m in sharing.MODES}
    for row in report["rounds"]:
        assert len(row["images_per_s"]) == row["jobs"]
        assert ("SweepJob" in row["kinds"]) == (row["jobs"] >= 3)  # Train-page runs and a sweep, mixed
        assert sum(row["images_per_s"]) > 0 and len(row["clicks"]["trials_s"]) >= len(app.PAGES)
    assert report["solo_images_per_s"] > 0
