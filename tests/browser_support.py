"""Helpers for the Playwright tests (import as ``tests.browser_support``)."""

from __future__ import annotations

import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts" / "screenshots"
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def wait_idle(page, timeout: float = 60) -> None:
    """Wait until Streamlit has finished the current script run (and give the DOM a moment)."""
    page.wait_for_selector(IDLE, timeout=timeout * 1000)
    page.wait_for_timeout(300)
    page.wait_for_selector(IDLE, timeout=timeout * 1000)


def goto(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector('[data-testid="stSidebar"]', timeout=90_000)
    wait_idle(page)


def open_page(page, title: str) -> None:
    """Click a page in the sidebar navigation."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title).click()
    wait_idle(page)


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sidebar_text(page) -> str:
    return page.locator('[data-testid="stSidebar"]').inner_text()


def wait_for_sidebar(page, words: str, timeout: float = 120) -> str:
    """Poll the sidebar until it contains ``words`` (training status updates live)."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = sidebar_text(page)
        if words in text:
            return text
        time.sleep(0.5)
    raise AssertionError(f"sidebar never showed {words!r}; last text: {text!r}")


def no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator(
        '[data-testid="stException"]'
    ).first.inner_text()
