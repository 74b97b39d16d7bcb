"""The Train page's ONNX download: *Prepare ONNX* converts the chosen run once (in a child process) and
checks it against the flax model on its test images; then *Download ONNX* and the check in words, or why
there is no file."""

from __future__ import annotations

import streamlit as st

from components import resources
from components.i18n import _, error_text, message_text
from components.state import AppState, Run
from components.words import plain
from core.errors import CoreError
from core.onnx_export import TOLERANCE, ExportCheck, OnnxExport, export_result


def prepare_onnx(run: Run) -> OnnxExport | str:
    """The run's checked export, or why there is none (in words)."""
    result = run.result
    if result is None:
        return message_text(run.lost) if run.lost else _("its model is no longer kept")
    try:
        dataset = resources.dataset(run.dataset)
    except CoreError as err:
        return _("its test images ({data}) are needed to check the file, and they cannot be loaded: {reason}").format(
            data=run.dataset, reason=error_text(err)
        )
    try:
        return export_result(result, dataset.test_images, dataset.class_names, isolated=True)
    except CoreError as err:
        return error_text(err)


def onnx_download(state: AppState, run: Run) -> None:
    """*Prepare ONNX*, then *Download ONNX* with its check (the last prepared run's file is kept)."""
    kept = state.train.onnx
    outcome = kept[1] if kept is not None and kept[0] == run.cache_id else None
    if outcome is None:
        slot = st.empty()  # the button goes once the file is prepared
        if not slot.button(
            _("Prepare ONNX"), icon=":material/deployed_code:", key="train.prepare_onnx",
            help=_("Converts the model to ONNX (for onnxruntime, Netron, browsers) and checks that it answers "
                   "like this model on the test images, within {tolerance:g}. Takes some seconds.").format(
                tolerance=TOLERANCE
            ),
        ):  # fmt: skip
            return
        with st.spinner(_("Converting to ONNX and checking it on the test images…")):
            outcome = prepare_onnx(run)
        slot.empty()
        state.train.onnx = (run.cache_id, outcome)
    if isinstance(outcome, str):
        st.warning(_("No ONNX file for this run: {reason}").format(reason=plain(outcome, 400)), icon=":material/block:")
        return
    stem = f"run{run.run_id}"
    name, mime = outcome.download(stem)[::2]
    st.download_button(
        _("Download ONNX"), icon=":material/download:", data=lambda: outcome.download(stem)[1], file_name=name,
        mime=mime, key="train.download_onnx",
        help=_("The model in evaluation mode: input 'images', float32 (batch, 28, 28, 1) in [0, 1]")
        + (_("; a zip of the whole model, its encode and its decode") if len(outcome.graphs) > 1 else ""),
    )  # fmt: skip
    st.caption(check_words(outcome.check))


def check_words(check: ExportCheck) -> str:
    """The export's check in the visitor's words (as a ``str``, ``ExportCheck.describe`` is the English text)."""
    return check.describe().text(_)
