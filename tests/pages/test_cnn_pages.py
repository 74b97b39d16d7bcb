"""Convolutional models in the pages: the Build page's editor, diagram and numbers, the Variables page's
kernels, the Inside page's feature maps, and every page with the CNN presets, untrained and trained."""

import base64
import json

import jax
import numpy as np
import pytest

from core import models
from core.conv_layers import Conv
from core.costs import human_count, model_costs
from core.data import load_dataset
from core.presets import PRESETS
from core.training import TrainConfig, train
from testkit.support import metric, open_tab, open_variables, select_trained, state

FLAX_CNN = PRESETS["flax MNIST example (CNN)"][1]
#: the presets opened on every page untrained and trained (each one costs a minute on 2 cores)
EVERY_PAGE_PRESETS = ["flax MNIST example (CNN)"]
PAGES = ["pages/build.py", "pages/variables.py", "pages/train.py", "pages/results.py", "pages/inside.py",
         "pages/explore.py", "pages/draw.py", "pages/sweep.py"]  # fmt: skip


def _init_count(spec) -> int:
    variables = jax.eval_shape(models.build_model(spec).init, jax.random.key(0), models.example_batch(spec))
    return sum(leaf.size for leaf in jax.tree_util.tree_leaves(variables["params"]))


def test_build_page_counts_the_flax_cnn_as_model_init_does(app):
    app.selectbox(key="build.preset.mlp").set_value("flax MNIST example (CNN)").run()
    app.button(key="build.use_preset").click().run()
    assert not app.exception
    assert state(app).spec == FLAX_CNN.replace(seed=state(app).spec.seed)
    assert metric(app, "Parameters") == f"{_init_count(FLAX_CNN):,}" == "824,458"
    costs = model_costs(FLAX_CNN, state(app).config)
    assert metric(app, "Operations per image") == human_count(costs.forward_flops)
    shapes = next(c.value for c in app.caption if c.value.startswith("Shapes: "))
    assert shapes == "Shapes: 28x28x1 → 28x28x32 → 14x14x32 → 14x14x64 → 7x7x64 → 256 → 10"
    table = app.dataframe[0].value
    assert list(table["layer"]) == ["Conv_0", "AvgPool", "Conv_1", "AvgPool", "Dense_0", "Dense_1"]
    assert list(table["parameters"]) == [320, 0, 18_496, 0, 803_072, 2_570]


def test_build_editor_resizes_adds_and_refuses_conv_layers(app):
    state(app).set_spec(FLAX_CNN)
    app.run()
    v = state(app).build.editor_version
    app.number_input(key=f"build.hidden.0.features.v{v}").set_value(8).run()
    assert state(app).spec.hidden[0] == Conv(8, 3, "relu")
    assert metric(app, "Parameters") == f"{_init_count(state(app).spec):,}"
    app.number_input(key=f"build.hidden.0.kernel.v{v}").set_value(5).run()
    assert state(app).spec.hidden[0] == Conv(8, 5, "relu")
    app.selectbox(key=f"build.hidden.newkind.v{v}").set_value("maxpool")
    app.button(key=f"build.hidden.add.v{v}").click().run()
    assert not app.exception
    spec = state(app).spec  # the pool goes before the first Dense layer, which flattens the image
    assert [layer.name for layer in spec.hidden[:5]] == ["conv", "avgpool", "conv", "avgpool", "maxpool"]
    assert metric(app, "Parameters") == f"{_init_count(spec):,}"
    v = state(app).build.editor_version
    app.button(key=f"build.hidden.5.up.v{v}").click().run()  # a Dense layer before the pool: refused
    assert not app.exception
    assert state(app).spec == spec
    assert any("needs an image" in e.value for e in app.error)
    v = state(app).build.editor_version
    app.number_input(key=f"build.hidden.0.features.v{v}").set_value(0).run()
    assert not app.exception and state(app).spec == spec
    assert any("channels" in e.value for e in app.error)


@pytest.fixture(scope="module")
def trained_cnns():
    """The CNN presets the every-page test opens, trained one epoch on a tenth of the sample (a real run, quick);
    only those: each other preset trained here cost a compile and a training no test looked at."""
    data = load_dataset("sample")
    config = TrainConfig(epochs=1, augment=False, train_fraction=0.1)
    return {name: train(PRESETS[name][1], config, data) for name in EVERY_PAGE_PRESETS}


def test_variables_page_shows_conv_kernels_and_the_first_layers_filters(app):
    state(app).set_spec(FLAX_CNN)
    open_variables(app)
    assert not app.exception
    open_tab(app, "variables.tab", "Table of every array")
    table = app.dataframe[0].value
    shapes = dict(zip(table["path"], table["shape"], strict=True))
    assert shapes["params/Conv_0/kernel"] == "3 x 3 x 1 x 32" and shapes["params/Conv_1/kernel"] == "3 x 3 x 32 x 64"
    open_tab(app, "variables.tab", "Look at one kernel")
    assert not app.exception
    assert app.selectbox(key="variables.kernel").value == "params/Conv_0/kernel"
    grid = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert grid["layout"]["title"]["text"] == "params/Conv_0/kernel: 3 x 3 x 1 x 32, the 32 filters"
    z = grid["data"][0]["z"]  # plotly's typed array: 32 filters of 3x3, 8 per row, 1-pixel gaps between them
    values = np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"])
    assert z["shape"] == "15, 31" and np.isfinite(values).sum() == 32 * 9


@pytest.mark.slow  # the Sweep page times a CNN's training steps (about a minute on 2 cores)
@pytest.mark.parametrize("name", EVERY_PAGE_PRESETS)
def test_every_page_with_a_cnn_preset_untrained_and_trained(app, trained_cnns, name):
    for trained in (False, True):
        if trained:
            select_trained(app, trained_cnns[name])
        else:
            state(app).set_spec(PRESETS[name][1])
        models.prepare_init(state(app).spec).result(600)  # the Variables page waits for it (a hang guard only)
        for page in PAGES:
            app.switch_page(page).run()
            assert not app.exception, (page, trained, app.exception[0].message)
            assert not app.error, (page, trained, [e.value for e in app.error])
        app.switch_page("pages/build.py").run()
        assert metric(app, "Parameters") == f"{_init_count(PRESETS[name][1]):,}"


def test_inside_page_shows_each_conv_layers_feature_maps_and_a_channel(app):
    state(app).set_spec(FLAX_CNN)
    app.switch_page("pages/inside.py").run()
    assert not app.exception
    charts = [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]
    titles = [chart["layout"].get("title", {}).get("text", "") for chart in charts]
    assert "layer 1 (Conv, 28x28x32, relu): one map per channel" in titles
    assert "layer 2 (Conv, 14x14x64, relu): one map per channel" in titles
    maps = charts[titles.index("layer 1 (Conv, 28x28x32, relu): one map per channel")]
    assert maps["data"][0]["z"]["shape"] == "115, 231"  # 32 maps of 28x28, 8 per row, 1-pixel gaps
    filt = charts[titles.index("Its filter: 3x3 weights on each of 1 input channels")]
    assert filt["data"][0]["z"]["shape"] == "3, 3"
    app.selectbox(key="inside.channel_layer").set_value("Conv_1").run()
    app.number_input(key="inside.channel").set_value(63).run()
    assert not app.exception
    assert any(c.value.startswith("Mean values: ") and c.value.count(",") == 11 for c in app.caption)
