"""Helpers shared by the AppTest and browser tests (import as ``tests.support``)."""

from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest

STATE_KEY = "flax_dashboard.state"


def state(at: AppTest):
    """The visitor's AppState inside an AppTest session."""
    return at.session_state[STATE_KEY]


def select_trained(at: AppTest, result) -> int:
    """Put an already trained model (a TrainResult) in the session as the selected run; returns its run id."""
    app_state = state(at)
    run = app_state.add_run("trained in the test", "sample", loaded=result)
    app_state.selected_run_id = run.run_id
    app_state.set_spec(result.spec)
    return run.run_id


def wait_for_training(at: AppTest, timeout: float = 120) -> None:
    """AppTest does not run timers: wait for the background jobs, then rerun the script."""
    deadline = time.monotonic() + timeout
    for run in state(at).runs:
        if run.job is not None:
            assert run.job.join(max(0.0, deadline - time.monotonic())), "training did not end in time"
    at.run()


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def text_input(at: AppTest, label: str):
    return next(t for t in at.text_input if t.label == label)


def open_tab(at: AppTest, key: str, label: str) -> None:
    """Open a lazy tab (``st.tabs(..., key=key, on_change="rerun")``) and rerun: only it is drawn."""
    at.session_state[key] = label
    at.run()


def is_number_text(text: str) -> bool:
    """Whether ``float(text)`` accepts it (for hypothesis filters of "not a number" inputs)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def open_variables(at: AppTest) -> None:
    """Switch to the Variables page once ``model.init`` of the current model is compiled: the page
    shows a notice and refreshes itself meanwhile, and AppTest does not run that refresh."""
    from core import models

    models.prepare_init(state(at).spec).result(120)
    at.switch_page("pages/variables.py").run()
