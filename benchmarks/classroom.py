"""``python -m benchmarks.classroom [--size small|full] [--json out.json]``: a class in real browsers.

The real server (``streamlit run app.py``) and real Chromium visitors (Playwright, Debian's
``/usr/bin/chromium``), as a class uses the dashboard: every visitor opens the Train page, keeps
its defaults (the default MLP on the bundled sample, live curves and "Watch the model learn" on)
and presses Start; 1, 2 and 4 visitors at once, their pages open and redrawing every second until
their runs end. Per run: the images it trained over the seconds from the first press of Start to
its final save (read from the server's runs folder, so what the visitor waited for, compile and
evaluations included), and the job's own images/s (training time only). Printed: the images/s of
all runs together against one run alone in the same round (targets: 2 at once >= 0.85x, 4 at once
>= 0.75x), fairness (slowest / fastest run; target: each within 25% of the others), the page
switches of a visitor who only browses while two trainings run (click in the menu until the new
page's title is drawn and the script idle: p50 and p90, target p90 < 1 s), and the first visit of
``benchmarks.first_visit`` (fresh servers, empty compile cache: target < 2.5 s, median). Also
printed: how many cores the server process and all Chromium processes kept busy meanwhile (on a
2-core machine the visitors' browsers take their share from training), and how many ``/media``
files a page asked for and did not get (404). Printed, never asserted. Linux (``/proc``); needs
``apt-get install chromium``.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import first_visit
from benchmarks.throughput import benchmark_parser, machine_info, report_benchmark
from testkit.browser_support import CHROMIUM, goto, launch_chromium, open_page, start_server, stop_server, wait_idle
from testkit.waits import HANG_S

TARGETS = {"ratio_2": 0.85, "ratio_4": 0.75, "fairness": 0.75, "switch_p90_s": 1.0, "first_visit_s": 2.5}
#: the pages a browsing visitor goes round: menu title -> the page's own title (its first heading)
BROWSED_PAGES = {
    "Build": "Build a model",
    "Variables": "Look inside the variables",
    "Train": "Train",
    "Results": "Predictions",
    "Inside": "Inside the network",
}
#: true once the current page is ``path``, shows ``heading`` in its main area and its script is idle
PAGE_SHOWN = """([path, heading]) => {
  const app = document.querySelector('[data-testid="stApp"]');
  const title = document.querySelector('[data-testid="stMain"] h1');
  return location.pathname === path && title !== null && title.innerText.includes(heading)
    && app.getAttribute('data-test-script-state') === 'notRunning';
}"""


@dataclass(frozen=True)
class ClassroomSize:
    name: str
    epochs: int  # of each timed run
    visitors: tuple[int, ...]  # how many train at once, per measure
    rounds: int  # of every measure, interleaved
    switches: int  # page switches timed while two trainings run
    first_visits: int  # fresh servers for the first visit


SIZES = {
    "small": ClassroomSize("small", epochs=2, visitors=(1, 2), rounds=1, switches=5, first_visits=1),
    "full": ClassroomSize("full", epochs=20, visitors=(1, 2, 4), rounds=2, switches=30, first_visits=3),
}


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU seconds these processes have used so far (Linux ``/proc``; gone ones count 0)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def browser_pids() -> list[int]:
    """This benchmark's Chromium processes (the visitors' renderers included): those started below this
    process (through Playwright's driver), not other programs' browsers on the machine."""
    parents = {}
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit():
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
    ours = {os.getpid()}
    while more := {pid for pid, parent in parents.items() if parent in ours and pid not in ours}:
        ours |= more
    return sorted(pid for pid in ours if pid != os.getpid() and _is_chromium(pid))


def _is_chromium(pid: int) -> bool:
    try:
        program = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0].decode(errors="replace")
    except OSError:
        return False
    return "chrom" in Path(program).name  # /usr/bin/chromium starts /usr/lib/chromium/chromium and its helpers


def final_saves(folder: Path) -> dict[str, dict[str, Any]]:
    """The summaries of the runs that have ended (their final save, not one made while training)."""
    found = {}
    for path in folder.glob("*.json"):
        try:
            summary = json.loads(path.read_text())
        except (OSError, ValueError):  # being replaced right now
            continue
        if not summary.get("in_progress"):
            found[path.stem] = summary
    return found


def wait_for_saves(folder: Path, known: set[str], count: int) -> list[dict[str, Any]]:
    """Wait until ``count`` runs not in ``known`` have ended; their summaries, in order of their ends."""
    deadline = time.monotonic() + HANG_S
    while time.monotonic() < deadline:
        new = {k: v for k, v in final_saves(folder).items() if k not in known}
        if len(new) >= count:
            return sorted(new.values(), key=lambda s: s["created"])
        time.sleep(0.2)
    raise RuntimeError(f"{count} runs did not end within {HANG_S} s")


def new_visitor(browser, missing: list[str]):
    """A new visitor's page; the ``/media`` files it asks for and does not get are added to ``missing``."""
    page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 and "/media/" in r.url else None)
    return page


def open_train_pages(browser, url: str, count: int, epochs: int, missing: list[str]) -> list:
    """``count`` new visitors, each on the Train page with ``epochs`` typed in and its other defaults."""
    pages = []
    for _ in range(count):
        page = new_visitor(browser, missing)
        goto(page, url)
        open_page(page, "Train")
        field = page.get_by_role("spinbutton", name="Epochs").first
        field.fill(str(epochs))
        field.press("Enter")
        wait_idle(page)
        pages.append(page)
    return pages


def close(pages: list) -> None:
    for page in pages:
        page.context.close()


def press_start(pages: list) -> float:
    """Every visitor presses Start, one right after another; returns the time of the first press."""
    buttons = [page.get_by_role("button", name="Start training") for page in pages]
    for button in buttons:
        button.wait_for()
    started = time.time()
    for button in buttons:
        button.click()
    return started


def train_together(browser, server_pid: int, url: str, runs: Path, count: int, epochs: int) -> dict[str, Any]:
    """``count`` visitors train at once, each watching its own run: per run, images/s as waited for and the
    job's own, with the steps and epochs each did; the CPU seconds the server and the browsers took meanwhile."""
    missing: list[str] = []
    pages = open_train_pages(browser, url, count, epochs, missing)
    try:
        known = set(final_saves(runs))
        browsers = browser_pids()
        server_cpu, browser_cpu = cpu_seconds([server_pid]), cpu_seconds(browsers)
        started = press_start(pages)
        saves = wait_for_saves(runs, known, count)
        server_cpu, browser_cpu = cpu_seconds([server_pid]) - server_cpu, cpu_seconds(browsers) - browser_cpu
        wall = time.time() - started
    finally:
        close(pages)
    images = [s["steps"] * s["batch_size"] for s in saves]
    return {
        "visitors": count,
        "epochs": [s["epochs_done"] for s in saves],
        "steps": [s["steps"] for s in saves],
        "images": images,
        "seconds": [s["created"] - started for s in saves],
        "images_per_s": [n / (s["created"] - started) for n, s in zip(images, saves, strict=True)],
        "job_images_per_s": [n / s["train_s"] for n, s in zip(images, saves, strict=True)],
        "media_not_found": len(missing),
        "wall_s": wall,
        "server_cpu_s": server_cpu,
        "browser_cpu_s": browser_cpu,
    }


def switch_titles(switches: int) -> list[str]:
    """The menu titles a browsing visitor clicks, in order: round the pages, starting after the first."""
    titles = list(BROWSED_PAGES)
    return [titles[(i + 1) % len(titles)] for i in range(switches)]


def switch_pages(page, switches: int) -> list[float]:
    """A visitor clicks round the pages in the menu: seconds from each click until the new page is shown and idle."""
    from urllib.parse import urlparse

    seconds = []
    for title in switch_titles(switches):
        link = page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title, exact=True)
        path = urlparse(link.get_attribute("href")).path
        tic = time.monotonic()
        link.click()
        page.wait_for_function(PAGE_SHOWN, arg=[path, BROWSED_PAGES[title]], timeout=HANG_S * 1000)
        seconds.append(time.monotonic() - tic)
        wait_idle(page)
    return seconds


def browse_while_training(browser, url: str, runs: Path, switches: int) -> dict[str, Any]:
    """Two visitors train (long runs, stopped afterwards) while a third one switches pages."""
    missing: list[str] = []
    trainers = open_train_pages(browser, url, 2, 1000, missing)
    browser_page = new_visitor(browser, missing)
    try:
        known = set(final_saves(runs))
        press_start(trainers)
        for page in trainers:  # both train: their live panels are drawn
            page.get_by_role("button", name="Stop", exact=True).wait_for(timeout=HANG_S * 1000)
        goto(browser_page, url)
        seconds = switch_pages(browser_page, switches)
        for page in trainers:
            page.get_by_role("button", name="Stop", exact=True).click()
        wait_for_saves(runs, known, 2)
    finally:
        close([*trainers, browser_page])
    return {"trainings": 2, "switch_s": seconds, "media_not_found": len(missing)}


def classroom_rounds(browser, size: ClassroomSize) -> dict[str, Any]:
    """One server for every round: a warm-up training (compiles, not counted), then the measures, interleaved."""
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as runs_dir:
        runs = Path(runs_dir)
        proc, url = start_server({"FLAX_DASHBOARD_JAX_CACHE": cache, "FLAX_DASHBOARD_RUNS_DIR": runs_dir})
        try:
            train_together(browser, proc.pid, url, runs, 1, 1)
            trainings, browsing = [], []
            for _ in range(size.rounds):
                trainings += [train_together(browser, proc.pid, url, runs, k, size.epochs) for k in size.visitors]
                browsing.append(browse_while_training(browser, url, runs, size.switches))
        finally:
            stop_server(proc)
    return {"trainings": trainings, "browsing": browsing}


def run_benchmark(size: ClassroomSize) -> dict[str, Any]:
    if not os.path.exists(CHROMIUM):
        return {"skipped": f"{CHROMIUM} is missing: apt-get install chromium"}
    with launch_chromium() as browser:
        measured = classroom_rounds(browser, size)
        visits = [first_visit.measure_round(browser) for _ in range(size.first_visits)]
    report = {"machine": machine_info(), "size": size.name, "epochs": size.epochs, "targets": TARGETS}
    report["load_average_at_end"] = os.getloadavg()  # other work on this machine slows every measure
    return report | measured | {"first_visits": visits, "summary": summarize(measured, visits)}


def summarize(measured: dict[str, Any], visits: list[dict[str, Any]]) -> dict[str, Any]:
    """Per number of visitors: all runs' images/s against one alone (the solo run of the same round), fairness."""
    trainings = measured["trainings"]
    counts = sorted({t["visitors"] for t in trainings})
    rounds = [trainings[i : i + len(counts)] for i in range(0, len(trainings), len(counts))]
    summary: dict[str, Any] = {}
    for position, count in enumerate(counts):
        ratios = [sum(r[position]["images_per_s"]) / sum(r[0]["images_per_s"]) for r in rounds]
        fairness = [min(r[position]["images_per_s"]) / max(r[position]["images_per_s"]) for r in rounds]
        summary[f"{count} at once"] = {
            "ratio": statistics.median(ratios),
            "fairness": statistics.median(fairness),
            "images_per_s": statistics.median(sum(r[position]["images_per_s"]) for r in rounds),
            # cores busy on average while they trained: the server's process, all Chromium processes
            "server_cores": statistics.median(r[position]["server_cpu_s"] / r[position]["wall_s"] for r in rounds),
            "browser_cores": statistics.median(r[position]["browser_cpu_s"] / r[position]["wall_s"] for r in rounds),
            "media_not_found": sum(r[position]["media_not_found"] for r in rounds),
        }
    switches = [s for b in measured["browsing"] for s in b["switch_s"]]
    quantiles = statistics.quantiles(switches, n=10, method="inclusive")
    summary["page switch"] = {"p50_s": statistics.median(switches), "p90_s": quantiles[-1], "count": len(switches)}
    by_page: dict[str, list[float]] = {}
    for browsing in measured["browsing"]:
        for title, seconds in zip(switch_titles(len(browsing["switch_s"])), browsing["switch_s"], strict=True):
            by_page.setdefault(title, []).append(seconds)
    # which page the slow switches go to: the one to make cheaper first
    summary["page switch"]["p50_s_by_page"] = {title: statistics.median(s) for title, s in by_page.items()}
    summary["first visit"] = {"median_s": statistics.median(v["first_visitor_s"] for v in visits)}
    return summary


def verdict(value: float, target: float, lower_is_better: bool = False) -> str:
    met = value < target if lower_is_better else value >= target
    return "pass" if met else "MISS"


def format_report(report: dict[str, Any]) -> str:
    if "skipped" in report:
        return f"classroom: skipped ({report['skipped']})"
    summary, targets = report["summary"], report["targets"]
    lines = [f"a class in Chromium, the default MLP for {report['epochs']} epochs on the sample, live views on:"]
    for key, row in summary.items():
        if not key.endswith("at once"):
            continue
        count = int(key.split()[0])
        target = targets.get(f"ratio_{count}")
        line = f"  {key}: {row['images_per_s']:,.0f} images/s in all, {row['ratio']:.2f}x one alone"
        if target is not None:
            line += f" (target >= {target}: {verdict(row['ratio'], target)})"
        line += f"; cores busy: server {row['server_cores']:.2f}, browsers {row['browser_cores']:.2f}"
        line += f"; /media 404s {row['media_not_found']}"
        if count > 1:
            fair = row["fairness"]
            line += f"; fairness slowest/fastest {fair:.2f} ({verdict(fair, targets['fairness'])})"
        lines.append(line)
    switch, visit = summary["page switch"], summary["first visit"]
    lines.append(
        f"  page switch while 2 train ({switch['count']} clicks): "
        f"p50 {switch['p50_s']:.2f} s, p90 {switch['p90_s']:.2f} s"
        f" (target p90 < {targets['switch_p90_s']} s: {verdict(switch['p90_s'], targets['switch_p90_s'], True)})"
    )
    pages = ", ".join(f"{title} {seconds:.2f} s" for title, seconds in switch["p50_s_by_page"].items())
    lines.append(f"    p50 by the page switched to: {pages}")
    lines.append(
        f"  first visit, fresh server, empty compile cache: median {visit['median_s']:.2f} s"
        f" (target < {targets['first_visit_s']} s: {verdict(visit['median_s'], targets['first_visit_s'], True)})"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser("python -m benchmarks.classroom", __doc__, "1 and 2 visitors, 2 epochs (CI)")
    args = parser.parse_args(argv)
    report_benchmark(args, SIZES, run_benchmark, format_report)


if __name__ == "__main__":
    main()
