"""The "which units matter" benchmark runs end to end, as CI runs it. Times are printed, never asserted;
that both arms found the same scores is checked."""

import pytest

from tests.benchmarks.reports import not_positive, run_small


@pytest.mark.slow
def test_small_ablation_benchmark_compares_one_vmapped_call_with_a_loop_over_units(fashion_dir, tmp_path):
    proc, report = run_small("benchmarks.ablation", tmp_path / "ablation.json")
    assert "loop / vmapped:" in proc.stdout
    assert report["units"] == 512 and report["held_out_images"] == 500
    assert report["largest_score_difference"] < 1e-6  # the same scores, unit by unit
    assert set(report["arms"]) == {"vmapped", "loop"}
    assert not not_positive({k: v for k, v in report.items() if k != "largest_score_difference"})
