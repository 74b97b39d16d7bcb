"""The Inside page in Chromium: pick a digit, the network diagram shows, clicking a unit of the
diagram shows its incoming weights and the test images that light it up most."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from testkit.browser_support import goto, main_text, no_exception, open_page, screenshot, train_on_page, wait_idle
from testkit.waits import HANG_S

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DIAGRAM = ".st-key-inside-diagram"


def dots_of(page, layer: int):
    """The dots of one layer of the diagram (1: the first layer), in unit order (the input's pixels are an image)."""
    traces = page.locator(f"{DIAGRAM} .scatterlayer .trace")
    columns = [i for i in range(traces.count()) if traces.nth(i).locator("path.point").count()]
    return traces.nth(columns[layer - 1]).locator("path.point")


def test_pick_a_digit_see_the_diagram_and_click_a_unit(page, server):
    goto(page, server)
    train_on_page(page, epochs=1)  # the default MLP classifier
    open_page(page, "Inside")
    assert "has not been trained yet" not in main_text(page)

    page.locator(".st-key-inside-class").get_by_role("combobox").click()
    page.get_by_role("option", name="7", exact=True).click()
    wait_idle(page)
    assert re.search(r"Test image #[\d,]+ of 500: a 7\.", main_text(page)), main_text(page)[:600]

    page.locator(DIAGRAM).scroll_into_view_if_needed()
    page.locator(f"{DIAGRAM} .scatterlayer").wait_for(timeout=HANG_S * 1000)
    assert page.locator(f"{DIAGRAM} .heatmaplayer image").count() == 1  # the input's 784 pixels: one image
    assert [dots_of(page, layer).count() for layer in (1, 2, 3)] == [512, 256, 10]
    assert "showing the 200 strongestof 401,408 weights" in page.locator(DIAGRAM).inner_text()  # two SVG lines

    unit = dots_of(page, 1).nth(38)  # layer 1, unit 38 (37 never fires after this training: no images light it up)
    unit.scroll_into_view_if_needed()
    box = unit.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.get_by_text("layer 1 (Dense, 512 units, relu), unit 38:").first.wait_for(timeout=HANG_S * 1000)
    wait_idle(page)
    weights = page.locator(".st-key-inside-incoming")
    expect(weights.get_by_text("Its incoming weights, one per pixel")).to_have_count(1)
    expect(page.get_by_text("The 12 test images (of the first 500) that light it up most")).to_have_count(1)
    no_exception(page)
    screenshot(page, "11-inside")
