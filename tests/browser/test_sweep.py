"""A tiny width sweep in a real browser: estimate, run, read the results, click a point to use a model."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from core.data import load_dataset
from core.spec import ModelSpec
from core.training import TrainConfig
from core.training.sweep import SweepPlan, run_sweep
from testkit.browser_support import (
    goto,
    main_text,
    no_exception,
    open_page,
    screenshot,
    sidebar_text,
    wait_for_text,
    wait_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def fill(page, label: str, value: str) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(value)
    field.press("Tab")


def click_run_point(page, index: int) -> None:
    """Click the ``index``-th model's point in the score chart, where plotly drew it."""
    chart = page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').first
    chart.scroll_into_view_if_needed()
    x, y = chart.evaluate(
        """(gd, i) => {
            const trace = gd._fullData.findIndex(t => t.customdata && t.customdata.length);
            const data = gd._fullData[trace], xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
            const box = gd.getBoundingClientRect();
            return [box.left + xa._offset + xa.c2p(data.x[i]), box.top + ya._offset + ya.c2p(data.y[i])];
        }""",
        index,
    )
    page.mouse.move(x, y)
    page.wait_for_timeout(300)
    page.mouse.click(x, y)


def test_tiny_sweep_on_the_sample(page, server):
    goto(page, server)
    open_page(page, "Width sweep")
    # the default plan, timed before anything starts
    assert "24 models" in wait_for_text(page, "stMain", "Estimated time")
    fill(page, "Widths to try", "32,8")
    fill(page, "Seeds", "0,1")
    fill(page, "Epochs", "1")
    page.get_by_role("button", name="Apply and estimate the time").click()
    wait_idle(page, timeout=120)
    text = wait_for_text(page, "stMain", "4 models")
    assert "Estimated time: about" in text
    no_exception(page)

    page.get_by_role("button", name="Start sweep").click()
    text = wait_for_text(page, "stMain", "4 models finished")
    wait_idle(page)
    expected = run_sweep(
        SweepPlan(ModelSpec.mlp((512, 256)), 0, (8, 32), (0, 1), TrainConfig(epochs=1)), load_dataset("sample")
    )
    # the chart the browser drew holds the same models and numbers as core computes
    chart = page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').first
    script = "gd => gd._fullData.filter(t => t.customdata && t.customdata.length).map(t => [t.text, t.y])[0]"
    names, accuracies = chart.evaluate(script)
    drawn = dict(zip(names, accuracies, strict=True))
    assert drawn.keys() == {f"width {r.width}, seed {r.seed}" for r in expected}
    for run in expected:
        assert drawn[f"width {run.width}, seed {run.seed}"] == pytest.approx(run.test_accuracy, abs=1e-9)
    expect(page.locator('[data-testid="stPlotlyChart"]')).to_have_count(2)
    expect(page.locator('[data-testid="stDataFrame"]')).to_have_count(1)
    no_exception(page)
    page.get_by_text("Sweep 1:").evaluate("el => el.scrollIntoView({block: 'start'})")  # the results, not the form
    page.wait_for_timeout(500)
    screenshot(page, "8-sweep")

    click_run_point(page, 3)  # the fourth model drawn: width 32
    wait_idle(page)
    sidebar = sidebar_text(page)
    assert "MLP 784-32-256-10" in sidebar, sidebar
    open_page(page, "Results")
    wide = [r for r in expected if r.width == 32]
    results = main_text(page)
    assert any(f"{r.test_accuracy:.1%}" in results for r in wide), results[:1500]
    no_exception(page)
