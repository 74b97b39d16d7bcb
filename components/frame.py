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

from components.i18n import N_, _, choose_language_once, message_text

#: Each page's English title (its name in the code, the sidebar and ``state.visited``) and icon; the
#: menu shows the title in the visitor's language.
PAGE_FILES = {
    "pages/build.py": (N_("Build"), ":material/construction:"),
    "pages/variables.py": (N_("Variables"), ":material/account_tree:"),
    "pages/train.py": (N_("Train"), ":material/show_chart:"),
    "pages/results.py": (N_("Results"), ":material/image:"),
    "pages/inside.py": (N_("Inside"), ":material/neurology:"),
    "pages/sweep.py": (N_("Width sweep"), ":material/stacked_line_chart:"),
    "pages/explore.py": (N_("Explore"), ":material/explore:"),
    "pages/draw.py": (N_("Draw"), ":material/draw:"),
}
#: The English title of each page by its URL path (the first page is the root, "")
TITLES_BY_URL = {
    "" if i == 0 else Path(path).stem: title for i, (path, (title, _icon)) in enumerate(PAGE_FILES.items())
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
        st.Page(page(path), title=_(title), icon=icon, default=i == 0)
        for i, (path, (title, icon)) in enumerate(PAGE_FILES.items())
    ]


def run_app() -> None:
    """Everything ``streamlit run app.py`` draws, in order.

    The menu comes first, before anything else is imported: under AppTest, the legacy menu
    of raw file names lasts until the first ``st.navigation``.
    """
    language_notice = choose_language_once()  # the menu's titles are in the visitor's language
    st.set_page_config(page_title=_("flax model dashboard"), page_icon=str(PAGE_ICON), layout="wide")
    page = st.navigation(pages())
    title = TITLES_BY_URL[page.url_path]  # the page's English name, whatever the language shown

    from components.links import apply_link_once, sync_link
    from components.resources import process_setup
    from components.sidebar import sidebar
    from components.state import get_state
    from components.ui import apply_presenter_style

    process_setup()
    state = get_state()
    apply_link_once(state)
    state.visited.add(title)
    apply_presenter_style()
    sidebar(title)
    if language_notice:
        st.info(language_notice, icon=":material/translate:")
    if state.notice:
        st.info(state.notice, icon=":material/link:")
        state.notice = None
    for run in state.read_back_models_in_use():
        st.warning(
            _("Run {run} can no longer be used: {reason}.").format(run=run.run_id, reason=message_text(run.lost)),
            icon=":material/folder_off:",
        )
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
