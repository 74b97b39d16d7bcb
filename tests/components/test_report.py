import re

import pytest

from components.report import run_report
from core.spec import ModelSpec
from core.training import TrainConfig, train


@pytest.fixture(scope="module", params=["mlp", "autoencoder"])
def report(request, small):
    spec = ModelSpec.mlp((32,)) if request.param == "mlp" else ModelSpec.autoencoder((64, 8), (64,))
    result = train(spec, TrainConfig(epochs=2), small)
    return spec, result, run_report(result, small, f"Test report {request.param}")


def test_report_is_self_contained(report):
    _, _, html = report
    assert html.startswith("<!DOCTYPE html>")
    assert html.count("Plotly.newPlot") >= 1  # plotly figures...
    assert len(html) > 1_000_000  # ...with plotly.js (3+ MB) embedded...
    assert len(re.findall(r"<script[^>]*src=", html)) == 0  # ...and no script fetched from anywhere
    images = re.findall(r"src='data:image/png;base64,", html)
    assert images  # pictures are inline


def test_report_has_the_numbers_of_the_run(report, small):
    spec, result, html = report
    assert spec.describe() in html and f"{spec.parameter_count:,}" in html
    assert "class MLP(nn.Module)" in html  # the flax code
    assert f"{result.train_s:.1f} s" in html
    if spec.kind == "mlp":
        assert f"{result.final_metrics.test_accuracy:.2%}" in html
        assert "Confusion matrix" in html
    else:
        assert "Reconstructions" in html and "code of 8 numbers" in html


def test_report_charts_leave_room_for_their_tick_labels(report):
    spec, _result, text = report
    charts = text.count("Plotly.newPlot")
    assert charts == (3 if spec.kind == "mlp" else 1)  # loss, accuracy, confusion / loss
    # every chart: margins that fit "0.5" and "100" and the class names, and axes that grow to fit them
    assert len(re.findall(r'"margin":\{"l":80,"r":30,"t":50,"b":70,"autoexpand":true\}', text)) == charts
    assert text.count('"automargin":true') >= 2 * charts
