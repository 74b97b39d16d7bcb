"""Every page renders from a fresh session and after the main interactions, for both kinds."""

import json
import re

import pytest

from core.data import load_dataset
from core.predict import evaluate
from core.spec import ModelSpec
from testkit.support import button, metric, open_tab, open_variables, state, wait_for_training


@pytest.mark.parametrize("page", ["pages/variables.py", "pages/train.py", "pages/results.py"])
def test_every_page_renders_in_a_fresh_session(app, page):
    app.switch_page(page).run()
    assert not app.exception


def test_variables_page_shows_the_init_tree(app):
    app.switch_page("pages/variables.py").run()
    assert not app.exception
    assert "starting" in app.info[0].value
    assert len(app.json) == 1 and not app.dataframe  # the tree tab is open; the others are not drawn
    open_tab(app, "variables.tab", "Table of every array")
    table = app.dataframe[0].value
    assert list(table["path"]) == [
        "params/Dense_0/kernel", "params/Dense_0/bias", "params/Dense_1/kernel",
        "params/Dense_1/bias", "params/Dense_2/kernel", "params/Dense_2/bias",
    ]  # fmt: skip
    assert table["parameters"].sum() == 535_818
    open_tab(app, "variables.tab", "flax code")
    assert "class MLP(nn.Module)" in app.code[0].value
    open_tab(app, "variables.tab", "Look at one kernel")
    app.selectbox(key="variables.kernel").set_value("params/Dense_1/kernel").run()
    assert not app.exception
    heatmap = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert heatmap["layout"]["title"]["text"] == "params/Dense_1/kernel: 512 x 256"
    stats = next(c.value for c in app.caption if c.value.startswith("mean "))
    mean, std = (float(x) for x in re.fullmatch(r"mean (\S+), std (\S+)", stats).groups())
    # 512 x 256 = 131,072 LeCun-normal draws: std 1/sqrt(512) = 0.0442, mean 0 within a few 0.0001
    assert abs(mean) < 0.001 and 0.042 < std < 0.046
    assert len(app.get("plotly_chart")) == 2  # heatmap and histogram: no receptive fields for a hidden layer


def _train(app, epochs: int = 2) -> None:
    app.switch_page("pages/train.py").run()
    app.number_input(key="train.epochs").set_value(epochs)
    button(app, "Start training").click().run()
    assert not app.exception
    assert state(app).active_run is not None or state(app).runs[-1].job is not None
    wait_for_training(app)
    assert not app.exception


def test_training_an_mlp_then_every_page(app):
    _train(app)
    run = state(app).runs[-1]
    assert run.status == "finished" and run.result.steps == 2 * 35
    assert state(app).selected_run_id == run.run_id
    assert len(app.get("plotly_chart")) >= 2  # loss and accuracy
    table = app.dataframe[0].value
    assert table["status"][0] == "Finished"
    app.switch_page("pages/variables.py").run()
    assert "trained" in app.success[0].value
    app.switch_page("pages/results.py").run()
    assert not app.exception
    accuracy = run.result.final_metrics.test_accuracy
    assert 0.8 < accuracy <= 1  # the default MLP, 2 epochs of the sample
    assert metric(app, "Test accuracy") == f"{accuracy:.1%}"
    assert metric(app, "Wrong") == f"{round((1 - accuracy) * 500):,} of 500"
    shown = app.selectbox(key="results.pick").options
    assert len(set(shown)) == 12
    button(app, "New random images").click().run()
    assert not app.exception and state(app).results.seed == 1
    again = app.selectbox(key="results.pick").options
    assert len(set(again)) == 12 and again != shown  # twelve other test images


def test_training_an_autoencoder_then_results(app):
    state(app).set_spec(ModelSpec.autoencoder((64, 2), (64,)))
    _train(app, epochs=3)
    app.switch_page("pages/results.py").run()
    assert not app.exception
    run = state(app).runs[-1]
    assert run.status == "finished" and run.result.steps == 3 * 35
    dataset = load_dataset("sample")
    mse = evaluate(run.spec, run.result.params, dataset.test_images, dataset.test_labels).mse
    assert metric(app, "Reconstruction error (test)") == f"{mse:.4f}"
    # trained, it rebuilds the test images better than drawing the average image would
    assert float(metric(app, "Reconstruction error (test)")) < float(metric(app, "Error of drawing the average image"))
    assert metric(app, "Code size") == "2 numbers"
    assert any("2-number code" in c.value for c in app.caption)
    assert len(app.get("image")) == 2  # the test images and their reconstructions


def test_latent_map_of_a_wider_code_names_its_share_of_the_spread(app):
    state(app).set_spec(ModelSpec.autoencoder((64, 3), (64,)))
    _train(app, epochs=1)
    app.switch_page("pages/results.py").run()
    assert not app.exception
    explained = next(c.value for c in app.caption if "of the spread" in c.value)
    # the caption quotes the axis title's real share, not the placeholder the code was written with
    share = re.search(r'"(\d+)% of the spread"', explained)
    assert share and 0 < int(share.group(1)) <= 100, explained
    assert not any("{" in c.value for c in app.caption)


def test_bad_learning_rate_is_refused_in_the_page(app):
    app.switch_page("pages/train.py").run()
    app.text_input(key="train.learning_rate").set_value("fast")
    button(app, "Start training").click().run()
    assert not app.exception
    assert any("learning rate must be a number" in e.value for e in app.error)
    assert state(app).runs == []


def test_results_page_before_training_explains_what_to_do(app):
    app.switch_page("pages/results.py").run()
    assert not app.exception
    assert "has not been trained yet" in app.info[0].value


def test_editing_the_model_after_training_shows_fresh_values(app):
    _train(app, epochs=1)
    state(app).set_spec(ModelSpec.mlp((64,)))
    open_variables(app)
    assert "starting" in app.info[0].value
