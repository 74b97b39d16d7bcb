"""The newcomer's path with the defaults, timed, in a real browser; saves the README screenshots.

Opens the dashboard, chooses AutoEncoder, trains it with the default settings on the bundled
sample, and waits for the reconstructions: the path DEVELOPERS and issue 3 ask to time.
Then trains the default MLP the same way for the predictions screenshots.

    .venv/bin/python scripts/newcomer_path.py [--out docs]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser_support import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    goto,
    open_page,
    start_server,
    stop_server,
    wait_for_sidebar,
    wait_idle,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    proc, url = start_server()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            tic = time.monotonic()
            goto(page, url)
            loaded = time.monotonic() - tic
            page.get_by_role("radio", name="AutoEncoder").click()
            wait_idle(page)
            page.screenshot(path=str(args.out / "screenshot-build.png"))
            open_page(page, "Train")
            page.get_by_role("button", name="Start training").click()
            wait_for_sidebar(page, "Finished", timeout=300)
            wait_idle(page)
            trained = time.monotonic() - tic
            page.screenshot(path=str(args.out / "screenshot-train.png"))
            open_page(page, "Results")
            done = time.monotonic() - tic
            page.screenshot(path=str(args.out / "screenshot-results.png"))
            print(
                f"page loaded {loaded:.1f} s; autoencoder trained (10 epochs, defaults) {trained:.1f} s; "
                f"reconstructions on screen {done:.1f} s after opening the page (clicks: AutoEncoder, Train, "
                "Start training, Results)"
            )
            open_page(page, "Build")
            page.get_by_role("radio", name="MLP classifier").click()
            wait_idle(page)
            open_page(page, "Train")
            page.get_by_role("button", name="Start training").click()
            wait_for_sidebar(page, "Finished", timeout=300)
            open_page(page, "Results")
            page.screenshot(path=str(args.out / "screenshot-predictions.png"))
            browser.close()
    finally:
        stop_server(proc)


if __name__ == "__main__":
    main()
