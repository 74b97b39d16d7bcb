"""The Inside page's "Switch units off": units switched off change the answer, the held-out score, the layer
grid and the diagram; "All on" gives back the unchanged numbers exactly; "Which units matter" and the
pruning curve show core.ablation's numbers; for a classifier and an autoencoder, in presenter mode too."""

from __future__ import annotations

import numpy as np
import pytest

from core import ablation, inside
from core.conv_layers import Conv
from core.presets import PRESETS
from core.spec import MLPSpec
from core.training import TrainConfig, train
from testkit.support import select_trained, state
from tests.pages.test_inside import charts, numbers, title

MLP = PRESETS["MNIST classifier (default)"][1]
AUTOENCODER = PRESETS["MNIST autoencoder (default)"][1]
TINY_CNN = MLPSpec(hidden=(Conv(6, 3, "relu"),))  # 6 channels of 28x28, then the output Dense layer


@pytest.fixture(scope="module")
def trained_mlp(sample):
    return train(MLP, TrainConfig(epochs=1), sample)


@pytest.fixture(scope="module")
def trained_autoencoder(sample):
    return train(AUTOENCODER, TrainConfig(epochs=1), sample)


@pytest.fixture(scope="module")
def trained_cnn(small):
    return train(TINY_CNN, TrainConfig(epochs=1), small)


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def open_inside(at, result):
    select_trained(at, result)
    at.switch_page("pages/inside.py").run()
    assert not at.exception
    return at


def held_out(sample) -> ablation.HeldOut:
    return ablation.HeldOut(inside.as_inputs(sample.test_images), sample.test_labels)


def test_a_switched_off_unit_changes_score_grid_and_diagram_and_all_on_restores_exactly(app, sample, trained_mlp):
    open_inside(app, trained_mlp)
    before = metrics(app)
    assert before["Test accuracy, unchanged"] == before["Test accuracy, with 0 units off"]
    ranking = ablation.unit_importance(MLP, trained_mlp.variables, held_out(sample), "Dense_0")
    top = int(ranking.ranked()[0])
    app.number_input(key="inside.switch.unit").set_value(top).run()
    app.button(key="inside.switch.toggle").click().run()
    assert not app.exception
    after = metrics(app)
    assert after["Test accuracy, unchanged"] == before["Test accuracy, unchanged"]
    assert after["Test accuracy, with 1 unit off"] == f"{ranking.scores[top]:.1%}"
    assert ranking.scores[top] < ranking.baseline
    assert any(c.value == f"Switched off: layer 1: unit {top}." for c in app.caption)
    grid = next(c for c in charts(app) if title(c).startswith("layer 1 (Dense, 512 units, relu)"))
    assert numbers(grid["data"][0]["z"]).ravel()[top] == 0.0  # the layer grid shows the unit at 0 ...
    assert numbers(grid["data"][1]["customdata"]).tolist() == [top]  # ... crossed out
    dots = [t for t in charts(app) if any(d.get("mode") == "markers" and "customdata" in d for d in t["data"])]
    network = next(c for c in dots if len(c["data"]) > 5)
    crosses = [t for t in network["data"] if t.get("marker", {}).get("symbol") == "x-thin"]
    assert len(crosses) == 1 and len(numbers(crosses[0]["x"])) == 1
    clickable = next(c for c in charts(app) if title(c).endswith("click a unit"))
    assert numbers(clickable["data"][1]["customdata"]).tolist() == [top]
    app.button(key="inside.switch.all_on").click().run()
    assert metrics(app) == before and state(app).switches.off == {}
    crossed = [t for c in charts(app) for t in c["data"] if t.get("marker", {}).get("symbol") == "x-thin"]
    assert all(len(numbers(t["x"])) == 0 for t in crossed)  # no unit crossed out anywhere


def test_a_silent_unit_switched_off_is_crossed_out_though_no_value_changes(app, sample, trained_mlp):
    """A unit at 0 for this image gives the same values switched off: the grid and the diagram (made once per
    values and switches, not per rerun) still cross it out."""
    open_inside(app, trained_mlp)
    image = inside.as_inputs(sample.test_images[state(app).inside_image])
    rows, _ = inside.layer_outputs(MLP, trained_mlp.variables, image)
    silent = int(np.flatnonzero(rows[0].values[0] == 0.0)[0])  # ReLU: some units of layer 1 stay at 0
    app.number_input(key="inside.switch.unit").set_value(silent).run()
    app.button(key="inside.switch.toggle").click().run()
    assert not app.exception
    grid = next(c for c in charts(app) if title(c).startswith("layer 1 (Dense, 512 units, relu)"))
    assert numbers(grid["data"][1]["customdata"]).tolist() == [silent]
    network = next(c for c in charts(app) if any(t["type"] == "heatmap" for t in c["data"]) and len(c["data"]) > 5)
    crosses = [t for t in network["data"] if t.get("marker", {}).get("symbol") == "x-thin"]
    assert len(crosses) == 1 and len(numbers(crosses[0]["x"])) == 1
    app.button(key="inside.switch.all_on").click().run()


def test_which_units_matter_and_the_pruning_curve_show_the_core_numbers(app, sample, trained_mlp):
    open_inside(app, trained_mlp)
    app.selectbox(key="inside.switch.layer").set_value("Dense_1").run()
    app.button(key="inside.switch.rank").click().run()
    assert not app.exception
    ranking = ablation.unit_importance(MLP, trained_mlp.variables, held_out(sample), "Dense_1")
    bars = next(c for c in charts(app) if title(c).startswith("The 15 units of 256 that matter most"))
    assert bars["data"][0]["y"] == [f"unit {u}" for u in ranking.ranked()[:15]]
    np.testing.assert_allclose(numbers(bars["data"][0]["x"]), ranking.drops[ranking.ranked()[:15]] * 100, atol=1e-6)
    top = int(ranking.ranked()[0])
    app.button(key="inside.switch.top").click().run()
    assert state(app).switches.off == {"Dense_1": frozenset({top})}
    assert metrics(app)["Test accuracy, with 1 unit off"] == f"{ranking.scores[top]:.1%}"
    app.button(key="inside.switch.prune").click().run()
    assert not app.exception
    curve = ablation.pruning_curve(MLP, trained_mlp.variables, held_out(sample), "Dense_1")
    lines = next(c for c in charts(app) if any(t.get("name") == "the strongest k" for t in c["data"]))
    np.testing.assert_allclose(numbers(lines["data"][0]["y"]), curve.largest * 100, atol=1e-6)
    assert numbers(lines["data"][0]["x"]).tolist() == curve.kept.tolist()
    assert any(m.value == ablation.pruning_summary(MLP, curve) for m in app.markdown)


def test_an_autoencoder_shows_its_reconstruction_error_and_reconstructions_with_code_units_off(
    app, sample, trained_autoencoder
):
    open_inside(app, trained_autoencoder)
    app.sidebar.toggle(key="sidebar.presenter").set_value(True).run()
    assert app.selectbox(key="inside.switch.layer").value == "encoder/Dense_2"  # the code, chosen first
    for unit in (0, 1, 2, 3):
        app.number_input(key="inside.switch.unit").set_value(unit).run()
        app.button(key="inside.switch.toggle").click().run()
    assert not app.exception
    masks = ablation.masks_for(AUTOENCODER, {"encoder/Dense_2": [0, 1, 2, 3]})
    error = ablation.score(AUTOENCODER, trained_autoencoder.variables, held_out(sample), masks)
    shown = metrics(app)
    assert shown["Reconstruction error (test), with 4 units off"] == f"{error:.4f}"
    assert float(shown["Reconstruction error (test), unchanged"]) < error  # the code lost a quarter of its numbers
    captions = [image.proto.imgs[0].caption for image in app.get("image")]
    assert any("rebuilt by the unchanged autoencoder" in caption for caption in captions)


def test_conv_channels_switched_off_are_named_scored_and_crossed_out_in_their_maps(app, sample, trained_cnn):
    open_inside(app, trained_cnn)
    before = metrics(app)
    assert app.selectbox(key="inside.switch.layer").options == ["layer 1 (Conv, 6 channels, relu)"]
    assert app.number_input(key="inside.switch.unit").label == "Channel"
    for channel in (0, 2):
        app.number_input(key="inside.switch.unit").set_value(channel).run()
        app.button(key="inside.switch.toggle").click().run()
    assert not app.exception
    masks = ablation.masks_for(TINY_CNN, {"Conv_0": [0, 2]})
    accuracy = ablation.score(TINY_CNN, trained_cnn.variables, held_out(sample), masks)
    after = metrics(app)
    assert after["Test accuracy, with 2 units off"] == f"{accuracy:.1%}"
    assert after["Test accuracy, unchanged"] == before["Test accuracy, unchanged"]
    assert any(c.value == "Switched off: layer 1: channels 0, 2." for c in app.caption)
    maps = next(c for c in charts(app) if title(c).startswith("layer 1 (Conv, 28x28x6, relu): one map per channel"))
    grid = numbers(maps["data"][0]["z"])  # 2 rows of 3 maps of 28x28, a row and a column of gaps between them
    assert np.all(grid[:28, :28] == 0.0) and np.all(grid[:28, 58:86] == 0.0)  # channels 0 and 2 pass on 0
    labels = maps["layout"]["annotations"]
    assert [(a["text"], a["hovertext"]) for a in labels] == [("off", "channel 0: switched off"),
                                                             ("off", "channel 2: switched off")]  # fmt: skip
    marks = [(s.get("type"), s["x0"], s["y0"], s["x1"], s["y1"]) for s in maps["layout"]["shapes"]]
    assert marks == [  # a dimmed map crossed out corner to corner: channel 0, then channel 2 (third of the top row)
        ("rect", -0.5, -0.5, 27.5, 27.5), ("line", -0.5, -0.5, 27.5, 27.5), ("line", -0.5, 27.5, 27.5, -0.5),
        ("rect", 57.5, -0.5, 85.5, 27.5), ("line", 57.5, -0.5, 85.5, 27.5), ("line", 57.5, 27.5, 85.5, -0.5),
    ]  # fmt: skip
    app.button(key="inside.switch.all_on").click().run()
    assert metrics(app) == before and state(app).switches.off == {}
    maps = next(c for c in charts(app) if title(c).startswith("layer 1 (Conv, 28x28x6, relu)"))
    assert not maps["layout"].get("shapes") and not maps["layout"].get("annotations")


def test_an_untrained_model_asks_to_be_trained_first(app):
    app.switch_page("pages/inside.py").run()
    assert not app.exception
    assert any("Train the model first" in i.value for i in app.info)
