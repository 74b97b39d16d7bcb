"""The language in a real browser: a Japanese browser gets Japanese, the link keeps it, the switch works."""

from __future__ import annotations

import pytest

from testkit.browser_support import goto, no_exception, region_text, wait_for_sidebar, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_japanese_browser_reads_japanese_and_can_switch(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 720}, locale="ja-JP")
    page = context.new_page()
    try:
        goto(page, server)
        wait_for_sidebar(page, "進め方")
        menu = region_text(page, "stSidebarNav")
        assert "構築" in menu and "学習" in menu and "Build" not in menu, menu
        assert "lang=ja" in page.url, page.url
        page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
        page.get_by_role("option", name="English").click()
        wait_idle(page)
        wait_for_sidebar(page, "Your path")
        assert "Build" in region_text(page, "stSidebarNav")
        assert "lang=" not in page.url, page.url
        no_exception(page)
    finally:
        context.close()
