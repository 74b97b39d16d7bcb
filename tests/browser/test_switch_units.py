"""Switching units off in Chromium: on the Inside page of a trained classifier, the unit that matters most
switched off lowers the held-out accuracy, a click on the unit grid switches another one off, and "All on"
gives back the accuracy exactly; screenshots on a projector (1280x720, presenter mode too) and a phone (390x844,
presenter mode, then normal mode)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from testkit.browser_support import goto, no_exception, open_page, screenshot, train_on_page, wait_idle
from testkit.waits import HANG_S

pytestmark = [pytest.mark.browser, pytest.mark.slow]

GRID = '[class*="st-key-inside-switch-grid"]'


def accuracy(page, label: str) -> str:
    """The value of the metric whose label contains ``label`` ("unchanged", "with 1 unit off")."""
    metric = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    metric.wait_for(timeout=HANG_S * 1000)
    return metric.locator('[data-testid="stMetricValue"]').inner_text().strip()


def percent(text: str) -> float:
    return float(re.fullmatch(r"([\d.]+)%", text).group(1))


def click(page, name: str) -> None:
    button = page.get_by_role("button", name=name).first
    button.scroll_into_view_if_needed()
    button.click()
    wait_idle(page)


def switch_presenter_mode(page) -> None:
    """Click the sidebar's "Presenter mode"; where the sidebar is folded away (a phone), unfold it first and
    fold it again after, so that the page is in view."""
    sidebar = page.locator('[data-testid="stSidebar"]')
    folded = sidebar.get_attribute("data-collapsed") == "true"
    if folded:
        page.locator('[data-testid="stExpandSidebarButton"]').click()
        page.wait_for_selector('[data-testid="stSidebar"][data-collapsed="false"]')
    sidebar.get_by_text("Presenter mode").click()
    wait_idle(page)
    if folded:
        page.locator('[data-testid="stSidebarCollapseButton"]').click()
        page.wait_for_selector('[data-testid="stSidebar"][data-collapsed="true"]', state="attached")  # folded: hidden
        wait_idle(page)


def shots_of(page, screen: str) -> list:
    """Screenshots of the unit grid, the scores side by side and the two charts."""
    shots = []
    for part, where in (
        ("grid", GRID),
        ("scores", '[data-testid="stMetric"]:has-text("unchanged")'),
        ("ranking", '[class*="st-key-inside-switch-ranking"]'),
        ("pruning", '[class*="st-key-inside-switch-pruning"]'),
    ):
        page.locator(where).first.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        shots.append(screenshot(page, f"29-switch-units-{part}-{screen}"))
    return shots


def test_switch_off_the_unit_that_matters_and_all_on_brings_the_accuracy_back(page, server):
    page.set_viewport_size({"width": 1280, "height": 720})
    goto(page, server)
    train_on_page(page, epochs=1)  # the default MLP classifier
    open_page(page, "Inside")
    unchanged = accuracy(page, "unchanged")
    assert accuracy(page, "with 0 units off") == unchanged

    click(page, "Rank every unit of this layer")
    top = page.get_by_role("button", name=re.compile(r"Switch off unit \d+, the one that matters most"))
    top.wait_for(timeout=HANG_S * 1000)
    unit = int(re.search(r"unit (\d+)", top.inner_text()).group(1))
    click(page, "the one that matters most")
    off = accuracy(page, "with 1 unit off")
    assert percent(off) < percent(unchanged), (off, unchanged)
    assert f"Switched off: layer 1: unit {unit}." in page.locator('[data-testid="stMain"]').inner_text()

    dots = page.locator(f"{GRID} .scatterlayer .trace").first.locator("path.point")
    dots.first.scroll_into_view_if_needed()
    box = dots.nth(3).bounding_box()  # a unit that is still on: a click switches it off
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    wait_idle(page)
    accuracy(page, "with 2 units off")
    click(page, "Draw the pruning curve")
    page.locator('[class*="st-key-inside-switch-pruning"]').wait_for(timeout=HANG_S * 1000)
    no_exception(page)
    shots = []
    for part, where in (("layer-grid", ".st-key-inside-layer1-trained"), ("diagram", ".st-key-inside-diagram")):
        page.locator(where).scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        shots.append(screenshot(page, f"29-switch-units-{part}-1280x720"))
    shots += shots_of(page, "1280x720")
    switch_presenter_mode(page)
    shots += shots_of(page, "presenter-1280x720")
    page.set_viewport_size({"width": 390, "height": 844})
    wait_idle(page)
    click(page, "Switch unit 0 off")  # on a phone: by its number (the grid is drawn anew, at the phone's width)
    three_off = accuracy(page, "with 3 units off")
    shots += shots_of(page, "390x844")  # presenter mode still on
    switch_presenter_mode(page)  # off: the phone in normal mode keeps the two scores side by side in view
    words = "Test accuracy: the share of"  # the scores' explanation: a hint box in presenter mode, a caption now
    expect(page.locator('[data-testid="stCaptionContainer"]').filter(has_text=words)).to_have_count(1)
    expect(page.locator('[data-testid="stAlert"]').filter(has_text=words)).to_have_count(0)
    assert (accuracy(page, "unchanged"), accuracy(page, "with 3 units off")) == (unchanged, three_off)
    scores = page.locator('[data-testid="stMetric"]')
    scores.first.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    shots.append(screenshot(page, "29-switch-units-scores-390x844-normal"))  # normal mode drawn: taken after
    for label in ("unchanged", "with 3 units off"):
        box = scores.filter(has_text=label).first.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390 and 0 <= box["y"] < 844, (label, box)
    no_exception(page)

    click(page, "All on")
    assert accuracy(page, "with 0 units off") == unchanged  # exactly the unchanged model again
    assert accuracy(page, "unchanged") == unchanged
    assert "Every unit is on" in page.locator('[data-testid="stMain"]').inner_text()
    no_exception(page)
    print("screenshots:", *shots)
