"""Facts about the visitor's browser session that background threads may check."""

from __future__ import annotations

import os
from collections.abc import Callable


def session_alive_check() -> Callable[[], bool]:
    """A check a training thread may call (it makes no UI calls): is this visitor's tab still open?

    Uses the Streamlit runtime's thread-safe ``is_active_session``; a session leaves the
    active set when its websocket disconnects (tab closed). Under AppTest there is no
    runtime, so the check always answers True.
    """
    from streamlit import runtime
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None or not runtime.exists():
        return lambda: True
    instance = runtime.Runtime.instance()
    session_id = ctx.session_id
    return lambda: instance.is_active_session(session_id)


def tab_grace_seconds() -> float:
    """How long a run outlives its closed tab ($FLAX_DASHBOARD_TAB_GRACE_S, default 15 s)."""
    try:
        return max(0.5, float(os.environ.get("FLAX_DASHBOARD_TAB_GRACE_S", "15")))
    except ValueError:
        return 15.0


def visitor_id() -> str:
    """This visitor's session id (their jobs share one turn of the machine); "local" without a runtime."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "local"
