"""The app benchmark runs end to end, as CI runs it, and ``python -m benchmarks`` merges every report.

Speeds, latencies and memory are printed, never asserted (tests assert behaviour); only facts that do not
depend on the machine are: every measurement is there and positive, the in-app and headless trainings
that a ratio compares trained the same steps of the same model on the same data (and the ratios are the
quotients of their best rounds), and a 150,000-step loss curve is drawn with at most
``MAX_CURVE_POINTS`` points per trace.
"""

import json
from functools import partial

import pytest

from benchmarks import __main__ as benchmarks_main
from benchmarks import ablation, app, classroom, cnn, estimates, first_visit, memory, sharing, throughput
from components.figures import MAX_CURVE_POINTS
from core.training import TrainConfig, steps_per_epoch
from tests.benchmarks.reports import not_positive, run_small


@pytest.mark.slow
def test_small_app_benchmark_compares_in_app_and_headless_training_of_the_same_steps(fashion_dir, sample, tmp_path):
    proc, report = run_small("benchmarks.app", tmp_path / "app.json")
    for words in (
        "time to the first training step", "page switch", "in-app / headless", "VmHWM", "loss curve",
        "Inside page, another input", "live views on / off", "what the live views add to each poll",
    ):  # fmt: skip
        assert words in proc.stdout

    assert set(report["compile"]) == {"mlp", "autoencoder"}
    for model in report["compile"].values():
        assert model["cold"]["first_step_s"] > 0 and model["warm"]["first_step_s"] > 0
        assert model["cache_files"] > 0  # the cold process filled the new cache folder
    interactions = report["interactions"]
    for name in ("build_width_change", "variables_width_change", "page_switch"):
        assert len(interactions[name]["trials_s"]) >= report["size"]["trials"], name
    assert set(interactions["page_switch"]["pages"]) == set(app.PAGES)
    assert set(interactions["inside_new_input"]) == {"mlp", "autoencoder"}
    assert all(len(r["trials_s"]) >= report["size"]["trials"] for r in interactions["inside_new_input"].values())
    training = report["training"]
    assert training["dataset"] == "sample" and training["model"] == app.MODELS["mlp"].describe()
    # headless, in the app, in the app without live views: every round trained the same steps (the
    # benchmark's epochs of the sample), so their images/s compare like with like
    steps = training["epochs"] * steps_per_epoch(TrainConfig(), sample.num_train)
    assert steps == report["size"]["epochs"] * 35 > 0
    for name in ("headless", "in_app", "in_app_no_live_views"):
        assert [run["steps"] for run in training["rounds"][name]] == [steps] * report["size"]["repeats"], name
    best = {name: max(run["samples_per_s"] for run in runs) for name, runs in training["rounds"].items()}
    assert training["headless_samples_per_s"] == best["headless"]
    assert training["in_app_vs_headless"] == pytest.approx(best["in_app"] / best["headless"])
    assert training["live_views_vs_none"] == pytest.approx(best["in_app"] / best["in_app_no_live_views"])
    assert set(report["live_views"]) == {"mlp", "autoencoder"}
    assert all(run["polls"] >= 1 for run in training["rounds"]["in_app"])
    assert report["loss_curve"]["steps"] == 150_000
    assert report["loss_curve"]["max_points_per_trace"] <= MAX_CURVE_POINTS
    assert not not_positive(report)


def fake_report(name: str, size) -> dict:
    return {"from": name, "size": size.name}


def test_python_m_benchmarks_prints_every_report_and_writes_them_in_one_json(monkeypatch, tmp_path, capsys):
    for module in (throughput, cnn, app, sharing, estimates, first_visit, memory, classroom, ablation):
        monkeypatch.setattr(module, "run_benchmark", partial(fake_report, module.__name__))
        monkeypatch.setattr(module, "format_report", lambda report: f"report of {report['from']}")
    monkeypatch.setattr(throughput, "FASHION_DIR", str(tmp_path))  # any existing folder
    out = tmp_path / "all.json"

    benchmarks_main.main(["--size", "small", "--json", str(out)])

    printed = capsys.readouterr().out
    assert printed.index("report of benchmarks.throughput") < printed.index("report of benchmarks.cnn")
    assert printed.index("report of benchmarks.cnn") < printed.index("report of benchmarks.app")
    assert printed.index("report of benchmarks.app") < printed.index("report of benchmarks.sharing")
    assert printed.index("report of benchmarks.sharing") < printed.index("report of benchmarks.estimates")
    assert printed.index("report of benchmarks.estimates") < printed.index("report of benchmarks.first_visit")
    assert printed.index("report of benchmarks.first_visit") < printed.index("report of benchmarks.memory")
    assert printed.index("report of benchmarks.memory") < printed.index("report of benchmarks.classroom")
    assert printed.index("report of benchmarks.classroom") < printed.index("report of benchmarks.ablation")
    assert json.loads(out.read_text()) == {
        "throughput": {"from": "benchmarks.throughput", "size": "small"},
        "cnn": {"from": "benchmarks.cnn", "size": "small"},
        "app": {"from": "benchmarks.app", "size": "small"},
        "sharing": {"from": "benchmarks.sharing", "size": "small"},
        "estimates": {"from": "benchmarks.estimates", "size": "small"},
        "first_visit": {"from": "benchmarks.first_visit", "size": "small"},
        "memory": {"from": "benchmarks.memory", "size": "small"},
        "classroom": {"from": "benchmarks.classroom", "size": "small"},
        "ablation": {"from": "benchmarks.ablation", "size": "small"},
    }
