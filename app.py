"""Entry point: ``streamlit run app.py``. See components/frame.py for the frame it draws.

``streamlit run`` finds ``app`` below and serves the dashboard as an ``st.App``, whose lifespan
imports JAX, flax and the rest of the dashboard while the server starts: the first visitor then
waits for a page, not for a few seconds of imports. Each visitor's script run executes
``components/entry/dashboard.py``, which draws the frame; that script sits in a folder without a
``pages/`` folder beside it, so Streamlit's legacy menu of raw file names never shows. AppTest
runs this file as the page script, which draws the same frame.
"""

from contextlib import asynccontextmanager
from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware
from streamlit.runtime.scriptrunner import get_script_run_ctx


@asynccontextmanager
async def preload(_app):
    """Import what every page needs before the server answers: imports must not race the first
    visitor's script (two threads importing one module see it half-initialised)."""
    import components.frame  # noqa: F401
    from components.resources import prepare_first_page, start_process_setup
    from core.collector import freeze_and_collect_at_bounded_rate

    prepare_first_page()
    # every page's second-by-second reruns no longer walk the start-up heap (runner.postScriptGC is off)
    freeze_and_collect_at_bounded_rate()
    start_process_setup()  # the default models compile in the background from now on
    yield


def middleware() -> list[Middleware]:
    """Deep links (``/train``) tell the front end where the server is, instead of it probing two wrong URLs."""
    from components.base_path import BasePathMiddleware
    from components.frame import PAGE_FILES

    return [Middleware(BasePathMiddleware, url_paths=[Path(path).stem for path in PAGE_FILES])]


app = st.App("components/entry/dashboard.py", lifespan=preload, middleware=middleware())

if get_script_run_ctx() is not None:  # a visitor's script run, not the server importing this file
    from components.frame import run_app

    run_app()
