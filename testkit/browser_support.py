"""Helpers for the Playwright tests, the browser benchmarks and the screenshot scripts (import as
``testkit.browser_support``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

from testkit.waits import HANG_S

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


@contextmanager
def launch_chromium() -> Iterator:
    """Debian's Chromium through Playwright, with the arguments every browser test, benchmark and
    screenshot script uses; closed (and Playwright's driver ended) on leaving."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
#: how long a click on a page link or a tab is given before it is clicked again (not a deadline: the whole
#: wait ends only after HANG_S)
RECLICK_S = 30


def again_until_it_lands(
    act: Callable[[], object], landed: Callable[[float], object], between: Callable[[], object] | None = None
) -> None:
    """``act()`` (a click), then ``landed(timeout_ms)`` waits for its effect; a click that meets a redraw can
    be lost, so a visitor acts again, and so does this, every ``RECLICK_S`` (``between()`` first, if given)
    until ``HANG_S`` has passed: then the last wait's TimeoutError is raised."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    deadline = time.monotonic() + HANG_S
    while True:
        act()
        try:
            landed(RECLICK_S * 1000)
            return
        except PlaywrightTimeout:
            if time.monotonic() > deadline:
                raise
            if between is not None:
                between()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """``streamlit run app.py`` on a free loopback port; returns (process, base URL) once healthy."""
    port = free_port()
    (ROOT / "artifacts").mkdir(exist_ok=True)
    env = {
        **os.environ,
        "JAX_PLATFORMS": "cpu",
        "FLAX_DASHBOARD_JAX_CACHE": str(ROOT / ".cache" / "jax"),
        **(extra_env or {}),
    }
    log = open(ROOT / "artifacts" / f"streamlit-{port}.log", "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
            "--server.headless", "true", "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none", "--runner.postScriptGC", "false",
        ],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}; see {log.name}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise RuntimeError("streamlit did not become healthy within 90 s")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def wait_idle(page, timeout: float = 60) -> None:
    """Wait until Streamlit has finished the current script run and the page stopped changing.

    The script state flips to notRunning when the server is done; the browser may still be
    drawing what arrived, so also wait until the page text is the same twice, 250 ms apart.
    """
    page.wait_for_selector(IDLE, timeout=HANG_S * 1000)  # a script run on a slow machine: only a hang ends this
    deadline = time.monotonic() + timeout
    before = None
    while time.monotonic() < deadline:
        page.wait_for_timeout(250)
        now = page.locator('[data-testid="stApp"]').inner_text()
        if now == before and page.locator(IDLE).count():
            return
        before = now


def goto(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector('[data-testid="stSidebar"]', timeout=HANG_S * 1000)
    wait_idle(page)


def open_page(page, title: str) -> None:
    """Click a page in the sidebar navigation and wait until it is the current page and drawn.

    The link is marked current as soon as it is clicked, while the previous page's finished run
    still shows "not running"; the address changes only when the server starts the new page's
    run, so wait for that before waiting for the run to end.
    """
    link = page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title, exact=True)
    target = urlparse(link.get_attribute("href")).path

    def landed(timeout_ms: float) -> None:
        page.wait_for_function(
            "el => el.getAttribute('aria-current') === 'page'", arg=link.element_handle(), timeout=timeout_ms
        )
        page.wait_for_url(lambda url: urlparse(url).path == target, timeout=timeout_ms)

    # Streamlit can drop a page click that lands while a fragment's own rerun of the whole page (a training
    # that has just ended) is queued: the menu marks the page, then the old page comes back
    again_until_it_lands(link.click, landed, between=lambda: wait_idle(page))
    wait_idle(page)


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def region_text(page, testid: str) -> str:
    """The text of one part of the page: ``stSidebar`` or ``stMain``."""
    return page.locator(f'[data-testid="{testid}"]').inner_text()


def sidebar_text(page) -> str:
    return region_text(page, "stSidebar")


def main_text(page) -> str:
    return region_text(page, "stMain")


def wait_for_text(page, testid: str, words: str, timeout: float = HANG_S) -> str:
    """Poll a part of the page until it contains ``words`` (live panels refresh once a second)."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = region_text(page, testid)
        if words in text:
            return text
        time.sleep(0.5)
    raise AssertionError(f"{testid} never showed {words!r}; last text: {text[-2000:]!r}")


def wait_for_sidebar(page, words: str, timeout: float = HANG_S) -> str:
    """Poll the sidebar until it contains ``words`` (training status updates live)."""
    return wait_for_text(page, "stSidebar", words, timeout)


def no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator(
        '[data-testid="stException"]'
    ).first.inner_text()


#: how many script runs this page has finished (counted in the browser from the first call on)
RUNS_ENDED = """() => {
  if (window.__runs_ended === undefined) {
    window.__runs_ended = 0;
    new MutationObserver(records => {
      for (const r of records) if (r.oldValue === 'running') window.__runs_ended++;
    }).observe(document, {subtree: true, attributes: true, attributeOldValue: true,
                          attributeFilter: ['data-test-script-state']});
  }
  return window.__runs_ended;
}"""


def set_number(field, value: float) -> None:
    """Type ``value`` into a number field outside a form and press Enter, as a visitor does; wait for
    the run it causes.

    Right after a page is drawn (a server's first visitor, two servers on two cores), Streamlit can
    take a second or more to start that run, so being idle is not enough: wait until a run has ended
    since the Enter. If none came, press Enter again; if the field lost the value (seen once in CI on a
    server's first page: the field showed its old width again), type it once more, as a visitor would.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page = field.page
    deadline, retyped = time.monotonic() + HANG_S, 0
    ended = page.evaluate(RUNS_ENDED)
    field.fill(str(value))
    field.press("Enter")
    while True:
        try:
            page.wait_for_function(f"() => window.__runs_ended > {ended}", timeout=RECLICK_S * 1000)
        except PlaywrightTimeout:
            if time.monotonic() > deadline:
                raise
            if float(field.input_value() or "nan") == float(value):
                field.press("Enter")  # typed but not sent: Enter again
                continue
        else:
            wait_idle(page)
            if float(field.input_value() or "nan") == float(value):
                return
        retyped += 1
        if retyped > 1:
            raise AssertionError(f"the field shows {field.input_value()!r} after typing {value!r} twice")
        ended = page.evaluate(RUNS_ENDED)  # the field lost the value: type it once more, as a visitor would
        field.fill(str(value))
        field.press("Enter")


def start_training(page, epochs: int) -> None:
    """On the Train page (open in this visitor's session), start a run of ``epochs`` epochs.

    The settings are a form that Enter does not submit (no run follows it): the button sends them.
    """
    field = page.get_by_role("spinbutton", name="Epochs").first
    field.fill(str(epochs))
    field.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Start training").click()


def train_on_page(page, epochs: int) -> str:
    """Open Train, train the current model for ``epochs`` epochs, wait for it; returns the sidebar text."""
    open_page(page, "Train")
    start_training(page, epochs)
    text = wait_for_sidebar(page, "Finished", timeout=180)
    wait_idle(page)
    return text


#: the tab is selected and its panel has content
TAB_DRAWN = """el => {
    if (el.getAttribute('aria-selected') !== 'true') return false;
    const panel = document.getElementById(el.getAttribute('aria-controls'));
    return panel !== null && panel.innerText.trim().length > 0;
}"""


def open_tab(page, label: str) -> None:
    """Click a tab and wait for the rerun that draws it (tabs are lazy: only the open one is drawn).

    Idleness alone is not enough: right after the click the previous run's "not running" state is
    still shown, so also wait until the tab is selected and its panel has content.
    """
    tab = page.get_by_role("tab", name=label)
    # a click that lands while a rerun redraws the tab list can be lost
    again_until_it_lands(
        tab.click, lambda timeout_ms: page.wait_for_function(TAB_DRAWN, arg=tab.element_handle(), timeout=timeout_ms)
    )
    wait_idle(page)


#: in the browser, from the first moment: when the first script run of the page ended, in ms
#: since the request (``performance.now()``), with the main area drawn
RECORD_FIRST_RUN = """
new MutationObserver((_, observer) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app) return;
  const state = app.getAttribute('data-test-script-state');
  if (state === 'running') window.__ran = true;
  if (window.__ran && state === 'notRunning' && document.querySelector('[data-testid="stMain"] button')) {
    window.__interactive_ms = performance.now();
    observer.disconnect();
  }
}).observe(document, {subtree: true, childList: true, attributes: true});
"""


def first_visit(browser, url: str) -> tuple[list[list[str]], float]:
    """One new visitor opens ``url``: (the page names of every menu the server sent it, seconds
    from the request until its first page was drawn and idle, i.e. interactive).

    The menus are read from the websocket's messages themselves (``ForwardMsg.navigation``), so
    a menu that was replaced before the browser drew it still counts.
    """
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    menus: list[list[str]] = []

    def on_message(payload) -> None:
        if isinstance(payload, bytes):
            message = ForwardMsg.FromString(payload)
            if message.WhichOneof("type") == "navigation":
                menus.append([page.page_name for page in message.navigation.app_pages])

    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.add_init_script(RECORD_FIRST_RUN)
    page = context.new_page()
    page.on("websocket", lambda ws: ws.on("framereceived", on_message))
    try:
        page.goto(url)
        page.wait_for_function("window.__interactive_ms !== undefined", timeout=HANG_S * 1000)
        seconds = page.evaluate("window.__interactive_ms") / 1000
        wait_idle(page)
    finally:
        context.close()
    return menus, seconds


def choose_data(page, option: str) -> None:
    """On the Train page: unfold "Images to learn from" (folded away since the page puts Start first)
    and pick ``option`` (e.g. "Your own images (a .zip of class folders)")."""
    choice = page.get_by_text(option)
    if not choice.is_visible():
        page.get_by_text("Images to learn from:").first.click()
    deadline = time.monotonic() + HANG_S
    while True:
        choice.click()
        wait_idle(page)
        # twice in CI, on a loaded machine right after the page opened, the page came back with the old
        # choice (the next step then waited 600 s for the zip's uploader): a visitor clicks again, so does this
        if page.get_by_role("radio", name=option).is_checked() or time.monotonic() > deadline:
            break
