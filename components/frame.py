"""The app frame: page settings, navigation, the shared sidebar, then the chosen page.

``components/entry/dashboard.py`` (the script ``app.py`` serves) and ``app.py`` itself (as
AppTest runs it) call ``run_app``. Beside ``app.py`` Streamlit honours the legacy ``pages/``
auto-discovery until the first ``st.navigation`` call of the process
(``PagesManager.uses_pages_directory``; AppTest resets it on every run), so a run can execute
``pages/train.py`` alone, without sidebar or settings. Every page starts with
``require_frame``, which then draws the whole frame around the requested page itself and
stops the bare run: no rerun, so a click that caused the run is not lost.

Page paths are absolute (``page``): Streamlit resolves a relative one against the folder of
the script being served, which is not the repository root.
"""

from __future__ import annotations

import threading
from pathlib import Path

import streamlit as st

PAGE_FILES = {
    "pages/build.py": ("Build", ":material/construction:"),
    "pages/variables.py": ("Variables", ":material/account_tree:"),
    "pages/train.py": ("Train", ":material/show_chart:"),
    "pages/results.py": ("Results", ":material/image:"),
    "pages/inside.py": ("Inside", ":material/neurology:"),
    "pages/sweep.py": ("Width sweep", ":material/stacked_line_chart:"),
    "pages/explore.py": ("Explore", ":material/explore:"),
    "pages/draw.py": ("Draw", ":material/draw:"),
}
ROOT = Path(__file__).resolve().parents[1]
#: served by this server itself: a material-icon page icon makes the browser fetch it from a font host
PAGE_ICON = ROOT / "assets" / "favicon.png"
_local = threading.local()


def page(path: str) -> str:
    """The absolute path of one of ``PAGE_FILES`` (for ``st.page_link`` and ``st.switch_page``)."""
    return str(ROOT / path)


def pages() -> list:
    return [
        st.Page(page(path), title=title, icon=icon, default=i == 0)
        for i, (path, (title, icon)) in enumerate(PAGE_FILES.items())
    ]


def run_app() -> None:
    """Everything ``streamlit run app.py`` draws, in order.

    The menu comes first, before anything else is imported: under AppTest, the legacy menu
    of raw file names lasts until the first ``st.navigation``.
    """
    st.set_page_config(page_title="flax model dashboard", page_icon=str(PAGE_ICON), layout="wide")
    page = st.navigation(pages())

    from components.links import apply_link_once, sync_link
    from components.resources import process_setup
    from components.sidebar import sidebar
    from components.state import get_state
    from components.ui import apply_presenter_style

    process_setup()
    state = get_state()
    apply_link_once(state)
    state.visited.add(page.title)
    apply_presenter_style()
    sidebar(page.title)
    if state.notice:
        st.info(state.notice, icon=":material/link:")
        state.notice = None
    for run in state.read_back_models_in_use():
        st.warning(f"Run {run.run_id} can no longer be used: {run.lost}.", icon=":material/folder_off:")
    _local.active = True
    try:
        page.run()
    finally:
        _local.active = False
    sync_link(state)


def require_frame() -> None:
    """Call first in every page: if Streamlit ran the page file bare, draw it inside the frame."""
    if not getattr(_local, "active", False):
        run_app()
        st.stop()
