"""The middleware that tells Streamlit's front end where the server is: only HTML pages change."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from components.base_path import BasePathMiddleware, page_script

PAGE = b"<!doctype html><html><head><title>x</title></head><body></body></html>"


def served(path: str, accept: bytes, content_type: bytes, body: bytes = PAGE, chunks: int = 1):
    """What the middleware sends for one GET of ``path``, around an app answering ``body`` in ``chunks`` parts;
    and the request headers the app saw."""
    seen: dict = {}

    async def app(scope, receive, send):
        seen["headers"] = dict(scope["headers"])
        headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        size = -(-len(body) // chunks)
        for i in range(chunks):
            part = body[i * size : (i + 1) * size]
            await send({"type": "http.response.body", "body": part, "more_body": i < chunks - 1})

    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http", "method": "GET", "path": path,
        "headers": [(b"accept", accept), (b"accept-encoding", b"gzip")],
    }  # fmt: skip
    # in a thread of its own: a worker that ran a browser test holds Playwright's event loop in this one
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, BasePathMiddleware(app, url_paths=["train", "build"])(scope, None, send)).result()
    return sent, seen["headers"]


def test_a_page_gets_the_script_first_in_its_head_and_a_matching_length():
    sent, asked = served("/train", b"text/html,application/xhtml+xml", b"text/html; charset=utf-8", chunks=3)
    start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    script = page_script(["train", "build"])
    assert body == PAGE.replace(b"<head>", b"<head>" + script)
    assert dict(start["headers"])[b"content-length"] == str(len(PAGE) + len(script)).encode()
    assert b'["build", "train"]' in script
    assert b"pages.indexOf(last) < 0) return;" in script  # any other address: nothing set (a mistyped page)
    assert b"accept-encoding" not in asked  # asked uncompressed, so it can be changed


def test_anything_but_a_page_passes_unchanged():
    script_file = b"console.log(1)"
    for path, accept, kind, body in (
        ("/static/js/index.js", b"*/*", b"application/javascript", script_file),  # a script
        ("/_stcore/health", b"text/html", b"text/plain", b"ok"),  # Streamlit's own endpoints
        ("/train", b"text/html", b"application/json", b"{}"),  # an answer that is not HTML
    ):
        sent, _ = served(path, accept, kind, body)
        assert b"".join(m.get("body", b"") for m in sent[1:]) == body
