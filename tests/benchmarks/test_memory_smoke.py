"""The memory benchmark runs end to end as CI runs it. Resident memory is printed, never asserted; what
the budget keeps does not depend on the machine, so it is checked."""

import pytest

from tests.benchmarks.reports import not_positive, run_small


@pytest.mark.slow
def test_small_memory_benchmark_keeps_what_the_budget_allows_and_every_array_once(tmp_path):
    proc, report = run_small("benchmarks.memory", tmp_path / "memory.json")
    assert "budget / no budget after the last run" in proc.stdout
    budget, unbounded = report["arms"]["budget"], report["arms"]["no budget"]
    model = budget["model_bytes"]
    assert model == unbounded["model_bytes"] == 269_322 * 4  # a saved run keeps its float32 parameters only
    fit = int(budget["visitor_mb"] * 1e6 // model)  # 2.5 MB holds 2 of these models
    runs = range(1, report["size"]["runs"] + 1)
    assert report["size"]["runs"] > fit  # the budget must have had to drop something
    assert [a["counted_bytes"] for a in budget["after_run"]] == [min(i, fit) * model for i in runs]
    assert [a["counted_bytes"] for a in unbounded["after_run"]] == [i * model for i in runs]
    # what the session really holds is what the ledger counts: no model kept twice (a finished job's copy)
    for arm in (budget, unbounded):
        assert [a["reachable_bytes"] for a in arm["after_run"]] == [a["counted_bytes"] for a in arm["after_run"]]
    # the width sweeps: every line printed by the command line both ways; the Sweep page's session keeps
    # the parameters of each width's best seed and nothing more
    sweep = report["cli_sweep"]
    models = len(sweep["widths"]) * sweep["seeds"]
    assert models >= 6 and [arm["lines"] for arm in sweep["arms"].values()] == [models, models]
    page = report["page_sweep"]
    assert (
        page["models"] == models
        and page["session_bytes"]
        == page["kept_parameter_bytes"]
        == 4 * sum((784 + 1) * width + (width + 1) * 10 for width in sweep["widths"])
        and "target at most 1.5x: pass" in proc.stdout
    )
    assert not not_positive(report)
