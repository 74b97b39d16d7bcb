"""The Variables page's flax NNX tab in a real browser, on a projector and on a phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from testkit.browser_support import no_exception, open_tab, screenshot, wait_idle
from testkit.waits import HANG_S

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LINK = "?model=mlp&layers=128.relu-batchnorm-dropout.0.2-64.relu"


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (390, 844)])
def test_the_nnx_tab_draws_code_state_tree_table_and_downloads(browser, server, width, height):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    try:
        # not goto(): a phone's sidebar is folded away, so wait for the page's tabs instead of the sidebar
        page.goto(server + "/variables" + LINK)
        page.wait_for_selector('[data-testid="stMain"] [role="tab"]', timeout=HANG_S * 1000)
        wait_idle(page)
        open_tab(page, "flax NNX")
        main = page.locator('[data-testid="stMain"]')
        expect(main.get_by_text("self.batchnorm_0 = nnx.BatchNorm(128, momentum=0.9, rngs=rngs)")).to_be_visible()
        main.locator("iframe").first.scroll_into_view_if_needed()  # treescope draws its tree once in view
        tree = page.frame_locator("iframe").first
        expect(tree.get_by_text("BatchStat(").first).to_be_visible()  # treescope draws the variable types
        expect(tree.get_by_text("Param(").first).to_be_visible()
        expect(main.get_by_text("nnx.bridge.ToNNX(linen_model").first).to_be_visible()
        expect(main.get_by_role("button", name="Training script (flax NNX)")).to_be_visible()
        # what one sees, screen by screen: the code, the state tree, the table, ToNNX and the downloads
        for step, words in enumerate(["The same model in flax NNX", "separates the model", "Where each linen array",
                                      "Or keep the linen model", "Train it on your own"]):  # fmt: skip
            main.get_by_text(words).first.scroll_into_view_if_needed()
            screenshot(page, f"27-variables-nnx-{width}x{height}-{step}")
        no_exception(page)
    finally:
        context.close()
