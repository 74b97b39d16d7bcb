"""An uploaded autoencoder whose weights make its code enormous (1e8) or infinite (3e38 overflows
float32) is shown with messages on every page, never an error page, and its report still builds."""

from __future__ import annotations

import dataclasses

import pytest
from streamlit.testing.v1 import AppTest

from components.report import run_report
from core.runs import checkpoint
from core.spec import ModelSpec
from core.training import TrainConfig, train
from tests.pages.conftest import ROOT

PAGES = ("explore", "variables", "results", "draw", "build", "train", "sweep")


@pytest.fixture(scope="module")
def trained_autoencoders(small):
    return {
        code: train(ModelSpec.autoencoder((32, code), (32,)), TrainConfig(epochs=1, batch_size=64), small)
        for code in (2, 16)
    }


@pytest.mark.parametrize("code", [2, 16])
@pytest.mark.parametrize("scale", [1e8, 3e38])
def test_an_autoencoder_with_an_enormous_code_is_shown_without_an_error_page(trained_autoencoders, small, code, scale):
    result = trained_autoencoders[code]
    encoder = dict(result.params["encoder"])
    last = max(encoder, key=lambda name: int(name.split("_")[1]))  # the code layer, Dense_1
    encoder[last] = {name: value * scale for name, value in encoder[last].items()}
    huge = dataclasses.replace(result, params={**result.params, "encoder": encoder}, dataset="sample")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/train.py").run()
    at.get("file_uploader")[0].set_value(("huge.msgpack", checkpoint.to_bytes(huge), "application/octet-stream")).run()
    assert not at.exception
    for page in PAGES:
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, page
    at.switch_page("pages/results.py").run()
    if scale > 1e30 and code > 2:  # infinite codes: no map, and the page says why
        assert any("latent map cannot be drawn" in w.value for w in at.warning)
    assert "<html" in run_report(huge, small, "huge").lower()
