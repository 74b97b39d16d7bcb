"""Issue 15 in Chromium at a 1280x720 projector size: key numbers not shrunk, no text cut, icons drawn,
the live view on screen after Start, no request leaving the machine, and a phone's sidebar folded after a link."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from testkit.browser_support import goto, main_text, no_exception, open_page, wait_for_text, wait_idle
from testkit.waits import HANG_S

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROJECTOR = {"width": 1280, "height": 720}

#: text boxes Streamlit ends with "…" when they do not fit: metric labels and values, buttons, widget labels
CUT_TEXT = """() => Array.from(document.querySelectorAll(
    '[data-testid="stMetricLabel"] .stMarkdownEllipsis, [data-testid="stMetricValue"] .stMarkdownEllipsis, '
    + '[data-testid="stButton"] .stMarkdownEllipsis, [data-testid="stWidgetLabel"] .stMarkdownEllipsis'))
  .filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)
  .map(e => e.innerText)"""
METRIC_SIZES = """() => Array.from(document.querySelectorAll('[data-testid="stMetricValue"] p'))
  .map(e => parseFloat(getComputedStyle(e).fontSize))"""
CLIPPED_ICONS = """async () => { await document.fonts.ready;
  return Array.from(document.querySelectorAll('[data-testid="stButton"] button'))
  .filter(b => b.getBoundingClientRect().width > 0)  // Streamlit keeps a hidden copy of each button
  .filter(b => b.querySelector('[role="img"]') && !b.innerText.replace(/[a-z_]+/, '').trim())
  .filter(b => { const i = b.querySelector('[role="img"]').getBoundingClientRect(), r = b.getBoundingClientRect(),
                       c = b.closest('[data-testid="stColumn"]').getBoundingClientRect();
                 return i.width < 12 || i.left < r.left || i.right > r.right || r.left < c.left - 0.5
                        || r.right > c.right + 0.5; })
  .map(b => b.closest('[class*="st-key-"]').className); }"""
TICK_SIZES = """() => Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"] .xtick text'))
  .map(e => parseFloat(getComputedStyle(e).fontSize))"""
STEPPERS = """() => Array.from(document.querySelectorAll(
    '[class*="st-key-build-hidden-"] [data-testid="stNumberInput"]'))
  .map(n => n.querySelectorAll('button').length)"""


@pytest.fixture
def projector(browser):
    context = browser.new_context(viewport=PROJECTOR)
    yield context.new_page()
    context.close()


def test_presenter_mode_keeps_the_key_numbers_big_and_cuts_no_text_at_1280(projector, server):
    goto(projector, server)
    projector.locator('[data-testid="stMetricValue"]').nth(2).wait_for(timeout=HANG_S * 1000)  # a cold server is slow
    normal = projector.evaluate(METRIC_SIZES)
    assert len(normal) == 3 and min(normal) >= 30, normal
    assert projector.evaluate(CUT_TEXT) == []
    assert projector.evaluate(CLIPPED_ICONS) == []  # move up / move down / delete show their icons
    assert projector.evaluate(STEPPERS) == [3, 3]  # each width field: the value, then its - and + steppers
    projector.get_by_text("Presenter mode").click()
    wait_idle(projector)
    presenter = projector.evaluate(METRIC_SIZES)
    assert min(presenter) >= max(normal), (normal, presenter)
    assert projector.evaluate(CUT_TEXT) == []
    assert projector.evaluate(CLIPPED_ICONS) == []
    open_page(projector, "Results")
    no_exception(projector)
    open_page(projector, "Build")
    projector.locator('[data-testid="stPlotlyChart"] .xtick text').first.wait_for()
    ticks = projector.evaluate(TICK_SIZES)
    assert ticks and min(ticks) >= 16, ticks  # chart labels grow with the rest (plotly draws 12 px)
    projector.get_by_text("Presenter mode").click()
    wait_idle(projector)
    assert max(projector.evaluate(TICK_SIZES)) < 16  # and are back to plotly's own size after it


def test_enter_does_not_start_and_the_live_view_is_on_screen_after_start_at_1280x720(projector, server):
    goto(projector, server)
    open_page(projector, "Train")
    field = projector.get_by_role("spinbutton", name="Epochs").first
    field.fill("50")
    field.press("Enter")
    wait_idle(projector)
    assert "No run yet" in main_text(projector)  # Enter in a field starts nothing
    projector.get_by_role("button", name="Start training").click()
    wait_for_text(projector, "stMain", "Stop")
    wait_idle(projector)
    progress = projector.locator('[data-testid="stMain"] [data-testid="stProgress"]').first
    box = progress.bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= PROJECTOR["height"], box
    assert projector.get_by_role("button", name="Start training").is_disabled()
    projector.get_by_role("button", name="Stop").click()
    wait_for_text(projector, "stSidebar", "Stopped")


def test_no_request_leaves_the_machine(browser, server):
    context = browser.new_context(viewport=PROJECTOR)
    page = context.new_page()
    hosts: set[str] = set()
    page.on("request", lambda request: request.url.startswith("data:") or hosts.add(urlparse(request.url).hostname))
    goto(page, server)
    for title in ("Variables", "Train", "Results", "Width sweep", "Explore", "Draw"):
        open_page(page, title)
    page.wait_for_timeout(1000)
    context.close()
    assert hosts == {"127.0.0.1"}, hosts  # the tab icon and fonts included


def test_a_deep_link_opens_its_page_and_no_request_fails(page, server):
    """Opened at /train, Streamlit's front end used to ask /train/_stcore/health and host-config first (two
    404s in the console on every deep link) before finding the server at /."""
    failed: list[str] = []
    page.on("response", lambda response: response.status >= 400 and failed.append(f"{response.status} {response.url}"))
    for path, title in (("/train", "Train"), ("/results/", "Predictions"), ("/", "Build a model")):
        goto(page, f"{server}{path}")
        assert main_text(page).split("\n")[0].endswith(title)
        assert page.evaluate("window.__streamlit.BACKEND_BASE_URL") == server + "/"
    open_page(page, "Inside")  # the menu still leads to the other pages
    assert urlparse(page.url).path == "/inside"
    assert failed == []
    # a mistyped address is left to Streamlit, which finds its server and opens the first page
    goto(page, f"{server}/no-such-page")
    assert main_text(page).split("\n")[0].endswith("Build a model")


def test_on_a_phone_the_parameter_count_is_on_screen_with_the_width_field(browser, server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(server)  # on a phone the sidebar starts folded away
    page.wait_for_selector('[data-testid="stMain"] [data-testid="stNumberInput"]', timeout=HANG_S * 1000)
    wait_idle(page)
    field = page.get_by_role("spinbutton", name="units").first
    field.scroll_into_view_if_needed()
    count = page.get_by_text("535,818 parameters in total").first
    top, below = field.bounding_box(), count.bounding_box()
    context.close()
    assert below["y"] + below["height"] - top["y"] <= 844, (top, below)  # both on one phone screen


SIDEBAR_OPEN = "() => document.querySelector('[data-testid=\"stSidebar\"]').getBoundingClientRect().width > 0"


@pytest.mark.parametrize(
    "viewport", [{"width": 390, "height": 844}, {"width": 1280, "height": 720}], ids=["phone", "projector"]
)
def test_a_your_path_link_folds_the_sidebar_away_on_a_phone_only(browser, server, viewport):
    phone = viewport["width"] < 768
    context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone)
    page = context.new_page()
    page.goto(server)
    page.wait_for_selector('[data-testid="stMain"] [data-testid="stNumberInput"]', timeout=HANG_S * 1000)
    wait_idle(page)
    if phone:  # on a phone the sidebar starts folded away, over the page once opened
        assert not page.evaluate(SIDEBAR_OPEN)
        page.locator('[data-testid="stExpandSidebarButton"]').click()
        page.wait_for_function(SIDEBAR_OPEN)
    page.locator('[data-testid="stSidebar"] [data-testid="stPageLink"]').get_by_text("2. Train it").click()
    page.wait_for_url(lambda url: urlparse(url).path == "/train", timeout=HANG_S * 1000)
    wait_idle(page)
    sidebar_open = page.evaluate(SIDEBAR_OPEN)
    context.close()
    assert sidebar_open is not phone  # the Train page is in view on a phone; a wide screen keeps its sidebar
