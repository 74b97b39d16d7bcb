"""Issue 15: a page the visitor comes back to opens where they left it, a page seen for the first time at
its top, at a projector's 1280x720 (where Streamlit's main area, not the window, is what scrolls)."""

from __future__ import annotations

import contextlib
from urllib.parse import urlparse

import pytest

from testkit.browser_support import goto, open_page, start_training, wait_for_text, wait_idle
from testkit.waits import HANG_S

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROJECTOR = {"width": 1280, "height": 720}
MAIN = '[data-testid="stMain"]'
OFFSET = f"() => document.querySelector('{MAIN}').scrollTop"
NEAR = f"want => Math.abs(document.querySelector('{MAIN}').scrollTop - want) <= 2"
TALL = f"want => (m => m.scrollHeight - m.clientHeight >= want)(document.querySelector('{MAIN}'))"


@pytest.fixture
def projector(browser):
    context = browser.new_context(viewport=PROJECTOR)
    yield context.new_page()
    context.close()


def scroll_down(page, pixels: int) -> int:
    """Turn the mouse wheel over the page by ``pixels`` and return the offset it came to rest at."""
    start = page.evaluate(OFFSET)
    page.wait_for_function(TALL, arg=start + pixels, timeout=HANG_S * 1000)  # drawn far enough down to scroll there
    box = page.locator(MAIN).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, pixels)
    page.wait_for_function(NEAR, arg=start + pixels, timeout=HANG_S * 1000)  # the wheel scrolls smoothly: its end
    return page.evaluate(OFFSET)


def offset_once_restored(page, want: int) -> int:
    """The page's scroll offset once it has come back to ``want`` (or after HANG_S: then the assertion says how far)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with contextlib.suppress(PlaywrightTimeout):  # the caller's assertion says how far it came instead
        page.wait_for_function(NEAR, arg=want, timeout=HANG_S * 1000)
    return page.evaluate(OFFSET)


def test_a_page_opens_where_it_was_left_and_a_new_page_at_its_top(projector, server):
    goto(projector, server)
    open_page(projector, "Variables")
    left_at = scroll_down(projector, 400)
    assert left_at >= 400
    open_page(projector, "Train")  # as long as Variables
    assert offset_once_restored(projector, 0) == 0  # never seen in this tab: its top (on a slow machine, soon)
    open_page(projector, "Variables")
    assert abs(offset_once_restored(projector, left_at) - left_at) <= 2
    open_page(projector, "Build")
    assert offset_once_restored(projector, 0) == 0  # seen before but never scrolled


def test_the_train_page_opens_where_it_was_left_while_it_trains(projector, server):
    goto(projector, server)
    open_page(projector, "Train")
    start_training(projector, 500)
    wait_for_text(projector, "stMain", "Stop")
    wait_idle(projector)
    left_at = scroll_down(projector, 600)  # past the live view, which comes first while it trains
    projector.locator('[data-testid="stSidebar"] [data-testid="stPageLink"]').get_by_text("3. See what it").click()
    projector.wait_for_url(lambda url: urlparse(url).path == "/results", timeout=HANG_S * 1000)
    wait_idle(projector)
    open_page(projector, "Train")
    assert "Stop" in projector.locator(MAIN).inner_text()  # still training
    assert abs(offset_once_restored(projector, left_at) - left_at) <= 2
    projector.get_by_role("button", name="Stop").click()
    wait_for_text(projector, "stSidebar", "Stopped")
