"""The whole path a newcomer clicks through, in a real browser, for both kinds of model:
build -> variables -> train 1 epoch on the sample -> results. Numbers are checked against core."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from core.data import load_dataset
from core.predict import evaluate
from core.spec import ModelSpec
from core.training import TrainConfig, train
from testkit.browser_support import (
    goto,
    no_exception,
    open_page,
    open_tab,
    screenshot,
    set_number,
    train_on_page,
    wait_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def plotted_points(page, chart_index: int = 0) -> int:
    """Points of the train-loss trace of a plotly chart, read from the figure the browser drew."""
    chart = page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').nth(chart_index)
    script = "el => el._fullData.map((t, i) => [t.name, el.calcdata[i].length])"
    lengths = [n for name, n in chart.evaluate(script) if name.endswith(": train")]
    return lengths[0] if lengths else 0


def test_mlp_path(page, server):
    goto(page, server)
    expect(page.get_by_text("535,818").first).to_be_visible()
    set_number(page.get_by_role("spinbutton", name="units").first, 256)  # first hidden layer 512 -> 256
    spec = ModelSpec.mlp((256, 256))
    expect(page.get_by_text(f"{spec.parameter_count:,}").first).to_be_visible()
    no_exception(page)
    screenshot(page, "1-build-mlp")

    open_page(page, "Variables")
    expect(page.get_by_text(f"{spec.parameter_count:,} parameters").first).to_be_visible()
    open_tab(page, "flax code")
    expect(page.get_by_text('(dense, 256, "relu"),').first).to_be_visible()
    open_tab(page, "Table of every array")
    expect(page.locator('[data-testid="stDataFrame"]').first).to_be_visible()
    screenshot(page, "2-variables-mlp")

    sidebar = train_on_page(page, 1)
    expected = train(spec, TrainConfig(epochs=1), load_dataset("sample"))
    accuracy = f"{expected.final_metrics.test_accuracy:.1%}"
    assert f"{accuracy} of test images right" in sidebar
    assert plotted_points(page) >= 35  # 35 steps of the one epoch (4,500 // 128)
    no_exception(page)
    screenshot(page, "3-train-mlp")

    open_page(page, "Results")
    expect(page.get_by_text(accuracy).first).to_be_visible()
    assert page.locator('[data-testid="stImage"]').count() >= 2
    expect(page.get_by_text("Confusion matrix").first).to_be_visible()
    no_exception(page)
    screenshot(page, "4-results-mlp")


def test_autoencoder_path(page, server):
    goto(page, server)
    page.get_by_role("radio", name="AutoEncoder").click()
    wait_idle(page)
    spec = ModelSpec.autoencoder()
    expect(page.get_by_text(f"{spec.parameter_count:,}").first).to_be_visible()
    screenshot(page, "5-build-autoencoder")

    open_page(page, "Variables")
    open_tab(page, "flax code")
    expect(page.get_by_text("method=model.encode").first).to_be_visible()

    train_on_page(page, 1)
    dataset = load_dataset("sample")
    expected = train(spec, TrainConfig(epochs=1), dataset)
    mse = evaluate(spec, expected.params, dataset.test_images, dataset.test_labels).mse
    assert plotted_points(page) >= 35
    screenshot(page, "6-train-autoencoder")

    open_page(page, "Results")
    expect(page.get_by_text(f"{mse:.4f}").first).to_be_visible()
    assert page.locator('[data-testid="stImage"]').count() >= 2  # originals and reconstructions
    expect(page.get_by_text("The latent map").first).to_be_visible()
    no_exception(page)
    screenshot(page, "7-results-autoencoder")
