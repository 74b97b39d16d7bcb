"""Issue 30 in Chromium, as a first-time visitor and a projector audience see it: at 1280x720 and on a
390x844 phone, measured on the rendered page."""

from __future__ import annotations

import pytest

from testkit.browser_support import main_text, screenshot, set_number, wait_idle
from testkit.waits import HANG_S

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROJECTOR = {"width": 1280, "height": 720}
PHONE = {"width": 390, "height": 844}

#: every word of a key number broken across two lines ("535,81 / 8", "operati / ons"), or a number wider
#: than its column
BROKEN_NUMBERS = """() => {
  const out = [];
  for (const value of document.querySelectorAll('[data-testid="stMetricValue"]')) {
    const walker = document.createTreeWalker(value, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const m of node.data.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set(Array.from(range.getClientRects()).map(r => Math.round(r.top)));
        if (lines.size > 1) out.push(m[0]);
      }
    }
    const column = value.closest('[data-testid="stColumn"]');
    if (column && value.getBoundingClientRect().right > column.getBoundingClientRect().right + 1) {
      out.push('wider than its column: ' + value.innerText);
    }
  }
  return out; }"""
#: buttons (the kind of model's too) cut by their own box or by their column
CLIPPED_BUTTONS = """() => Array.from(document.querySelectorAll('[data-testid="stMain"] button'))
  .filter(b => b.offsetParent)
  .filter(b => { const column = b.closest('[data-testid="stColumn"]'), box = b.getBoundingClientRect();
                 return b.scrollWidth > b.clientWidth + 1
                     || (column && box.right > column.getBoundingClientRect().right + 1); })
  .map(b => b.innerText)"""


@pytest.fixture(params=[PROJECTOR, PHONE], ids=["projector", "phone"])
def screen(browser, request):
    phone = request.param == PHONE
    context = browser.new_context(viewport=request.param, is_mobile=phone, has_touch=phone)
    page = context.new_page()
    page.screen_name = request.node.callspec.id
    yield page
    context.close()


def open_build(page, server: str) -> None:
    """The first page, as a visitor opens it (on a phone the sidebar starts folded away)."""
    page.goto(server)
    page.wait_for_selector('[data-testid="stMain"] [data-testid="stNumberInput"]', timeout=HANG_S * 1000)
    wait_idle(page)


def test_a_width_of_2_5_is_refused_with_a_reason_not_cut_to_2(screen, server):
    open_build(screen, server)
    field = screen.get_by_role("spinbutton", name="units").first
    field.scroll_into_view_if_needed()
    set_number(field, 2.5)
    screenshot(screen, f"room-width-2.5-{screen.screen_name}")
    text = main_text(screen)
    assert "must be a whole number, got 2.5" in text, text[:600]
    assert "535,818" in text  # the model keeps its last valid shape


@pytest.mark.parametrize("viewport", [PROJECTOR, {"width": 1440, "height": 900}], ids=["1280x720", "1440x900"])
def test_no_key_number_breaks_inside_a_word_and_no_button_is_cut(browser, server, viewport):
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    try:
        open_build(page, server)
        page.locator('[data-testid="stMetricValue"]').nth(2).wait_for()
        for mode in ("normal", "presenter"):
            if mode == "presenter":
                page.get_by_text("Presenter mode").click()
                wait_idle(page)
            screenshot(page, f"room-build-{mode}-{viewport['width']}")
            assert page.evaluate(BROKEN_NUMBERS) == [], mode
            assert page.evaluate(CLIPPED_BUTTONS) == [], mode
    finally:
        context.close()
