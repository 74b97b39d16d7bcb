"""The sidebar on every page: the current model, the dataset and the training status."""

from __future__ import annotations

import streamlit as st

from components.run_views import STATUS_WORDS, final_score, progress_text
from components.state import get_state

POLL_SECONDS = 1.0


def sidebar() -> None:
    state = get_state()
    spec = state.spec
    with st.sidebar:
        st.markdown("#### Current model")
        st.markdown(f"**{spec.describe()}**")
        st.caption(
            f"{spec.parameter_count:,} parameters (numbers the model learns) in {len(spec.dense_layers)} Dense layers"
        )
        st.markdown(f"Dataset: **{state.dataset_name}**")
        _training_status(state.active_run is not None)


def _training_status(active: bool) -> None:
    @st.fragment(run_every=POLL_SECONDS if active else None)
    def status() -> None:
        state = get_state()
        run = state.active_run
        st.markdown("#### Training")
        if run is not None:
            snap = run.snapshot()
            st.progress(snap.progress, text=f"Run {run.run_id}: {snap.progress:.0%}")
            st.caption(progress_text(snap))
            return
        if active:  # it was training at the last full run and has just ended: redraw every page part
            st.rerun(scope="app")
        last = state.runs[-1] if state.runs else None
        if last is None:
            st.caption("Idle: no model trained yet. Go to **Train** to teach the model.")
        else:
            score = final_score(last)
            st.caption(
                f"Run {last.run_id}: {STATUS_WORDS.get(last.status, last.status)}" + (f" · {score}" if score else "")
            )

    status()
