"""The flax example CNN in Chromium: build it from its preset, train it one epoch, see each conv layer's
feature maps on the Inside page and click a channel; screenshots of the Build page, the Variables kernel
grid and the Inside feature maps at 1280x720 and 390x844 (artifacts/)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from testkit.browser_support import (
    goto,
    main_text,
    no_exception,
    open_page,
    open_tab,
    screenshot,
    start_training,
    wait_for_sidebar,
    wait_idle,
)
from testkit.waits import HANG_S

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SIZES = {"desktop": (1280, 720), "phone": (390, 844)}


def _shoot(page, name: str) -> None:
    for label, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        wait_idle(page)
        screenshot(page, f"cnn-{name}-{label}")
    page.set_viewport_size({"width": 1440, "height": 1000})


def test_build_the_flax_cnn_train_it_and_see_its_feature_maps(page, server):
    goto(page, server)
    page.locator(".st-key-build-preset-mlp").get_by_role("combobox").click()
    page.get_by_role("option", name="flax MNIST example (CNN)").click()
    wait_idle(page)
    page.get_by_role("button", name="Use preset").click()
    wait_idle(page)
    text = main_text(page)
    assert "824,458 parameters" in text
    assert "28x28x1 → 28x28x32 → 14x14x32 → 14x14x64 → 7x7x64 → 256 → 10" in text
    no_exception(page)
    _shoot(page, "build")

    open_page(page, "Train")
    start_training(page, 1)
    wait_for_sidebar(page, "Finished", timeout=HANG_S)
    wait_idle(page)

    open_page(page, "Variables")
    open_tab(page, "Look at one kernel")
    expect(page.get_by_text("params/Conv_0/kernel: 3 x 3 x 1 x 32, the 32 filters")).to_have_count(1)
    no_exception(page)
    _shoot(page, "variables-filters")

    open_page(page, "Inside")
    assert "has not been trained yet" not in main_text(page)
    maps = page.locator(".st-key-inside-maps1-trained")
    expect(maps.get_by_text("layer 1 (Conv, 28x28x32, relu): one map per channel")).to_have_count(1)
    expect(page.locator(".st-key-inside-maps2-trained")).to_have_count(1)  # Conv_1: pooling has no module
    dot = maps.locator(".scatterlayer path.point").nth(5)
    dot.scroll_into_view_if_needed()
    box = dot.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    wait_idle(page)
    expect(page.get_by_text("light channel 5 up most")).to_have_count(1)
    no_exception(page)
    _shoot(page, "inside-maps")
