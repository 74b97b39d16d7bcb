"""Uploaded models with extreme values: an autoencoder whose code is enormous (1e8) or overflows float32
(3e38), constant or varying, weights of 1e30 and denormal weights (1e-40) load and are shown on every page,
with a drawing on the Draw and Inside pages, never an error box, and their report still builds; NaN or
infinite weights are refused on upload with the reason."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from components.report import run_report
from core.runs import checkpoint
from core.spec import ModelSpec
from core.training import TrainConfig, train
from testkit.support import state
from tests.pages.conftest import ROOT
from tests.pages.test_draw import draw, drawn_digit

PAGES = ("explore", "variables", "results", "inside", "build", "train", "sweep")
NOTED = ("explore", "variables", "results", "inside")  # the pages that draw the model's values (and draw)


@pytest.fixture(scope="module")
def trained(small):
    config = TrainConfig(epochs=1, batch_size=64)
    models = {f"ae{code}": ModelSpec.autoencoder((32, code), (32,)) for code in (2, 16)} | {"mlp": ModelSpec.mlp((32,))}
    return {name: train(spec, config, small) for name, spec in models.items()}


def _code_layer(params):
    return max(params["encoder"], key=lambda name: int(name.split("_")[1]))  # Dense_1: the layer giving the code


def scaled_code(params, scale):
    """The code layer's weights times ``scale``: codes of about ``scale`` that differ between images."""
    layer = _code_layer(params)
    encoder = dict(params["encoder"]) | {layer: {k: v * scale for k, v in params["encoder"][layer].items()}}
    return {**params, "encoder": encoder}


def constant_code(params, value):
    """Every image gets the same code, every number of it ``value`` (a kernel of zeros and that bias)."""
    layer = _code_layer(params)
    weights = params["encoder"][layer]
    encoder = dict(params["encoder"]) | {layer: {"kernel": weights["kernel"] * 0, "bias": weights["bias"] * 0 + value}}
    return {**params, "encoder": encoder}


def every_weight(params, value):
    return jax.tree_util.tree_map(lambda leaf: np.full_like(leaf, value), params)


CASES = {  # name: (model, how its parameters are changed)
    "code-x1e8": ("ae2", lambda p: scaled_code(p, 1e8)),
    "code-x3e38": ("ae16", lambda p: scaled_code(p, 3e38)),
    "code-x3e38-2d": ("ae2", lambda p: scaled_code(p, 3e38)),
    "code-1e8": ("ae2", lambda p: constant_code(p, 1e8)),
    "code-3e38": ("ae16", lambda p: constant_code(p, 3e38)),
    "ae-weights-1e30": ("ae2", lambda p: every_weight(p, 1e30)),
    "ae-denormal": ("ae16", lambda p: every_weight(p, 1e-40)),
    "mlp-weights-1e30": ("mlp", lambda p: every_weight(p, 1e30)),
    "mlp-denormal": ("mlp", lambda p: every_weight(p, 1e-40)),
}


def _uploaded(result) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/train.py").run()
    at.get("file_uploader")[0].set_value(("odd.msgpack", checkpoint.to_bytes(result), "application/octet-stream")).run()
    assert not at.exception
    return at


@pytest.mark.parametrize("case", list(CASES))
def test_a_model_with_extreme_values_is_shown_on_every_page_without_an_error_box(trained, small, case):
    model, change = CASES[case]
    result = trained[model]
    odd = dataclasses.replace(result, params=change(result.params), dataset="sample")
    at = _uploaded(odd)
    assert len(state(at).runs) == 1, "loaded"
    at.switch_page("pages/draw.py").run()
    draw(at, drawn_digit(0))  # the Inside page then opens with this drawing
    assert not at.exception, "draw"
    assert _noted(at), "draw"
    for page in PAGES:
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, page
        if page in NOTED and (page != "explore" or model != "mlp"):
            assert _noted(at), page
    assert "<html" in run_report(odd, small, "odd").lower()


def _noted(at: AppTest) -> bool:
    """Whether the page says the model's weights are extreme."""
    return any("weights are enormous" in i.value or "weights are denormal" in i.value for i in at.info)


def test_an_enormous_code_that_overflows_draws_no_map_and_says_why(trained):
    result = trained["ae16"]
    at = _uploaded(dataclasses.replace(result, params=scaled_code(result.params, 3e38), dataset="sample"))
    at.switch_page("pages/results.py").run()
    assert any("latent map cannot be drawn" in w.value for w in at.warning)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_weights_are_refused_on_upload_with_the_reason(trained, value):
    result = trained["ae2"]
    encoder = dict(result.params["encoder"])
    encoder["Dense_0"] = {**encoder["Dense_0"], "bias": encoder["Dense_0"]["bias"].at[3].set(value)}
    at = _uploaded(dataclasses.replace(result, params={**result.params, "encoder": encoder}))
    assert not state(at).runs
    assert any("NaN or infinite" in e.value for e in [*at.error, *at.warning])
