"""A closed tab ends its training, which is saved, and the server gives the memory back: in real browsers."""

from __future__ import annotations

import time

import pytest

from testkit.browser_support import goto, rss_mb, sidebar_text, start_training, wait_for_sidebar

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def running_on_server(observer, url: str) -> int:
    """Load the dashboard in an observer's tab and read the server-wide count from its sidebar.

    Each load is a new Streamlit session; the observer's browser cache keeps it quick.
    """
    goto(observer, url)
    text = sidebar_text(observer)
    return int(text.split("Trainings on this server: ")[1].split(" running")[0])


def test_closing_the_tab_ends_its_training_and_frees_memory(browser, strict_server):
    proc, url = strict_server
    observer = browser.new_context().new_page()
    sizes = []
    for _ in range(3):
        context = browser.new_context()
        page = context.new_page()
        goto(page, f"{url}/train")
        start_training(page, epochs=300)
        wait_for_sidebar(page, "Training: epoch")
        assert running_on_server(observer, url) == 1
        context.close()  # the visitor closes the tab mid-training
        # the server's grace is 2 s; allow for the current chunk of steps, the save and the page loads (on a
        # machine shared with another test's server): a training that kept running would go on for minutes
        deadline = time.monotonic() + 30
        while running_on_server(observer, url) != 0:
            assert time.monotonic() < deadline, "training kept running after its tab closed"
            time.sleep(1)
        sizes.append(rss_mb(proc.pid))
    observer.context.close()
    # repeated cycles must not pile up memory (each abandoned run is saved and dropped)
    assert sizes[-1] - sizes[0] < 150, sizes
