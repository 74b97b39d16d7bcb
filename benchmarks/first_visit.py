"""``python -m benchmarks.first_visit [--size small|full] [--json out.json]``: the first visit.

Each round starts a fresh ``streamlit run app.py`` with an empty compile cache, and the moment it
answers its health check a new visitor opens the page in Chromium (already running, as a
visitor's browser would be). Printed: seconds from the health check's answer until that first
page was drawn and idle (interactive), the same for a second visitor right after, how long the
server took to answer at all, and whether any visitor was sent a menu other than the dashboard's
own. Target: the first visitor interactive within 2.5 s. Needs ``apt-get install chromium``.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from benchmarks.throughput import benchmark_parser, machine_info, report_benchmark
from components.frame import PAGE_FILES
from testkit.browser_support import CHROMIUM, first_visit, launch_chromium, start_server, stop_server

TARGET_S = 2.5
TITLES = [title for title, _ in PAGE_FILES.values()]


@dataclass(frozen=True)
class FirstVisitSize:
    name: str
    rounds: int


SIZES = {"small": FirstVisitSize("small", rounds=1), "full": FirstVisitSize("full", rounds=3)}


def measure_round(browser) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as cache:
        tic = time.monotonic()
        proc, url = start_server({"FLAX_DASHBOARD_JAX_CACHE": cache})
        healthy_s = time.monotonic() - tic
        try:
            first_menus, first_s = first_visit(browser, url)
            second_menus, second_s = first_visit(browser, url)
        finally:
            stop_server(proc)
    return {
        "server_healthy_s": healthy_s,
        "first_visitor_s": first_s,
        "second_visitor_s": second_s,
        "first_visitor_menus": first_menus,  # the page names of every menu each visitor was sent
        "second_visitor_menus": second_menus,
    }


def run_benchmark(size: FirstVisitSize) -> dict[str, Any]:
    if not os.path.exists(CHROMIUM):
        return {"skipped": f"{CHROMIUM} is missing: apt-get install chromium"}
    with launch_chromium() as browser:
        rounds = [measure_round(browser) for _ in range(size.rounds)]
    return {"machine": machine_info(), "size": size.name, "target_s": TARGET_S, "rounds": rounds}


def format_report(report: dict[str, Any]) -> str:
    if "skipped" in report:
        return f"first visit: skipped ({report['skipped']})"
    rounds = report["rounds"]

    def column(key: str) -> str:
        values = [r[key] for r in rounds]
        return f"median {statistics.median(values):.2f} s, worst {max(values):.2f} s"

    wrong = sum(m != TITLES for r in rounds for m in r["first_visitor_menus"] + r["second_visitor_menus"])
    return "\n".join(
        [
            f"first visit, empty compile cache, {len(rounds)} fresh server(s):",
            f"  server answers its health check after start: {column('server_healthy_s')}",
            f"  first visitor interactive after the health check: {column('first_visitor_s')}"
            f" (target < {report['target_s']} s)",
            f"  second visitor interactive: {column('second_visitor_s')}",
            f"  menus other than the dashboard's own sent to a visitor: {wrong}",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser("python -m benchmarks.first_visit", __doc__, "one fresh server (CI)")
    args = parser.parse_args(argv)
    report_benchmark(args, SIZES, run_benchmark, format_report)


if __name__ == "__main__":
    main()
