"""Presenter mode, the guided path, shared links, explained edits, resume, confusion cells."""

import dataclasses

import numpy as np
from streamlit.testing.v1 import AppTest

from core.data import load_dataset
from core.links import to_query
from core.predict import predict_probabilities
from core.spec import ModelSpec
from core.training import TrainConfig, train
from testkit.support import button, open_tab, open_variables, state, wait_for_training
from testkit.waits import HANG_S
from tests.pages.conftest import ROOT


def _sidebar_links(at) -> list[str]:
    return [link.label for link in at.sidebar.get("page_link")]


def test_presenter_mode_hides_advanced_controls_and_defaults_still_work(app):
    app.sidebar.toggle(key="sidebar.presenter").set_value(True).run()
    assert state(app).presenter
    app.switch_page("pages/train.py").run()
    keys = {w.key for w in app.number_input} | {w.key for w in app.selectbox}
    assert "train.epochs" in keys
    assert not keys & {"train.batch_size", "train.seed", "train.optimizer"}
    app.number_input(key="train.epochs").set_value(1)
    button(app, "Start training").click().run()
    wait_for_training(app)
    assert state(app).runs[0].status == "finished"
    assert state(app).runs[0].config.batch_size == TrainConfig().batch_size
    stylesheets = [h.value for h in app.get("html") if h.value.lstrip().startswith("<style")]
    presenter_rule = '[data-testid="stMain"] p, [data-testid="stMain"] li { font-size: 1.15rem; }'
    assert sum(presenter_rule in sheet for sheet in stylesheets) == 1  # the presenter's larger text, drawn once
    assert any("share of test images" in i.value for i in app.info)  # sentences become visible hints


def test_guided_path_highlights_the_next_step(app):
    assert any("**1. Build a model** ← next" in label for label in _sidebar_links(app))  # opening is not building
    app.switch_page("pages/train.py").run()
    # going on with the model that is ready is: the Train page does not send the visitor back (issue 30)
    assert any("**2. Train it** ← next" in label for label in _sidebar_links(app)), _sidebar_links(app)
    app.number_input(key="train.epochs").set_value(1)
    button(app, "Start training").click().run()
    wait_for_training(app)
    assert any("**3. See what it learned** ← next" in label for label in _sidebar_links(app))
    app.switch_page("pages/results.py").run()
    assert not any("← next" in label for label in _sidebar_links(app))


def test_a_link_reproduces_the_model_and_settings(app):
    spec, config = ModelSpec.autoencoder((128, 2), (128,), seed=4), TrainConfig(learning_rate=0.003, epochs=7)
    other = AppTest.from_file(str(ROOT / "app.py"), default_timeout=HANG_S)
    for key, value in to_query(spec, config, "sample").items():
        other.query_params[key] = value
    other.run()
    assert not other.exception
    assert state(other).spec == spec and state(other).config == config
    assert any("shared link" in i.value for i in other.info)


def test_a_bad_link_falls_back_to_defaults_with_a_message(app):
    other = AppTest.from_file(str(ROOT / "app.py"), default_timeout=HANG_S)
    other.query_params["layers"] = "0.relu-abc"
    other.run()
    assert not other.exception
    assert state(other).spec == ModelSpec.mlp((512, 256))
    assert any("not valid" in i.value and "got 0" in i.value for i in other.info)
    assert not any("hidden[0]" in i.value for i in other.info)  # field paths are for programmers


def test_the_url_follows_the_model(app):
    app.number_input(key="build.hidden.0.width.v0").set_value(100).run()
    assert app.query_params["layers"] == "100.relu-256.relu"
    assert app.query_params["lr"] == "0.001" and app.query_params["data"] == "sample"


def test_a_width_change_is_explained_and_diffed(app):
    app.number_input(key="build.hidden.1.width.v0").set_value(128).run()
    old, new = ModelSpec.mlp((512, 256)), ModelSpec.mlp((512, 128))
    delta = old.parameter_count - new.parameter_count
    assert any(f"layer 2: 256 → 128 units removes {delta:,} parameters" in s.value for s in app.success)
    open_variables(app)
    open_tab(app, "variables.tab", "Where the parameters are")
    diff = next(d.value for d in app.dataframe if "change" in d.value.columns)
    assert list(diff["layer"]) == ["Dense_0", "Dense_1", "Dense_2"]
    # 128 fewer units in Dense_1 (513 each) and 128 fewer inputs to the output (10 each)
    assert list(diff["change"]) == ["same", f"{-128 * 513:+,}", f"{-128 * 10:+,}"]
    assert delta == 128 * 513 + 128 * 10


def test_continue_training_keeps_the_curve(app):
    app.switch_page("pages/train.py").run()
    app.number_input(key="train.epochs").set_value(1)
    button(app, "Start training").click().run()
    wait_for_training(app)
    first = state(app).runs[0]
    app.number_input(key="train.more_epochs").set_value(2)
    button(app, "Continue training").click().run()
    assert not app.exception
    wait_for_training(app)
    second = state(app).runs[-1]
    assert second is not first and second.status == "finished"
    assert second.result.steps == 3 * 35
    assert second.result.history.step_losses[:35] == first.result.history.step_losses
    assert [e.epoch for e in second.result.history.epochs] == [1, 2, 3]
    # the saved run keeps its optimizer state on disk, not in memory, and continuing reads it back:
    # the continued curve is the one of three epochs at once (adam's moments carried over)
    assert first.result.opt_state is None and first.job.resume is None
    straight = train(first.spec, dataclasses.replace(first.config, epochs=3), load_dataset("sample"))
    np.testing.assert_allclose(second.result.history.step_losses, straight.history.step_losses, rtol=1e-6)


def test_a_run_the_server_was_killed_in_is_listed_as_interrupted_and_continues(app, tmp_path, monkeypatch):
    from core.runs import store

    monkeypatch.setenv(store.ENV_VAR, str(tmp_path))
    spec, sample = ModelSpec.mlp((16,)), load_dataset("sample")
    one_epoch = train(spec, TrainConfig(epochs=1), sample)
    # what a kill -9 after epoch 1 of 3 leaves: saved while it trained, and no process of this server writes it now
    reason = "saved after epoch 1 of 3 while it trained; it can be continued from there"
    left = dataclasses.replace(one_epoch, config=TrainConfig(epochs=3), status="stopped", reason=reason)
    saved = store.save_run(left, tmp_path, in_progress=True)
    app.switch_page("pages/train.py").run()
    assert not app.exception
    table = app.dataframe[0].value
    assert list(table["id"]) == [saved.run_id] and list(table["epochs"]) == [1]
    assert list(table["status"]) == [
        "Interrupted after epoch 1 of 3 (the server stopped): load it and continue training"
    ]
    app.selectbox(key="train.saved_choice").set_value(saved.run_id)
    app.button(key="train.load_saved").click().run()
    app.number_input(key="train.more_epochs").set_value(2)
    button(app, "Continue training").click().run()
    assert not app.exception
    wait_for_training(app)
    continued = state(app).runs[-1]
    assert continued.status == "finished" and continued.result.steps == 3 * 35
    straight = train(spec, TrainConfig(epochs=3), sample)
    np.testing.assert_allclose(continued.result.history.step_losses, straight.history.step_losses, rtol=1e-5)


def test_a_run_training_in_another_server_process_is_listed_as_training_there(app, tmp_path, monkeypatch):
    import json

    from core.runs import store

    monkeypatch.setenv(store.ENV_VAR, str(tmp_path))
    one_epoch = train(ModelSpec.mlp((16,)), TrainConfig(epochs=1), load_dataset("sample"))
    saved = store.save_run(dataclasses.replace(one_epoch, config=TrainConfig(epochs=3)), tmp_path, in_progress=True)
    # the same save as another server process behind the proxy writes it, one on another computer, just now
    summary = json.loads((tmp_path / f"{saved.run_id}.json").read_text())
    summary["owner"] = {"host": "web-2 [x](http://host)", "pid": 4242, "started": 17}
    (tmp_path / f"{saved.run_id}.json").write_text(json.dumps(summary))
    app.switch_page("pages/train.py").run()
    assert not app.exception
    assert list(app.dataframe[0].value["status"]) == [
        "Training in another server process (process 4242 on web-2 [x](http://host)), saved after epoch 1 of 3"
    ]  # a table cell shows the host name as typed


def test_confusion_cell_shows_its_images(app):
    app.switch_page("pages/train.py").run()
    app.number_input(key="train.epochs").set_value(1)
    button(app, "Start training").click().run()
    wait_for_training(app)
    app.switch_page("pages/results.py").run()
    app.selectbox(key="results.cell_true").set_value(7)
    app.selectbox(key="results.cell_pred").set_value(7).run()
    assert not app.exception
    result, dataset = state(app).runs[0].result, load_dataset("sample")
    said = predict_probabilities(result.spec, result.params, dataset.test_images).argmax(axis=1)
    sevens = int(np.sum((dataset.test_labels == 7) & (said == 7)))
    assert 30 < sevens <= int(np.sum(dataset.test_labels == 7))  # one epoch gets most sevens right
    caption = next(c.value for c in app.caption if "the model called 7" in c.value)
    assert caption.startswith(f"{sevens} images of 7 the model called 7, most confident first: ")
    confidences = [int(x.rstrip("%")) for x in caption.split(": ")[1].split(", ")]
    assert len(confidences) == min(sevens, 24) and confidences == sorted(confidences, reverse=True)
