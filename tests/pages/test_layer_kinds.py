"""Dropout, BatchNorm and LayerNorm in the pages: the Build editor, the typed editor, the Variables page
before and after training, and the Results, Explore, Draw and Sweep pages of such a model."""

import numpy as np
import pytest

from core.data import load_dataset
from core.layer_items import parse_layers
from core.layers import Layer
from core.predict import evaluate
from core.presets import PRESETS
from core.spec import ModelSpec
from core.training import TrainConfig, train
from testkit.support import button, metric, open_tab, open_variables, select_trained, state, text_input

BN_DROPOUT = ModelSpec(kind="mlp", hidden=parse_layers("64, batchnorm, dropout:0.2, 32", "hidden"), seed=1)
AE_LAYERS = ModelSpec(
    kind="autoencoder",
    encoder=parse_layers("64, batchnorm, 2", "encoder", code_activation="linear"),
    decoder=parse_layers("dropout:0.1, 64, layernorm", "decoder"),
)


def _table(app, column: str):
    """The dataframe of the page that has this column."""
    return next(frame.value for frame in app.dataframe if column in frame.value.columns)


@pytest.fixture(scope="module")
def trained_bn():
    return train(BN_DROPOUT, TrainConfig(epochs=1, augment=False), load_dataset("sample"))


def test_build_editor_adds_and_edits_the_new_layers(app):
    app.selectbox(key="build.hidden.newkind.v0").set_value("batchnorm")
    app.button(key="build.hidden.add.v0").click().run()
    assert not app.exception
    assert state(app).spec.hidden == (Layer(512), Layer(256), Layer.batchnorm())
    v = state(app).build.editor_version
    app.selectbox(key=f"build.hidden.newkind.v{v}").set_value("dropout")
    app.button(key=f"build.hidden.add.v{v}").click().run()
    v = state(app).build.editor_version
    app.number_input(key=f"build.hidden.3.rate.v{v}").set_value(0.5).run()
    assert not app.exception
    spec = state(app).spec
    assert spec.hidden == (Layer(512), Layer(256), Layer.batchnorm(), Layer.dropout(0.5))
    assert metric(app, "Parameters") == "536,330" == f"{535_818 + 2 * 256:,}"  # BatchNorm: scale and bias of 256
    assert any("batchnorm, dropout 0.5" in c.value for c in app.caption)
    v = state(app).build.editor_version
    app.button(key=f"build.hidden.2.up.v{v}").click().run()  # batchnorm between the two Dense layers
    assert state(app).spec.hidden[1] == Layer.batchnorm()
    assert metric(app, "Parameters") == f"{535_818 + 2 * 512:,}"


def test_the_encoder_keeps_its_code_last_when_a_layer_is_added(app):
    state(app).set_spec(ModelSpec.autoencoder((64, 8), (64,)))
    app.run()
    v = state(app).build.editor_version
    app.selectbox(key=f"build.encoder.newkind.v{v}").set_value("layernorm")
    app.button(key=f"build.encoder.add.v{v}").click().run()
    assert not app.exception
    assert state(app).spec.encoder == (Layer(64), Layer.layernorm(), Layer(8, "linear"))
    v = state(app).build.editor_version
    app.button(key=f"build.encoder.2.up.v{v}").click().run()  # the code before the layernorm: refused
    assert any("must end with its code" in e.value for e in app.error)
    assert state(app).spec.encoder[-1] == Layer(8, "linear")


@pytest.mark.parametrize(
    ("text", "words"),
    [("64, dropout:2", "a dropout rate"), ("64, foo", "'foo' is not a layer"), ("64:nope", "unknown activation")],
)
def test_typed_items_are_validated(app, text, words):
    text_input(app, "Hidden widths").set_value(text)
    button(app, "Apply widths").click().run()
    assert not app.exception
    assert any(words in e.value for e in app.error), [e.value for e in app.error]
    assert state(app).spec == ModelSpec.mlp((512, 256))


def test_typed_items_apply_and_read_back(app):
    text_input(app, "Hidden widths").set_value("64, batchnorm, dropout:0.2, 32:gelu")
    button(app, "Apply widths").click().run()
    assert state(app).spec.hidden == (Layer(64), Layer.batchnorm(), Layer.dropout(0.2), Layer(32, "gelu"))
    assert text_input(app, "Hidden widths").value == "64, batchnorm, dropout:0.2, 32:gelu"


def test_the_preset_with_batch_norm_and_dropout(app):
    name = "MNIST classifier with batch norm and dropout"
    app.selectbox(key="build.preset.mlp").set_value(name).run()
    app.button(key="build.use_preset").click().run()
    assert not app.exception
    assert state(app).spec.replace(seed=0) == PRESETS[name][1]
    assert metric(app, "Parameters") == f"{PRESETS[name][1].parameter_count:,}" == "537,354"


def test_variables_page_shows_both_collections_before_training(app):
    state(app).set_spec(BN_DROPOUT)
    open_variables(app)
    assert not app.exception
    texts = [m.value for m in app.markdown]
    assert any(f"**{BN_DROPOUT.parameter_count:,} parameters**" in t for t in texts)
    assert any("**`params`** (52,778 numbers in 8 arrays)" in t and "**`batch_stats`** (128 numbers in 2 arrays)" in t
               for t in texts), texts  # fmt: skip
    assert any("Dropout is off" in t and "mutable=['batch_stats']" in t for t in texts)
    assert any("before training: every mean starts at 0" in t for t in texts)
    stats = _table(app, "average running mean")
    assert list(stats["layer"]) == ["BatchNorm_0"] and list(stats["units"]) == [64]
    assert stats["average running mean"][0] == 0 and stats["average running variance"][0] == 1
    open_tab(app, "variables.tab", "Table of every array")
    table = _table(app, "path")
    assert "batch_stats/BatchNorm_0/mean" in list(table["path"])
    assert table["parameters"].sum() == BN_DROPOUT.parameter_count + BN_DROPOUT.batch_stats_count
    open_tab(app, "variables.tab", "flax code")
    assert "(dropout, 0.2)," in app.code[0].value and "nn.BatchNorm(use_running_average=not train" in app.code[0].value


def test_variables_results_draw_and_sweep_pages_after_training(app, trained_bn):
    select_trained(app, trained_bn)
    app.switch_page("pages/variables.py").run()
    assert not app.exception and "trained" in app.success[0].value
    stats = _table(app, "average running mean")
    trained_mean = float(np.mean(trained_bn.batch_stats["BatchNorm_0"]["mean"]))
    # before and after training, as the README promises (issue 30)
    assert list(stats["when"]) == ["before training", "after training"]
    assert list(stats["average running mean"]) == [0, pytest.approx(trained_mean)] and trained_mean != 0
    assert stats["average running variance"][0] == 1
    assert any("before and after training" in m.value for m in app.markdown)

    app.switch_page("pages/results.py").run()
    assert not app.exception
    dataset = load_dataset("sample")
    accuracy = evaluate(BN_DROPOUT, trained_bn.variables, dataset.test_images, dataset.test_labels).accuracy
    assert metric(app, "Test accuracy") == f"{accuracy:.1%}" and accuracy > 0.8
    app.switch_page("pages/draw.py").run()
    assert not app.exception
    app.switch_page("pages/sweep.py").run()
    assert not app.exception
    layers = app.selectbox(key="sweep.layer").options
    # Dropout and BatchNorm have no width to sweep; the Dense layers are counted among themselves
    assert layers == ["The first hidden layer (64 units)", "The second hidden layer (32 units)", "All hidden layers"]


def test_results_and_explore_of_an_autoencoder_with_the_new_layers(app):
    result = train(AE_LAYERS, TrainConfig(epochs=1, augment=False), load_dataset("sample"))
    select_trained(app, result)
    for page in ("pages/results.py", "pages/explore.py", "pages/variables.py"):
        app.switch_page(page).run()
        assert not app.exception, page
    assert any("**`batch_stats`**" in m.value for m in app.markdown)
