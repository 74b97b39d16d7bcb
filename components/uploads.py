"""File uploaders whose refused uploads leave the page and the server's memory, their reason staying.

Streamlit keeps an upload's bytes for as long as its widget holds the file (the session's end,
at the latest). A refused upload is of no use: ``refuse`` drops its bytes at once, draws a fresh,
empty uploader in place of the old one (a new key) and keeps the reason to show beside it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NoReturn

import streamlit as st

# Streamlit has no public removal of an upload's bytes (streamlit/streamlit#9218); UploadedFile is
# st.file_uploader's documented type: both are named, with why, in tests/core/test_boundary.py's ALLOW_LIST.
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.runtime.uploaded_file_manager import UploadedFile

from components.i18n import _
from components.state import AppState


def uploader(state: AppState, name: str, label: str, **options: Any) -> UploadedFile | None:
    """``st.file_uploader`` for ``name`` (e.g. ``"train.upload"``), with the reason its last upload was
    refused under it until another file is uploaded."""
    upload = st.file_uploader(label, key=state.uploader_key(name), **options)
    dropzone_words(name, options.get("type"))
    if upload is not None:
        state.uploads.upload_refusals.pop(name, None)
    elif name in state.uploads.upload_refusals:
        reason, icon = state.uploads.upload_refusals[name]
        st.error(reason, icon=icon)
    return upload


def dropzone_words(name: str, types: Sequence[str] | str | None) -> None:
    """The uploader's button and limits in the visitor's language: Streamlit writes them in English
    ("Upload", "400MB per file • ZIP") with no option to change them, so its words are hidden and ours
    shown in their place (a style for this uploader, every key it gets after a refusal included)."""
    box = f'[class*="st-key-{name.replace(".", "-")}-"] [data-testid="stFileUploaderDropzone"]'
    words = f"{box} button [data-testid='stMarkdownContainer']"
    limits = f"{box} [data-testid='stFileUploaderDropzoneInstructions'] > div"
    limit = _("At most {size} MB per file").format(size=st.get_option("server.maxUploadSize"))
    if types:
        limit += " · " + ", ".join(kind.upper() for kind in ([types] if isinstance(types, str) else types))
    button = json.dumps(_("Upload"), ensure_ascii=False)
    st.html(
        f"<style>{words} p, {limits} span {{visibility: hidden; font-size: 0;}}"
        f"{words}::after {{content: {button};}}"
        f"{limits}::after {{content: {json.dumps(limit, ensure_ascii=False)}; font-size: 0.875rem;}}</style>"
    )


def refuse(state: AppState, name: str, upload: UploadedFile, reason: str, icon: str) -> NoReturn:
    """Refuse ``upload``: its bytes go now, the uploader starts empty again and ``reason`` is shown (rerun)."""
    state.uploads.upload_refusals[name] = (reason, icon)
    state.uploads.refused_uploads[name] = state.uploads.refused_uploads.get(name, 0) + 1
    release(upload)
    st.rerun()


def release(upload: UploadedFile) -> None:
    """Remove an upload's bytes from Streamlit's uploaded-file store (as ``st.chat_input`` does once it has
    read its files); a store without removal keeps them until the session ends."""
    ctx = get_script_run_ctx()
    remove = getattr(ctx.uploaded_file_mgr, "remove_file", None) if ctx is not None else None
    if remove is not None:
        remove(ctx.session_id, upload.file_id)
