"""Tell Streamlit's front end where its server is, so that a deep link (``/train``) asks no wrong URL.

Streamlit's front end does not know the path the app is served under. Opened at ``/train``, it
first asks ``/train/_stcore/health`` and ``/train/_stcore/host-config``, gets two 404s (logged in
the browser's console, every time), then tries ``/`` (streamlit#7074). It reads the server's
address from ``window.__streamlit.BACKEND_BASE_URL`` when a page sets it (Streamlit's documented
way to embed an app), so ``BasePathMiddleware`` puts a tiny script into each page's HTML that sets
it to the page's address without the page name: ``/train`` -> ``/``, and behind a proxy
``/dash/train`` -> ``/dash/``, which is what the front end's own probing finds. At any other address
(a mistyped page, a proxy's bare prefix) it sets nothing, and the front end probes as before.

It is an ASGI middleware for ``st.App(middleware=...)`` (Streamlit's public server API); it
touches only HTML page responses, never the websocket, scripts or data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

#: placed first in <head>, before Streamlit's own script bundle reads ``window.__streamlit``
SCRIPT = """<script>(function () {{
  var pages = {pages};
  var path = location.pathname.replace(/\\/+$/, "");
  var last = path.slice(path.lastIndexOf("/") + 1);
  if (path !== "" && pages.indexOf(last) < 0) return;  // not a page's address: the front end finds its server
  path = path.slice(0, path.length - last.length);
  if (path.slice(-1) !== "/") path += "/";
  window.__streamlit = Object.assign({{}}, window.__streamlit, {{BACKEND_BASE_URL: location.origin + path}});
}})();</script>"""


def page_script(url_paths: Iterable[str]) -> bytes:
    """The script for an app whose pages are served at these url paths ("train", "variables", ...)."""
    return SCRIPT.format(pages=json.dumps(sorted(url_paths))).encode()


def with_script(html: bytes, script: bytes) -> bytes:
    """``html`` with ``script`` first in its <head> (unchanged if it has none)."""
    head = html.find(b"<head>")
    if head < 0:
        return html
    at = head + len(b"<head>")
    return html[:at] + script + html[at:]


class BasePathMiddleware:
    """Adds ``page_script(url_paths)`` to every HTML page the app sends (see the module)."""

    def __init__(self, app, url_paths: Iterable[str]) -> None:
        self.app = app
        self.script = page_script(url_paths)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not _asks_for_html(scope):
            await self.app(scope, receive, send)
            return
        # a page is a few kB: ask for it uncompressed (Streamlit's gzip runs inside this middleware)
        headers = [(k, v) for k, v in scope["headers"] if k != b"accept-encoding"]
        scope = {**scope, "headers": headers}
        start: dict | None = None
        body = bytearray()

        async def send_with_script(message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                if not _is_plain_html(message):
                    start = None
                    await send(message)
                    return
                start = message
                return
            if start is None:
                await send(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body", False):
                return
            page = with_script(bytes(body), self.script)
            headers = [(k, v) for k, v in start["headers"] if k != b"content-length"]
            headers.append((b"content-length", str(len(page)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": page})

        await self.app(scope, receive, send_with_script)


def _asks_for_html(scope) -> bool:
    accept = dict(scope["headers"]).get(b"accept", b"")
    return b"text/html" in accept and not scope["path"].startswith("/_stcore")


def _is_plain_html(start) -> bool:
    headers = dict(start["headers"])
    return headers.get(b"content-type", b"").startswith(b"text/html") and b"content-encoding" not in headers
