"""The Variables page's flax NNX tab and the training scripts to take home, before and after training."""

import ast

import pytest
import streamlit

from core.code_export import APIS, script_name, training_script
from core.data import load_dataset
from core.layer_items import parse_layers
from core.spec import ModelSpec
from core.training import TrainConfig, train
from testkit.support import open_tab, open_variables, select_trained, state

BN_DROPOUT = ModelSpec(kind="mlp", hidden=parse_layers("64, batchnorm, dropout:0.2, 32", "hidden"), seed=1)


def record_downloads(monkeypatch) -> dict[str, object]:
    """Every ``st.download_button`` the page draws from now on, by file name: the data it offers."""
    offered: dict[str, object] = {}
    original = streamlit.download_button

    def download_button(label, data, file_name=None, *args, **kwargs):
        offered[file_name] = data
        return original(label, data, file_name, *args, **kwargs)

    monkeypatch.setattr(streamlit, "download_button", download_button)
    return offered


def constants(script: str) -> tuple:
    """The script's CONFIG and DATASET, read as Python values."""
    found = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in ast.parse(script).body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") in ("CONFIG", "DATASET")
    }
    return found["CONFIG"], found["DATASET"]


def _table(app, column: str):
    return next(frame.value for frame in app.dataframe if column in frame.value.columns)


def test_the_nnx_tab_shows_the_code_the_path_table_and_tonnx_before_training(app):
    state(app).set_spec(BN_DROPOUT)
    open_variables(app)
    open_tab(app, "variables.tab", "flax NNX")
    assert not app.exception
    code = app.code[0].value
    assert "self.batchnorm_0 = nnx.BatchNorm(64, momentum=0.9, rngs=rngs)" in code
    assert "x = nnx.relu(self.dense_0(x.reshape((x.shape[0], -1))))" in code  # the image flattened first
    assert "x = nnx.relu(self.dense_1(x))" in code
    table = _table(app, "NNX path")
    paths = dict(zip(table["linen path"], table["NNX path"], strict=True))
    assert paths["params/Dense_0/kernel"] == "dense_0.kernel"
    assert paths["batch_stats/BatchNorm_0/mean"] == "batchnorm_0.mean"
    kinds = dict(zip(table["NNX path"], table["type"], strict=True))
    assert kinds["batchnorm_0.var"] == "nnx.BatchStat" and kinds["dense_2.bias"] == "nnx.Param"
    assert table[table["type"] == "nnx.Param"]["numbers"].sum() == BN_DROPOUT.parameter_count
    assert any("nnx.bridge.ToNNX(linen_model" in c.value for c in app.code)
    check = next(c.value for c in app.caption if "wrapped model's outputs" in c.value)
    assert "at most 0" in check and "`Dense_0.kernel`" in check
    # the state tree is treescope's drawing of nnx.split's state, with the variable types
    assert len(app.get("iframe")) == 1
    labels = [b.label for b in app.get("download_button")]
    assert labels == ["Training script (flax.linen)", "Training script (flax NNX)"]


@pytest.fixture(scope="module")
def trained_bn():
    return train(BN_DROPOUT, TrainConfig(epochs=1, augment=False, learning_rate=0.002), load_dataset("sample"))


def test_after_training_the_scripts_carry_the_runs_settings(app, trained_bn, monkeypatch):
    offered = record_downloads(monkeypatch)
    select_trained(app, trained_bn)
    app.switch_page("pages/variables.py").run()
    open_tab(app, "variables.tab", "flax code")
    assert not app.exception
    assert any("this run's" in m.value and "learning rate 0.002" in m.value for m in app.markdown)
    open_tab(app, "variables.tab", "flax NNX")
    assert not app.exception and any("trained" in c.value and "copied from linen" in c.value for c in app.caption)
    for api in APIS:  # the buttons offer exactly the run's scripts
        script = training_script(BN_DROPOUT, trained_bn.config, api, trained_bn.dataset)
        assert offered[script_name(BN_DROPOUT, api)] == script
        config, dataset = constants(script)
        assert (config["learning_rate"], config["epochs"], config["augment"]) == (0.002, 1, False)
        assert config["batch_size"] == trained_bn.config.batch_size and dataset == "mnist"


def test_the_train_page_offers_the_scripts(app):
    app.switch_page("pages/train.py").run()
    assert not app.exception
    labels = [b.label for b in app.get("download_button")]
    assert "Training script (flax NNX)" in labels and "Training script (flax.linen)" in labels
