"""Browser tests: Playwright drives Debian's Chromium against ``streamlit run app.py`` on loopback.

Screenshots go to ``artifacts/screenshots`` (kept by CI as test artifacts). Chromium is not
downloaded by Playwright here: it comes from ``apt-get install chromium``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from testkit.browser_support import ARTIFACTS, CHROMIUM, ROOT, launch_chromium, start_server, stop_server

pytestmark = pytest.mark.browser

#: how long an ``expect(...)`` waits for what it asserts: two servers and two Chromiums share two cores
#: in CI, so a page may draw a few seconds late; a page that never draws it still fails
EXPECT_TIMEOUT_MS = 30_000


@pytest.fixture(scope="session", autouse=True)
def expect_timeout() -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    (ROOT / "artifacts").mkdir(exist_ok=True)
    proc, url = start_server()
    yield url
    stop_server(proc)


@pytest.fixture(scope="module")
def strict_server():
    """A server of the test module's own whose runs stop 2 s after their tab closes, at most 2 trainings at once."""
    proc, url = start_server({"FLAX_DASHBOARD_TAB_GRACE_S": "2", "FLAX_DASHBOARD_MAX_TRAININGS": "2"})
    yield proc, url
    stop_server(proc)


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    with launch_chromium() as b:
        yield b


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"), full_page=True)
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
