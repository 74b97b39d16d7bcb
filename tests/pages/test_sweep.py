"""The Width sweep page: estimate before starting, a tiny sweep to the end, stop, pick a model."""

import json
import time

import numpy as np
import pytest

from components.sweep_views import run_label
from core.spec import ModelSpec
from testkit.support import metric, shown, state

APPLY = "FormSubmitter:sweep.settings-Apply and estimate the time"


def _sweep_state(at):
    return state(at).sweep


def _plan(at, widths: str, seeds: str, epochs: int, layer=None) -> None:
    at.switch_page("pages/sweep.py").run()
    if layer is not None:
        at.selectbox(key="sweep.layer").set_value(layer)
    at.text_input(key="sweep.widths").set_value(widths)
    at.text_input(key="sweep.seeds").set_value(seeds)
    at.number_input(key="sweep.epochs").set_value(epochs)
    at.button(key=APPLY).click().run()
    assert not at.exception


def _wait_for_sweep(at, timeout: float = 180) -> None:
    """AppTest does not run timers: wait for the background sweep, then rerun the script."""
    assert _sweep_state(at).job.join(timeout), "the sweep did not end in time"
    at.run()
    assert not at.exception


def test_fresh_page_shows_the_plan_and_its_estimate_before_starting(app):
    app.switch_page("pages/sweep.py").run()
    assert not app.exception
    plan_text = app.info[0].value
    assert "**24 models** (8 widths × 3 seeds), 10 epochs each on the bundled MNIST sample" in plan_text
    assert "Estimated time: **about" in plan_text and "on this machine" in plan_text
    estimate = next(iter(_sweep_state(app).estimates.values()))
    assert estimate.total_s > 0 and len(estimate.per_width_s) == 8
    assert app.button(key="sweep.start").disabled is False
    assert "No sweep yet" in app.info[1].value
    assert all(w.help for w in [*app.text_input, *app.number_input, app.selectbox(key="sweep.layer")])


def test_a_tiny_sweep_runs_and_a_chosen_model_becomes_current(app):
    _plan(app, "16,8", "0,1", 1)
    assert "**4 models** (2 widths × 2 seeds), 1 epoch each" in app.info[0].value
    app.button(key="sweep.start").click().run()
    assert not app.exception
    _wait_for_sweep(app)
    job = _sweep_state(app).job
    runs = job.snapshot().runs
    assert job.snapshot().status == "finished" and len(runs) == 4
    table = app.dataframe[0].value
    assert list(table["width"]) == [8, 8, 16, 16] and list(table["seed"]) == [0, 1, 0, 1]
    assert list(table["parameters"]) == [ModelSpec.mlp((w, 256)).parameter_count for w in (8, 8, 16, 16)]
    by_key = {(r.width, r.seed): r for r in runs}
    in_order = [by_key[k] for k in [(8, 0), (8, 1), (16, 0), (16, 1)]]
    assert list(table["test accuracy"]) == [f"{r.test_accuracy:.1%}" for r in in_order]
    charts = app.get("plotly_chart")
    assert len(charts) == 2  # score and loss against parameters; the overlaid curves
    figure = json.loads(charts[0].proto.spec)
    assert figure["layout"]["xaxis"]["type"] == "log"
    mean_score = figure["data"][0]
    assert mean_score["x"] == [ModelSpec.mlp((w, 256)).parameter_count for w in (8, 16)]
    for width, mean, spread in zip((8, 16), mean_score["y"], mean_score["error_y"]["array"], strict=True):
        scores = [r.test_accuracy for r in runs if r.width == width]
        assert mean == pytest.approx(np.mean(scores)) and spread == pytest.approx(np.std(scores, ddof=1))
    assert len(json.loads(charts[1].proto.spec)["data"]) == 4  # one loss curve per model

    # the best seed of each width keeps its parameters, and only those are offered
    kept = [r for r in runs if r.kept]
    assert [r.width for r in kept] == [8, 16]
    for run in kept:
        assert run.test_accuracy == max(r.test_accuracy for r in runs if r.width == run.width)
    assert app.selectbox(key="sweep.choice").options == [run_label(r) for r in kept]
    app.selectbox(key="sweep.choice").set_value(1)
    app.button(key="sweep.use").click().run()
    assert not app.exception
    visitor = state(app)
    assert visitor.spec == ModelSpec.mlp((16, 256), seed=kept[1].seed)
    assert visitor.selected_run.result is kept[1].result
    app.button(key="sweep.use").click().run()  # choosing it again does not add it twice
    assert len(visitor.runs) == 1
    app.switch_page("pages/results.py").run()
    assert not app.exception
    assert metric(app, "Test accuracy") == f"{kept[1].test_accuracy:.1%}"
    # a sweep keeps no optimizer state: the Train page says it cannot be continued, and does not offer it
    app.switch_page("pages/train.py").run()
    assert not app.exception
    go_on = app.button(key="train.continue")
    assert go_on.disabled and "keeps no optimizer state" in go_on.help


def test_an_invalid_width_is_refused_before_starting(app):
    state(app).set_spec(ModelSpec.autoencoder((64, 16), (64,)))
    _plan(app, "8,1024", "0", 1, layer=1)  # the code layer
    errors = [e.value for e in app.error]
    assert any("width 1,024 gives an invalid model" in e and "784" in e for e in errors), errors
    assert all(b.key != "sweep.start" for b in app.button)
    assert _sweep_state(app).job is None


def test_stop_ends_a_running_sweep_and_keeps_its_models(app):
    _plan(app, "4", "0,1", 300)
    app.button(key="sweep.start").click().run()
    job = _sweep_state(app).job
    deadline = time.monotonic() + 120
    while job.snapshot().step < 50 and time.monotonic() < deadline:
        time.sleep(0.05)
    app.run()
    app.button(key="sweep.stop").click().run()
    assert not app.exception
    at_stop = job.snapshot().step // 2  # steps of each of the two seeds, read after the click
    _wait_for_sweep(app, timeout=60)
    snap = job.snapshot()
    assert snap.status == "stopped" and [r.status for r in snap.runs] == ["stopped", "stopped"]
    # both models kept, trained up to the end of the chunk running at the click (never past an epoch of 35)
    assert all(25 <= at_stop <= r.result.steps <= at_stop + 35 for r in snap.runs), (at_stop, snap.runs)
    assert "Stopped" in app.get("progress")[0].proto.text
    table = app.dataframe[0].value
    assert list(table["width"]) == [4, 4] and list(table["seed"]) == [0, 1]


def test_a_sweep_of_the_share_of_training_images_draws_the_gap_per_share(app):
    app.switch_page("pages/sweep.py").run()
    app.selectbox(key="sweep.setting").set_value("train_fraction").run()
    assert not app.exception
    assert all(b.key != "sweep.layer" for b in app.selectbox)  # no layer to pick: the model stays as built
    app.text_input(key="sweep.values.train_fraction").set_value("0.05,1")
    app.text_input(key="sweep.seeds").set_value("0,1")
    app.number_input(key="sweep.epochs").set_value(2)
    app.button(key=APPLY).click().run()
    assert "**4 models** (2 values of the share of the training images × 2 seeds)" in app.info[0].value
    app.button(key="sweep.start").click().run()
    _wait_for_sweep(app)
    runs = _sweep_state(app).job.snapshot().runs
    assert [r.result.config.train_fraction for r in runs] == [0.05, 0.05, 1.0, 1.0]
    table = app.dataframe[0].value
    assert list(table["share of the training images"]) == ["5%", "5%", "100%", "100%"]
    assert all(cell.endswith(" percentage points") for cell in table["train − test gap"])
    chart = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert chart["layout"]["xaxis"]["type"] == "category"
    assert chart["layout"]["annotations"][1]["text"] == "gap: training images − test images"
    means = next(t for t in chart["data"] if t["xaxis"] == "x2" and t["mode"] == "lines+markers")
    assert means["x"] == ["5%", "100%"]
    assert means["y"][0] > means["y"][1]  # 5% of the images: a larger gap between training and test images


def test_an_invalid_l2_is_refused_before_starting(app):
    app.switch_page("pages/sweep.py").run()
    app.selectbox(key="sweep.setting").set_value("l2").run()
    app.text_input(key="sweep.values.l2").set_value("0,-0.1")
    app.button(key=APPLY).click().run()
    assert not app.exception
    assert any("L2 penalty must be between 0 and 1, got -0.1" in shown(e.value) for e in app.error)
    assert all(b.key != "sweep.start" for b in app.button)


def test_a_dropout_sweep_of_a_model_without_dropout_says_to_add_one(app):
    app.switch_page("pages/sweep.py").run()
    app.selectbox(key="sweep.setting").set_value("dropout").run()
    app.button(key=APPLY).click().run()
    assert not app.exception
    assert any("this model has no Dropout layer to vary; add one on the Build page" in e.value for e in app.error)


def test_a_finished_sweep_keeps_the_parameters_of_each_widths_best_seed_and_nothing_more(app):
    import threading

    from core.data import Dataset
    from testkit.trees import array_bytes

    _plan(app, "16,8", "0,1,2", 1)
    app.button(key="sweep.start").click().run()
    _wait_for_sweep(app)
    runs = _sweep_state(app).job.runs
    # every array the visitor's session reaches (the job, its runs, the page's state), datasets aside: one
    # model of each width, float32 (all six seeds' parameters were 3x that; with optimizer states, 9x)
    held = array_bytes(state(app), skip=(Dataset, threading.Thread), follow=("core", "components"))
    assert held == sum(ModelSpec.mlp((width, 256)).parameter_count * 4 for width in (8, 16))
    assert len(runs) == 6 and [r.width for r in runs if r.kept] == [8, 16]
    for run in runs:  # the other seeds keep their scores and curves
        assert run.test_accuracy > 0 and len(run.result.history.step_losses) == run.result.steps > 0
