"""A class beyond one process: two app processes behind Debian's nginx, run with the README's config.

Both processes save into one runs folder; nginx keeps each browser on one process with a cookie it sets
itself. Its access log (``$upstream_addr``, added by the test's own main config around the README's) says
which process answered each request of each visitor.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.browser_support import (
    RECLICK_S,
    ROOT,
    again_until_it_lands,
    free_port,
    goto,
    no_exception,
    open_page,
    screenshot,
    sidebar_text,
    start_server,
    start_training,
    stop_server,
    wait_for_sidebar,
    wait_for_text,
    wait_idle,
)
from testkit.waits import HANG_S, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NGINX = os.environ.get("NGINX_PATH", "/usr/sbin/nginx")
DEPLOY = ROOT / "deploy" / "nginx-dashboard.conf"
README_SECTION = "### Serving a class (nginx)"
COOKIE = "dashboard_visitor"
#: guards against a hang only: every wait below ends on the event it waits for
DEADLINE_S = 600
EPOCH = re.compile(r"Run 1: .*\n\n[A-Za-z -]+: epoch (\d+) of 1000")


def readme_block(language: str) -> str:
    """The first ``language`` code block of the README's nginx section."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index(README_SECTION) :]
    start = section.index(f"```{language}\n") + len(f"```{language}\n")
    return section[start : section.index("```\n", start)]


def test_the_readme_shows_the_config_in_deploy():
    assert readme_block("nginx") == DEPLOY.read_text()
    commands = readme_block("bash")
    assert "deploy/nginx-dashboard.conf" in commands and "FLAX_DASHBOARD_RUNS_DIR" in commands
    for port in re.findall(r"server 127\.0\.0\.1:(\d+);", DEPLOY.read_text()):
        assert f"--server.port {port}" in commands


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"the README's nginx config should have {old!r} once"
    return text.replace(old, new)


def nginx_config(site: str, app_ports: list[int], listen: int, prefix: Path) -> str:
    """The README's site with free loopback ports, inside a main config that keeps every file in ``prefix``
    and logs which process answered each visitor's request."""
    site = replace_once(site, "listen 80;", f"listen 127.0.0.1:{listen};")
    for readme_port, port in zip((8501, 8502), app_ports, strict=True):
        site = replace_once(site, f"server 127.0.0.1:{readme_port};", f"server 127.0.0.1:{port};")
    temp_paths = "\n".join(
        f"    {kind}_temp_path {prefix / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""worker_processes 1;
events {{ worker_connections 256; }}
http {{
    log_format visitors '$dashboard_visitor $upstream_addr $status "$request"';
    access_log {prefix / "access.log"} visitors;
{temp_paths}
{site}
}}
"""


class Nginx:
    """nginx in the foreground, serving the README's site in front of the app processes on ``app_ports``, with
    its files in a temporary folder (readable by its workers, which run as nobody when the test runs as root)."""

    def __init__(self, site: str, app_ports: list[int]) -> None:
        self.prefix = Path(tempfile.mkdtemp(prefix="dashboard-nginx-"))
        self.prefix.chmod(0o755)
        port = free_port()
        (self.prefix / "nginx.conf").write_text(nginx_config(site, app_ports, port, self.prefix))
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        p = str(self.prefix)
        self.proc = subprocess.Popen(
            [NGINX, "-p", p, "-c", f"{p}/nginx.conf", "-e", f"{p}/error.log", "-g", f"daemon off; pid {p}/nginx.pid;"],
        )
        deadline = time.monotonic() + DEADLINE_S
        while True:
            assert self.proc.poll() is None, f"nginx exited: {(self.prefix / 'error.log').read_text()}"
            assert time.monotonic() < deadline, "nginx did not answer"
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)

    def stop(self) -> None:
        """Stop at once (SIGTERM): every open connection, websockets included, is cut."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)

    def log(self) -> list[tuple[str, str, str]]:
        """(visitor key, process address, request) of every request logged so far."""
        path = self.prefix / "access.log"
        lines = path.read_text().splitlines() if path.exists() else []
        return [(key, upstream, request) for key, upstream, _, request in (line.split(" ", 3) for line in lines)]

    def process_of(self, key: str) -> str:
        """The process that answered the visitor's first request (its line is written just after the answer)."""
        wait_for(lambda: any(k == key for k, _, _ in self.log()), f"a request of {key} in nginx's log")
        return next(upstream for k, upstream, _ in self.log() if k == key)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.prefix, ignore_errors=True)


@pytest.fixture
def class_behind_nginx() -> Iterator[tuple[Nginx, Path]]:
    if not os.path.exists(NGINX):
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"{NGINX} is missing: apt-get install nginx-light")
        pytest.skip(f"{NGINX} not installed (apt-get install nginx-light)")
    runs = Path(tempfile.mkdtemp(prefix="dashboard-shared-runs-"))
    # a generous grace: a training must outlive the seconds its websocket is cut while nginx restarts
    env = {"FLAX_DASHBOARD_RUNS_DIR": str(runs), "FLAX_DASHBOARD_TAB_GRACE_S": "120"}
    servers: list = []
    nginx = None
    try:
        servers += [start_server(env) for _ in range(2)]
        nginx = Nginx(readme_block("nginx"), [int(url.rsplit(":", 1)[1]) for _, url in servers])
        nginx.start()
        yield nginx, runs
    finally:
        if nginx is not None:
            nginx.remove()
        for proc, _ in servers:
            stop_server(proc)
        shutil.rmtree(runs, ignore_errors=True)


class Visitor:
    """A browser of its own (its own cookies) that keeps every websocket its page opens."""

    def __init__(self, browser, nginx: Nginx) -> None:
        self.context = browser.new_context(viewport={"width": 1440, "height": 1000})
        self.context.request.get(f"{nginx.url}/_stcore/health")  # a first answer: nginx sets the cookie
        self.key = next(c["value"] for c in self.context.cookies() if c["name"] == COOKIE)
        self.process = nginx.process_of(self.key)
        self.page = self.context.new_page()
        self.sockets: list = []
        self.page.on("websocket", lambda socket: self.sockets.append(socket))

    def epoch(self) -> int:
        text = sidebar_text(self.page)
        found = EPOCH.search(text)
        assert found, f"the sidebar shows no running training: {text!r}"
        return int(found.group(1))


def visitors_on_both_processes(browser, nginx: Nginx) -> list[Visitor]:
    """Two visitors that nginx sent to different processes: new browsers until one lands on the other
    process (each lands on either with about even odds)."""
    first = Visitor(browser, nginx)
    for _ in range(30):
        other = Visitor(browser, nginx)
        if other.process != first.process:
            return [first, other]
        other.context.close()
    raise AssertionError(f"30 new visitors in a row went to {first.process}: nginx does not spread them")


def live_panel_runs(page) -> list[str]:
    """The runs the Train page's live panel shows (its header, "Run 1: MLP 784-512-256-10 ...")."""
    headers = page.locator('[data-testid="stMain"] h4').all_inner_texts()
    return [header for header in headers if header.startswith("Run ")]


def choose(page, label: str, value: str) -> None:
    """Choose ``value`` in a select box unless it shows it already. A click can meet the box while the run
    that drew it ends, and the list then closes unseen: a visitor clicks again, so does this."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    box = page.get_by_role("combobox", name=label, exact=True)
    deadline = time.monotonic() + HANG_S
    while box.input_value() != value:
        box.click()
        try:
            page.get_by_role("option", name=value, exact=True).click(timeout=RECLICK_S * 1000)
        except PlaywrightTimeout:
            if time.monotonic() > deadline:
                raise
        wait_idle(page)
    assert box.input_value() == value, box.input_value()


def load_saved_run(page, run_id: str) -> str:
    """Reload the page (a new session in the same process), load a saved run from the Train page's list of
    saved runs; returns that list's title."""
    page.reload()
    page.wait_for_selector('[data-testid="stSidebar"]', timeout=DEADLINE_S * 1000)
    wait_idle(page)

    expander = page.get_by_text("Saved runs on this computer")
    title = expander.inner_text()
    choice = page.get_by_role("combobox", name="Saved run", exact=True)
    again_until_it_lands(
        lambda: choice.is_visible() or expander.click(),  # a click that meets a redraw of the page can be lost
        lambda timeout_ms: choice.wait_for(state="visible", timeout=timeout_ms),
    )
    wait_idle(page)
    choose(page, "Saved run", run_id)
    page.get_by_role("button", name="Load it").click()
    wait_idle(page)
    return title


def test_two_processes_behind_nginx_keep_each_visitor_and_share_saved_runs(browser, class_behind_nginx):
    nginx, runs = class_behind_nginx
    mlp, autoencoder = visitors = visitors_on_both_processes(browser, nginx)
    try:
        goto(mlp.page, f"{nginx.url}/train")
        start_training(mlp.page, epochs=1000)
        goto(autoencoder.page, nginx.url)
        autoencoder.page.get_by_role("radio", name="AutoEncoder").click()
        wait_idle(autoencoder.page)
        open_page(autoencoder.page, "Train")
        start_training(autoencoder.page, epochs=1000)
        for visitor in visitors:
            wait_for_sidebar(visitor.page, "Training: epoch", timeout=DEADLINE_S)
        # each sees its own training, and only its own
        assert "MLP 784-512-256-10" in sidebar_text(mlp.page)
        assert "AutoEncoder" in sidebar_text(autoencoder.page)
        for visitor, mine in ((mlp, "Run 1: MLP 784-512-256-10"), (autoencoder, "Run 1: AutoEncoder")):
            shown = live_panel_runs(visitor.page)
            assert len(shown) == 1 and shown[0].startswith(mine), shown

        # nginx restarts while both train: every websocket is cut and the browsers reconnect
        before = [visitor.epoch() for visitor in visitors]
        sockets = [len(visitor.sockets) for visitor in visitors]
        nginx.stop()
        nginx.start()
        for visitor, was, count in zip(visitors, before, sockets, strict=True):
            deadline = time.monotonic() + DEADLINE_S
            while len(visitor.sockets) == count:
                assert time.monotonic() < deadline, "the page never opened a new websocket"
                visitor.page.wait_for_timeout(200)
            # on its own process the session, its model and its training are still there and the epochs go
            # on; on the other process it would be a new, idle session
            while visitor.epoch() <= was:
                assert time.monotonic() < deadline, "the training shown never moved on after the reconnect"
                visitor.page.wait_for_timeout(500)
        assert "MLP 784-512-256-10" in sidebar_text(mlp.page)
        assert "AutoEncoder" in sidebar_text(autoencoder.page)

        for visitor in visitors:
            visitor.page.get_by_role("button", name="Stop").click()
            wait_for_sidebar(visitor.page, "Stopped", timeout=DEADLINE_S)
        # each process lists the run the other saved, after a reload, and the visitor can load it
        saved = {json.loads(path.read_text())["model"].split()[0]: path.stem for path in runs.glob("*.json")}
        assert sorted(saved) == ["AutoEncoder", "MLP"], saved
        for visitor, other in ((mlp, "AutoEncoder"), (autoencoder, "MLP")):
            assert "Saved runs on this computer (2)" in load_saved_run(visitor.page, saved[other])
            wait_for_text(visitor.page, "stMain", f"saved {saved[other]}", timeout=DEADLINE_S)
            shown = live_panel_runs(visitor.page)
            assert len(shown) == 1 and shown[0].startswith(f"Run 1: {other}"), shown
            no_exception(visitor.page)
    except BaseException:
        for number, visitor in enumerate(visitors):
            screenshot(visitor.page, f"FAILED-proxy-visitor-{number}")
        raise
    finally:
        for visitor in visitors:
            visitor.context.close()

    # every request of a visitor went to its process: the page, its scripts and its websocket (logged when it
    # closes: the one open at the end closed with its browser; those cut by the restart were not logged)
    wait_for(
        lambda: all(any(k == v.key and "/_stcore/stream" in r for k, _, r in nginx.log()) for v in visitors),
        "nginx to log the visitors' websockets",
    )
    log = nginx.log()
    for visitor in visitors:
        answered = {upstream for key, upstream, _ in log if key == visitor.key}
        assert answered == {visitor.process}, answered
