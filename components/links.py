"""The page URL carries the model and training settings, so a link reproduces them elsewhere."""

from __future__ import annotations

import streamlit as st

from components.i18n import _, error_text, link_language
from components.state import AppState
from components.words import plain
from core.links import LinkError, from_query, to_query


def apply_link_once(state: AppState) -> None:
    """On a visitor's first run, take the settings from the URL (a bad link falls back to defaults)."""
    if state.link_applied:
        return
    state.link_applied = True
    try:
        settings = from_query(st.query_params.to_dict())
    except LinkError as err:
        # The reason quotes the link's own text: a stranger's, shown escaped and cut short.
        state.notice = _("This link's settings were not valid ({reason}); showing the default model instead.").format(
            reason=plain(error_text(err), 200)
        )
        return
    if settings is None:
        return
    state.set_spec(settings.spec)
    state.config = settings.config
    if settings.dataset:
        state.dataset_name = settings.dataset
    state.notice = _("Opened from a shared link: {model}.").format(model=settings.spec.describe())


def sync_link(state: AppState) -> None:
    """Keep the URL in step with the current model and settings (no rerun is caused)."""
    query = to_query(state.spec, state.config, state.dataset_name) | link_language()
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)
