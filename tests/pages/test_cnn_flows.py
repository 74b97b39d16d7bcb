"""Convolutional models through the flows around a run: a shared link, a checkpoint loaded and continued,
the Draw page (a CNN reads a drawn digit, a conv autoencoder rebuilds it) and the HTML report. Tiny conv
models trained for a few steps on the bundled sample."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from components.report import run_report
from core import canvas, predict
from core.data import load_dataset
from core.layer_items import parse_layers
from core.links import to_query
from core.presets import PRESETS
from core.runs import checkpoint
from core.spec import ModelSpec
from core.training import TrainConfig, train
from testkit.support import metric, select_trained, state, wait_for_training
from testkit.waits import HANG_S
from tests.pages.conftest import ROOT
from tests.pages.test_draw import PAGE as DRAW
from tests.pages.test_draw import draw, drawn_digit

FLAX_CNN = PRESETS["flax MNIST example (CNN)"][1]
CONV_AE = PRESETS["Convolutional autoencoder"][1]
CNN = ModelSpec(kind="mlp", hidden=parse_layers("conv:4, batchnorm, avgpool, dropout:0.1, 16", "hidden"))
AE = ModelSpec(
    kind="autoencoder",
    encoder=parse_layers("conv:4, maxpool, 16", "encoder", code_activation="linear"),
    decoder=parse_layers("convt:4", "decoder"),
)
QUICK = TrainConfig(epochs=1, augment=False, train_fraction=0.05, batch_size=32)


@pytest.fixture(scope="module")
def trained() -> dict:
    data = load_dataset("sample")
    return {"cnn": train(CNN, QUICK, data), "ae": train(AE, QUICK, data)}


@pytest.mark.parametrize("spec", [FLAX_CNN, CONV_AE], ids=["flax-cnn", "conv-ae"])
def test_a_shared_link_of_a_conv_model_rebuilds_it_and_the_url_follows_it(spec):
    other = AppTest.from_file(str(ROOT / "app.py"), default_timeout=HANG_S)
    query = to_query(spec, QUICK, "sample")
    for key, value in query.items():
        other.query_params[key] = value
    other.run()
    assert not other.exception and not other.error
    assert state(other).spec == spec and state(other).config == QUICK
    assert any("shared link" in i.value for i in other.info)
    assert {key: other.query_params[key] for key in query if key in ("model", "layers", "encoder", "decoder")} == {
        key: value for key, value in query.items() if key in ("model", "layers", "encoder", "decoder")
    }


@pytest.mark.parametrize("name", ["cnn", "ae"])
def test_a_conv_checkpoint_loads_and_continues_training(app, trained, name):
    result = trained[name]
    app.switch_page("pages/train.py").run()
    app.get("file_uploader")[0].set_value(("conv.msgpack", checkpoint.to_bytes(result), "x/y")).run()
    assert not app.exception and not app.error
    (run,) = state(app).runs
    assert run.spec == result.spec and state(app).spec == result.spec
    app.number_input(key="train.more_epochs").set_value(1).run()
    app.button(key="train.continue").click().run()
    assert not app.exception and not app.error
    wait_for_training(app)
    assert not app.exception and not app.error
    continued = state(app).runs[-1]
    assert continued.finished and continued.status == "finished"
    history = continued.full_result().history
    assert len(history.epochs) == 2 and history.step_losses[: len(result.history.step_losses)] == list(
        result.history.step_losses
    )  # the curve goes on where the loaded run stopped


def test_a_cnn_reads_a_drawn_digit(app, trained):
    result = trained["cnn"]
    select_trained(app, result)
    app.switch_page(DRAW).run()
    draw(app, drawn_digit(0))
    assert not app.exception and not app.error
    prepared = canvas.prepare_drawing(drawn_digit(0)).image
    expected = predict.predict_probabilities(result.spec, result.variables, prepared[None])[0]
    assert metric(app, "The model says") == str(int(expected.argmax()))
    assert next(m.delta for m in app.metric if m.label == "The model says") == f"{expected.max():.0%} sure"


def test_a_conv_autoencoder_rebuilds_a_drawn_digit(app, trained):
    result = trained["ae"]
    select_trained(app, result)
    app.switch_page(DRAW).run()
    draw(app, drawn_digit(3))
    assert not app.exception and not app.error
    assert len(app.get("image")) == 2  # as the model sees it, and rebuilt
    prepared = canvas.prepare_drawing(drawn_digit(3)).image[None]
    rebuilt = predict.reconstruct(result.spec, result.variables, prepared)
    assert metric(app, "Reconstruction error") == f"{float(np.mean((rebuilt - prepared) ** 2)):.4f}"


@pytest.mark.parametrize("name", ["cnn", "ae"])
def test_the_report_of_a_conv_run(trained, name):
    result = trained[name]
    data = load_dataset("sample")
    text = run_report(result, data, "conv")
    spec = result.spec
    assert spec.describe() in text and f"{spec.parameter_count:,}" in text
    assert "(conv, 4, 3, &quot;relu&quot;)," in text  # the flax code of this very model
    if name == "cnn":
        assert f"BatchNorm&#x27;s {spec.batch_stats_count:,} trained running averages" in text
        accuracy = predict.evaluate(spec, result.variables, data.test_images, data.test_labels).accuracy
        assert f"{accuracy:.2%} of 500 test images" in text and "Confusion matrix" in text
    else:
        assert "(convt, 4, 3, &quot;relu&quot;)," in text and "code of 16 numbers" in text
