"""The benchmark of many trainings at once runs end to end, as CI runs it. Speeds are printed, never asserted;
what they are computed from is: each job's images/s is the steps it ran in the measured window, and each
summary ratio is against the best round of one job alone."""

import pytest

from benchmarks import app, sharing
from tests.benchmarks.reports import run_small


@pytest.mark.slow
def test_small_sharing_benchmark_measures_every_mix_of_jobs_from_the_steps_each_ran_in_one_window(
    fashion_dir, tmp_path
):
    proc, report = run_small("benchmarks.sharing", tmp_path / "sharing.json")
    assert "trainings at once" in proc.stdout and "fairness" in proc.stdout

    assert set(report["summary"]) == {"1/scheduled"} | {f"{k}/{m}" for k in (2, 3, 4) for m in sharing.MODES}
    for row in report["rounds"]:
        assert len(row["steps"]) == len(row["images_per_s"]) == row["jobs"]
        assert ("SweepJob" in row["kinds"]) == (row["jobs"] >= 3)  # Train-page runs and a sweep, mixed
        # every job's images/s counts its own steps over the one window they all shared
        window, batch = row["window_s"], row["batch_size"]
        assert row["images_per_s"] == pytest.approx([steps * batch / window for steps in row["steps"]])
        assert row["aggregate_images_per_s"] == pytest.approx(sum(row["images_per_s"])) and sum(row["steps"]) > 0
        clicking = row["window_while_clicking_s"]
        assert row["images_per_s_while_clicking"] == pytest.approx(
            [steps * batch / clicking for steps in row["steps_while_clicking"]]
        )
        assert len(row["clicks"]["trials_s"]) >= len(app.PAGES)
    solo = max(row["aggregate_images_per_s"] for row in report["rounds"] if row["jobs"] == 1)
    assert report["solo_images_per_s"] == solo > 0
    for key, summary in report["summary"].items():
        rounds = [row for row in report["rounds"] if f"{row['jobs']}/{row['mode']}" == key]
        assert summary["aggregate_ratio"] == pytest.approx(max(r["aggregate_images_per_s"] for r in rounds) / solo)
