"""The newcomer's path with the defaults, timed, in a real browser; saves the README screenshots.

Opens the dashboard, chooses AutoEncoder, trains it with the default settings on the bundled
sample, and waits for the reconstructions: the path DEVELOPERS and issue 3 ask to time.
Then trains the default MLP the same way for the predictions screenshots.

    .venv/bin/python scripts/newcomer_path.py [--out docs] [--size 1280x720] [--presenter]
    .venv/bin/python scripts/newcomer_path.py --phone     # the first page on a 390x844 phone
    .venv/bin/python scripts/newcomer_path.py --japanese  # Build, Train and Inside in Japanese

The README's screenshots are taken at a projector's 1280x720, once in normal mode and once in
presenter mode (``--presenter``, saved with a ``-presenter`` suffix), and the first page on a phone.
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
    parser.add_argument("--phone", action="store_true", help="only the first page, on a 390x844 phone")
    parser.add_argument("--japanese", action="store_true", help="Build, Train and Inside in Japanese (?lang=ja)")
    args = parser.parse_args()
    if args.phone:
        phone_screenshot(args.out)
        return
    if args.japanese:
        japanese_screenshots(args.out)
        return
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


def phone_screenshot(out: Path) -> None:
    """The Build page as a phone shows it first (its sidebar folded away): ``screenshot-phone.png``."""
    out.mkdir(parents=True, exist_ok=True)
    proc, url = start_server()
    try:
        with launch_chromium() as browser:
            context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
            page = context.new_page()
            page.goto(url)
            page.wait_for_selector('[data-testid="stMain"] [data-testid="stMetricValue"]', timeout=300_000)
            wait_idle(page)
            page.screenshot(path=str(out / "screenshot-phone.png"))
            context.close()
    finally:
        stop_server(proc)


def japanese_screenshots(out: Path) -> None:
    """The default MLP built, trained and looked inside, in Japanese at 1280x720: ``screenshot-ja-*.png``.
    The pages are found by their Japanese names, read from the catalogue."""
    from core.i18n import translations

    ja = translations("ja").gettext
    out.mkdir(parents=True, exist_ok=True)
    proc, url = start_server()
    try:
        with launch_chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 720}, locale="ja-JP")
            goto(page, url + "?lang=ja")
            page.screenshot(path=str(out / "screenshot-ja-build.png"))
            open_page(page, ja("Train"))
            page.get_by_role("button", name=ja("Start training")).click()
            wait_for_sidebar(page, ja("Finished"), timeout=300)
            wait_idle(page)
            page.screenshot(path=str(out / "screenshot-ja-train.png"))
            open_page(page, ja("Inside"))
            page.screenshot(path=str(out / "screenshot-ja-inside.png"))
    finally:
        stop_server(proc)


if __name__ == "__main__":
    main()
