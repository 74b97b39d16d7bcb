"""The memory budget per visitor, seen from the pages: an old run leaves memory and comes back when opened."""

from __future__ import annotations

from core.data import load_dataset
from core.predict import evaluate
from core.runs import store
from core.spec import ModelSpec
from core.training import TrainConfig, train
from testkit.support import button, metric, state, wait_for_training

SPEC = ModelSpec.mlp((64,))  # 784 x 64 + 64 + 64 x 10 + 10 = 50,890 parameters: 203,560 bytes


def _runs_table(app):
    return next(d.value for d in app.dataframe if "saved" in d.value.columns)


def _two_saved_runs_one_out_of_memory(app, tmp_path, monkeypatch):
    """Two runs of ``SPEC`` saved in a runs folder at ``tmp_path``, loaded on the Train page under a budget
    with room for one: (the two results, their saves); the first loaded has left memory."""
    monkeypatch.setenv(store.ENV_VAR, str(tmp_path))
    monkeypatch.setenv("FLAX_DASHBOARD_VISITOR_MB", "0.3")  # room for one of these models, not two
    sample = load_dataset("sample")
    results = [train(SPEC, TrainConfig(epochs=1, seed=seed), sample) for seed in (0, 1)]
    saved = [store.save_run(result, tmp_path) for result in results]
    app.switch_page("pages/train.py").run()
    for run in saved:
        app.selectbox(key="train.saved_choice").set_value(run.run_id)
        app.button(key="train.load_saved").click().run()
        assert not app.exception
    return results, saved


def test_over_a_tiny_budget_an_old_run_leaves_memory_and_results_still_shows_its_predictions(
    app, tmp_path, monkeypatch
):
    (old, new), saved = _two_saved_runs_one_out_of_memory(app, tmp_path, monkeypatch)
    sample = load_dataset("sample")
    first, second = state(app).runs
    assert not first.kept.held and second.kept.held
    assert state(app).memory_share().held_bytes == 203_560
    # the Train page lists the old run and its score from what stays in memory: with its checkpoint moved
    # away for a moment (reading the model back would fail), it still draws
    checkpoint = saved[0].checkpoint_path
    checkpoint.rename(tmp_path / "away")
    app.run()
    assert not app.exception
    assert list(_runs_table(app)["saved"]) == [
        f"saved as {saved[1].run_id}",
        f"saved as {saved[0].run_id}; out of memory until it is used again",
    ]
    accuracy = evaluate(SPEC, old.variables, sample.test_images, sample.test_labels).accuracy
    assert list(_runs_table(app)["result"]) == [
        f"{new.final_metrics.test_accuracy:.1%} of test images right",
        f"{accuracy:.1%} of test images right",
    ]
    assert any("0.2 MB of the 0.3 MB each visitor may keep" in c.value for c in app.caption)
    assert not first.kept.held
    (tmp_path / "away").rename(checkpoint)
    # opened on Results: read back from runs/, its own trained predictions, and the other run leaves instead
    app.selectbox(key="train.selected").set_value(first.run_id)
    app.button(key="train.use_run").click().run()
    app.switch_page("pages/results.py").run()
    assert not app.exception
    assert metric(app, "Test accuracy") == f"{accuracy:.1%}"
    assert metric(app, "Wrong") == f"{round((1 - accuracy) * 500):,} of 500"
    assert first.kept.held and not second.kept.held


def test_over_budget_with_a_run_that_could_not_be_saved_the_train_page_says_so(app, tmp_path, monkeypatch):
    (tmp_path / "runs").write_text("a file where the runs folder should be")  # no save can work, even as root
    monkeypatch.setenv(store.ENV_VAR, str(tmp_path / "runs"))
    monkeypatch.setenv("FLAX_DASHBOARD_VISITOR_MB", "1")
    app.switch_page("pages/train.py").run()
    app.number_input(key="train.epochs").set_value(1)
    button(app, "Start training").click().run()
    wait_for_training(app)
    assert not app.exception
    run = state(app).runs[0]
    assert run.kept.saved is None and run.kept.held
    # the default MLP's 535,818 parameters and its two adam moments: 12 bytes a parameter, and 28 more
    assert run.kept.nbytes == 535_818 * 12 + 28
    warning = next(w.value for w in app.warning if "could not be saved" in w.value)
    assert warning == (
        "Your runs take 6.4 MB of this server's memory, more than the 1.0 MB each visitor may keep, and 1 run "
        "(6.4 MB) could not be saved to the runs folder. A run that is not saved cannot leave memory: it stays "
        "until you close this tab. Download a checkpoint of each run you want to keep."
    )


def test_a_run_whose_file_went_while_it_was_out_of_memory_is_said_lost_and_the_pages_go_on(app, tmp_path, monkeypatch):
    (_, new), saved = _two_saved_runs_one_out_of_memory(app, tmp_path, monkeypatch)
    sample = load_dataset("sample")
    first, second = state(app).runs
    assert not first.kept.held
    saved[0].checkpoint_path.unlink()  # deleted from runs/ by hand while the model was out of memory
    app.selectbox(key="train.selected").set_value(first.run_id)
    app.button(key="train.use_run").click().run()
    assert not app.exception
    assert [w.value for w in app.warning if w.value.startswith("Run 1")] == [
        "Run 1 can no longer be used: its model left memory (over the memory budget) and its file in the runs "
        "folder has gone since."
    ]
    assert "its file has gone from the runs folder" in _runs_table(app)["saved"].iloc[1]
    assert [o.split(":")[0] for o in app.selectbox(key="train.selected").options] == [f"run {second.run_id}"]
    # the other pages show the other trained run of the same model
    app.switch_page("pages/results.py").run()
    assert not app.exception
    accuracy = evaluate(SPEC, new.variables, sample.test_images, sample.test_labels).accuracy
    assert metric(app, "Test accuracy") == f"{accuracy:.1%}"
