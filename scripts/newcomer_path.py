"""The newcomer's path with the defaults, timed, in a real browser; saves the README screenshots.

Opens the dashboard, chooses AutoEncoder, trains it with the default settings on the bundled
sample, and waits for the reconstructions: the path DEVELOPERS and issue 3 ask to time.
Then trains the default MLP the same way for the predictions screenshots.

    .venv/bin/python scripts/newcomer_path.py [--out docs] [--size 1280x720] [--presenter]

The README's screenshots are taken at a projector's 1280x720, once in normal mode and once in
presenter mode (``--presenter``, saved with a ``-presenter`` suffix).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from testkit.browser_support import (  # noqa: E402
    goto,
    launch_chromium,
    open_page,
    start_server,
    stop_server,
    wait_for_sidebar,
    wait_idle,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--size", default="1280x720", help="browser window, WIDTHxHEIGHT")
    parser.add_argument("--presenter", action="store_true", help="switch presenter mode on first")
    args = parser.parse_args()
    width, height = (int(x) for x in args.size.lower().split("x"))
    suffix = "-presenter" if args.presenter else ""
    args.out.mkdir(parents=True, exist_ok=True)
    proc, url = start_server()
    try:
        with launch_chromium() as browser:
            page = browser.new_page(viewport={"width": width, "height": height})
            tic = time.monotonic()
            goto(page, url)
            loaded = time.monotonic() - tic
            if args.presenter:
                page.get_by_text("Presenter mode").click()
                wait_idle(page)
            page.get_by_role("radio", name="AutoEncoder").click()
            wait_idle(page)
            page.screenshot(path=str(args.out / f"screenshot-build{suffix}.png"))
            open_page(page, "Train")
            page.get_by_role("button", name="Start training").click()
            wait_for_sidebar(page, "Finished", timeout=300)
            wait_idle(page)
            trained = time.monotonic() - tic
            page.screenshot(path=str(args.out / f"screenshot-train{suffix}.png"))
            open_page(page, "Results")
            done = time.monotonic() - tic
            page.screenshot(path=str(args.out / f"screenshot-results{suffix}.png"))
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
            page.screenshot(path=str(args.out / f"screenshot-predictions{suffix}.png"))
    finally:
        stop_server(proc)


if __name__ == "__main__":
    main()
