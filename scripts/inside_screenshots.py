"""Screenshots of the Inside page and of a training watched live, for the README.

Trains the default MLP for 3 epochs, opens Inside on a test 7, clicks a unit of the diagram
(docs/screenshot-inside.png, docs/screenshot-inside-unit.png); then starts the default
autoencoder for 40 epochs and shows the Train page while it learns (docs/screenshot-watch.png).

    .venv/bin/python scripts/inside_screenshots.py [--out docs]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from testkit.browser_support import (  # noqa: E402
    goto,
    launch_chromium,
    open_page,
    start_server,
    start_training,
    stop_server,
    train_on_page,
    wait_for_text,
    wait_idle,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    proc, url = start_server()
    try:
        with launch_chromium() as browser:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            goto(page, url)
            train_on_page(page, epochs=3)
            open_page(page, "Inside")
            page.locator(".st-key-inside-class").get_by_role("combobox").click()
            page.get_by_role("option", name="7", exact=True).click()
            wait_idle(page)
            page.get_by_text("2. Every layer's output").scroll_into_view_if_needed()
            page.screenshot(path=str(args.out / "screenshot-inside.png"))
            traces = page.locator(".st-key-inside-diagram .scatterlayer .trace")
            columns = [i for i in range(traces.count()) if traces.nth(i).locator("path.point").count()]
            dot = traces.nth(columns[0]).locator("path.point").nth(37)
            dot.scroll_into_view_if_needed()
            box = dot.bounding_box()
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.get_by_text("unit 37:").first.wait_for(timeout=30_000)
            wait_idle(page)
            page.get_by_text("3. The network as a diagram").scroll_into_view_if_needed()
            page.mouse.wheel(0, 300)
            page.wait_for_timeout(500)
            page.screenshot(path=str(args.out / "screenshot-inside-unit.png"))

            open_page(page, "Build")
            page.get_by_role("radio", name="AutoEncoder").click()
            wait_idle(page)
            open_page(page, "Train")
            start_training(page, epochs=40)
            wait_for_text(page, "stMain", "The model after", timeout=180)
            page.wait_for_timeout(6000)  # a few epochs in: the map has begun to sort the digits
            page.get_by_text("Watch the model learn").scroll_into_view_if_needed()
            page.screenshot(path=str(args.out / "screenshot-watch.png"))
            page.get_by_role("button", name="Stop").click()
    finally:
        stop_server(proc)


if __name__ == "__main__":
    main()
