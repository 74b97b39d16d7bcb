"""The Inside page: every layer for one input, the diagram, one unit, for both kinds, before and
after training, with inputs from the test set, the Draw page and the Results page."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest

from core import inside, models, predict
from core.presets import PRESETS
from core.training import TrainConfig, train
from testkit.support import select_trained, state

MLP = PRESETS["MNIST classifier (default)"][1]
AUTOENCODER = PRESETS["MNIST autoencoder (default)"][1]


def numbers(value) -> np.ndarray:
    """A plotly JSON array: a list, or plotly's typed array {"dtype": "f4", "bdata": base64[, "shape": "16, 32"]}."""
    if not isinstance(value, dict):
        return np.asarray(value, dtype=np.float64)
    flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    shape = [int(n) for n in str(value["shape"]).split(",")] if "shape" in value else [-1]
    return flat.reshape(shape)


def title(chart: dict) -> str:
    return (chart["layout"].get("title") or {}).get("text") or ""


def charts(at) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def diagram(at) -> dict:
    return next(c for c in charts(at) if any(t.get("mode") == "markers" for t in c["data"]))


def open_inside(at):
    at.switch_page("pages/inside.py").run()
    assert not at.exception
    return at


@pytest.fixture(scope="module")
def trained_autoencoder(sample):
    return train(AUTOENCODER, TrainConfig(epochs=2), sample)


def test_an_untrained_classifier_shows_every_layer_as_flax_computes_it(app, sample):
    open_inside(app)
    assert any("has not been trained yet" in i.value for i in app.info)
    assert "Test image #0 of 500" in " ".join(c.value for c in app.caption)
    rows, _ = inside.layer_outputs(MLP, models.init_params(MLP), sample.test_images[0])
    grids = [c for c in charts(app) if c["data"][0]["type"] == "heatmap"]
    titles = [title(g) for g in grids]
    assert titles[:3] == [
        "layer 1 (Dense, 512 units, relu)",
        "layer 2 (Dense, 256 units, relu)",
        "output (Dense, 10 units)",
    ]
    first = numbers(grids[0]["data"][0]["z"]).reshape(16, 32)  # 512 units as 16 rows of 32
    np.testing.assert_allclose(first.ravel(), rows[0].values[0], rtol=1e-5, atol=1e-6)
    assert grids[0]["data"][0]["hovertemplate"].startswith("unit %{customdata}: %{z:.2f}")
    figure = diagram(app)
    pixels = [t for t in figure["data"] if t["type"] == "heatmap"]  # the input: one image of its 784 pixels
    assert len(pixels) == 1 and numbers(pixels[0]["z"]).size == 784
    dots = [t for t in figure["data"] if t.get("mode") == "markers"]
    assert [len(numbers(t["x"])) for t in dots] == [512, 256, 10]
    notes = [a["text"] for a in figure["layout"]["annotations"]]
    assert "showing the 200 strongest<br>of 401,408 weights" in notes
    assert "showing the 200 strongest<br>of 2,560 weights" in notes
    lines = [t for t in figure["data"] if t.get("mode") == "lines"]
    assert sum(len(numbers(t["x"])) for t in lines) == 3 * 200 * 3  # 200 segments per pair: start, end, gap


def test_picking_a_class_shows_one_of_its_images_and_a_unit_its_most_active_images(app, sample):
    open_inside(app)
    app.selectbox(key="inside.class").set_value(7).run()
    assert not app.exception
    number = int(re.search(r"Test image #(\d+) of", " ".join(c.value for c in app.caption)).group(1))
    assert sample.test_labels[number] == 7 and state(app).inside_image == number
    app.selectbox(key="inside.unit_layer").set_value(2).run()
    app.number_input(key="inside.unit").set_value(37).run()
    assert not app.exception
    assert any("layer 2 (Dense, 256 units, relu), unit 37:" in m.value for m in app.markdown)
    values = next(c.value for c in app.caption if c.value.startswith("Values: "))
    shown = [float(v) for v in values.removeprefix("Values: ").split(", ")]
    rows, _ = inside.layer_outputs(MLP, models.init_params(MLP), sample.test_images)
    expected = np.sort(rows[1].values[:, 37])[::-1][:12]
    np.testing.assert_allclose(shown, expected, atol=0.005)
    incoming = next(c for c in charts(app) if title(c).startswith("Its 512 incoming weights"))
    kernel = np.asarray(models.init_params(MLP)["Dense_1"]["kernel"])[:, 37]
    np.testing.assert_allclose(numbers(incoming["data"][0]["z"]).ravel(), kernel, rtol=1e-5, atol=1e-7)


def test_a_trained_autoencoder_side_by_side_with_its_untrained_start(app, sample, trained_autoencoder):
    select_trained(app, trained_autoencoder)
    open_inside(app)
    assert not any("has not been trained yet" in i.value for i in app.info)
    app.toggle(key="inside.compare").set_value(True).run()
    assert not app.exception
    titles = [title(c) for c in charts(app)]
    assert "code (Dense, 16 units): the 16 numbers the image is squeezed into · trained" in titles
    assert "code (Dense, 16 units): the 16 numbers the image is squeezed into · untrained" in titles
    assert any("What the trained autoencoder rebuilds" in m.value for m in app.markdown)
    assert any("What the untrained autoencoder rebuilds" in m.value for m in app.markdown)
    grids = {
        c["layout"]["title"]["text"]: numbers(c["data"][0]["z"])
        for c in charts(app)
        if c["data"][0]["type"] == "heatmap"
    }
    code = grids["code (Dense, 16 units): the 16 numbers the image is squeezed into · trained"].ravel()
    np.testing.assert_allclose(
        code, predict.encode(AUTOENCODER, trained_autoencoder.params, sample.test_images[:1])[0], rtol=1e-4, atol=1e-5
    )
    untrained = grids["code (Dense, 16 units): the 16 numbers the image is squeezed into · untrained"].ravel()
    assert not np.allclose(code, untrained)
    dots = [t for t in diagram(app)["data"] if t.get("mode") == "markers"]
    assert len(dots) == 6  # six Dense layers (the input is an image)


def test_the_drawing_from_the_draw_page_is_an_input(app):
    digit = np.zeros((28, 28, 1), np.float32)
    digit[6:22, 13:15] = 1.0  # a one
    state(app).drawing, state(app).inside_source = digit, "drawing"
    open_inside(app)
    assert app.radio(key="inside.source").value == "drawing"
    rows, _ = inside.layer_outputs(MLP, models.init_params(MLP), digit)
    first = next(c for c in charts(app) if title(c).startswith("layer 1"))
    np.testing.assert_allclose(numbers(first["data"][0]["z"]).ravel(), rows[0].values[0], rtol=1e-5, atol=1e-6)


def test_without_a_drawing_the_page_says_where_to_draw(app):
    open_inside(app)
    app.radio(key="inside.source").set_value("drawing").run()
    assert not app.exception
    assert any("Nothing drawn yet" in i.value for i in app.info)


def test_an_image_of_the_results_page_opens_on_inside(app, sample, trained_autoencoder):
    select_trained(app, trained_autoencoder)
    app.switch_page("pages/results.py").run()
    number = int(app.selectbox(key="results.inside_pick").options[3].removeprefix("#"))
    app.selectbox(key="results.inside_pick").set_value(number).run()
    app.button(key="results.inside").click().run()
    assert not app.exception
    assert f"Test image #{number:,} of 500" in " ".join(c.value for c in app.caption)
    assert state(app).inside_image == number


def test_a_diverged_model_is_shown_without_an_error(app, sample):
    """A run stopped at NaN weights keeps its model: the page draws it (empty cells) instead of failing."""
    import jax

    result = train(MLP, TrainConfig(epochs=1), sample)
    result.params = jax.tree_util.tree_map(lambda leaf: np.full_like(np.asarray(leaf), np.nan), result.params)
    select_trained(app, result)
    open_inside(app)
    assert not app.exception
    assert any("unit 0:** not a number (the training diverged)" in m.value for m in app.markdown)


def test_a_model_with_norm_and_dropout_layers_shows_them_as_rows(app, small):
    from core.spec import Layer, ModelSpec

    spec = ModelSpec(kind="mlp", hidden=(Layer(64), Layer.batchnorm(), Layer.dropout(0.3), Layer(32)))
    result = train(spec, TrainConfig(epochs=1), small)
    select_trained(app, result)
    open_inside(app)
    titles = [title(c) for c in charts(app)]
    assert "layer 2 (BatchNorm, 64 units)" in titles and "layer 3 (Dropout, 64 units)" in titles
    dots = [t for t in diagram(app)["data"] if t.get("mode") == "markers"]
    assert [len(numbers(t["x"])) for t in dots] == [64, 32, 10]  # the diagram joins the Dense layers
    assert not app.exception


def test_one_unit_of_a_dense_layer_after_batch_norm_and_dropout_reads_that_dense_layer(app, sample):
    """Layer 2 is the Dense layer after a BatchNorm and a Dropout: its unit's value, its most active test
    images and its incoming weights are that Dense layer's own (Dense_1), not the BatchNorm's or the
    Dropout's values, which are rows of their own on the page (and have 64 units to Dense_1's 32)."""
    from core.spec import Layer, ModelSpec

    spec = ModelSpec(kind="mlp", hidden=(Layer(64), Layer.batchnorm(), Layer.dropout(0.3), Layer(32)))
    result = train(spec, TrainConfig(epochs=1), sample)
    select_trained(app, result)
    open_inside(app)
    app.selectbox(key="inside.unit_layer").set_value(2).run()
    app.number_input(key="inside.unit").set_value(5).run()
    assert not app.exception
    rows, _ = inside.layer_outputs(spec, result.variables, sample.test_images)
    dense_1 = next(row for row in rows if row.path == "Dense_1")
    said = next(m.value for m in app.markdown if "layer 2 (Dense, 32 units, relu), unit 5:" in m.value)
    assert f"unit 5:** {dense_1.values[0, 5]:.2f} for this image" in said  # test image #0
    values = next(c.value for c in app.caption if c.value.startswith("Values: "))
    shown = [float(v) for v in values.removeprefix("Values: ").split(", ")]
    np.testing.assert_allclose(shown, np.sort(dense_1.values[:, 5])[::-1][:12], atol=0.005)
    others = [row for row in rows if row.path not in {layer.path for layer in models.dense_layers(spec)}]
    assert all(not np.allclose(shown, np.sort(row.values[:, 5])[::-1][:12], atol=0.005) for row in others)
    incoming = next(c for c in charts(app) if title(c).startswith("Its 64 incoming weights"))
    kernel = np.asarray(result.params["Dense_1"]["kernel"])[:, 5]
    np.testing.assert_allclose(numbers(incoming["data"][0]["z"]).ravel(), kernel, rtol=1e-5, atol=1e-7)


def test_a_unit_that_never_fires_gets_no_images_and_the_chosen_unit_survives_other_pages(app, sample):
    """Issue 30: a unit at 0.00 for every image still got "12 test images that light it up most"; and the
    layer and unit went back to layer 1, unit 0 after a visit to another page."""
    rows, _ = inside.layer_outputs(MLP, models.init_params(MLP), sample.test_images[:500])
    dead = int(np.flatnonzero(np.ptp(rows[1].values, axis=0) == 0)[0])  # the untrained model has some
    open_inside(app)
    app.selectbox(key="inside.unit_layer").set_value(2).run()
    app.number_input(key="inside.unit").set_value(dead).run()
    assert not app.exception
    assert any("No test image lights this unit up" in i.value for i in app.info)
    assert not any("light it up most" in (getattr(i, "caption", "") or "") for i in app.get("imgs"))
    app.switch_page("pages/train.py").run()
    open_inside(app)
    assert app.selectbox(key="inside.unit_layer").value == 2 and app.number_input(key="inside.unit").value == dead
