"""Issue 30 in Chromium, as a first-time visitor and a projector audience see it: at 1280x720 and on a
390x844 phone, measured on the rendered page."""

from __future__ import annotations

import pytest

from testkit.browser_support import main_text, screenshot, set_number, wait_idle
from testkit.waits import HANG_S

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROJECTOR = {"width": 1280, "height": 720}
PHONE = {"width": 390, "height": 844}


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
