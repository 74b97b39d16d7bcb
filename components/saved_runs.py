"""The Train page's Runs section: this visitor's runs (table, memory share, use, continue or download
one), loading a checkpoint file, and the browser of runs saved on this computer."""

from __future__ import annotations

import streamlit as st

from components import resources, uploads
from components.i18n import error_reason, error_text
from components.onnx_download import onnx_download
from components.run_views import duration, final_score, memory_words, over_budget_words
from components.server_paths import folder_words
from components.state import AppState
from components.training import continue_training, restore_saved, save_status
from components.words import option_text, plain, saved_run_status, status_words
from core.errors import ConfigError, CoreError
from core.runs import checkpoint, store
from core.training import MAX_EPOCHS

NO_OPTIMIZER_STATE = (
    "This model cannot be continued: it keeps no optimizer state (a width sweep keeps only each model's "
    "parameters). Train it anew with Start training above."
)


def runs_table(state: AppState) -> None:
    st.dataframe(
        [
            {
                "run": r.run_id,
                "model": r.spec.describe(),
                "data": option_text(r.dataset, 200),
                "settings": f"{r.config.optimizer}, lr {r.config.learning_rate:g}, batch {r.config.batch_size}, "
                f"{r.config.epochs} epochs",
                "status": status_words(r.status),
                "result": final_score(r),
                "time": duration(r.record.train_s) if r.finished else "",
                "saved": option_text(save_status(r), 300),
            }
            for r in reversed(state.runs)
        ],
        hide_index=True,
        key="train.runs",
    )


def chosen_run_actions(state: AppState) -> None:
    """Use, continue or download one finished run."""
    finished = [r for r in state.runs if r.finished]
    if not finished:
        return
    ids = [r.run_id for r in finished]
    default = ids.index(state.selected_run_id) if state.selected_run_id in ids else len(ids) - 1
    cols = st.columns([3, 1.3, 1.3, 1.6], vertical_alignment="bottom")
    chosen = cols[0].selectbox(
        "Model used on the other pages", ids, index=default, key="train.selected",
        format_func=lambda i: option_text(f"run {i}: {state.run(i).label}", 160),
        help="The Variables and Results pages show this run's trained model",
    )  # fmt: skip
    run = state.run(chosen)
    in_use = chosen == state.selected_run_id and run.spec == state.spec
    if cols[1].button("Use this model", key="train.use_run", disabled=in_use):
        state.selected_run_id = chosen
        state.set_spec(run.spec)
        st.rerun()
    more = cols[2].number_input(
        "More epochs", value=5, step=1, key="train.more_epochs",
        help="Continue this run: same model, same optimizer state, the curve goes on where it stopped",
    )  # fmt: skip
    busy = state.active_run is not None
    why_not = "" if run.can_continue else NO_OPTIMIZER_STATE
    if cols[3].button(
        "Continue training", icon=":material/resume:", key="train.continue", disabled=busy or bool(why_not),
        help=why_not or None,
    ):  # fmt: skip
        try:
            if not 1 <= int(more) <= MAX_EPOCHS:
                raise ConfigError("epochs", f"more epochs must be between 1 and {MAX_EPOCHS}, got {int(more)}")
            continue_training(state, run, int(more), resources.dataset(run.dataset))
        except CoreError as err:
            st.error(f"Not continued: {plain(error_reason(err), 300)}", icon=":material/warning:")
        else:
            st.rerun()
    downloads = st.columns(2)
    downloads[0].download_button(
        "Download checkpoint", icon=":material/download:",
        data=lambda: checkpoint.to_bytes(run.full_result()),
        file_name=f"run{run.run_id}.msgpack", mime="application/octet-stream", key="train.download",
        help="Parameters, optimizer state, model spec and curves in one .msgpack file",
    )  # fmt: skip
    with downloads[1]:
        onnx_download(state, run)


def load_checkpoint_upload(state: AppState) -> None:
    upload = uploads.uploader(
        state, "train.upload", "Load a checkpoint (.msgpack saved from this tool)", type=["msgpack"],
        help="Restores the model, its settings and its curves as a new run",
    )  # fmt: skip
    if upload is None or state.train.uploaded_file_id == upload.file_id:
        return
    state.train.uploaded_file_id = upload.file_id
    try:
        result = checkpoint.from_bytes(upload.getvalue(), upload.name)
    except CoreError as err:
        reason = f"Could not load {plain(upload.name)}: {plain(error_text(err), 200)}"
        uploads.refuse(state, "train.upload", upload, reason, icon=":material/description:")
    state.add_run(f"{result.spec.describe()} · loaded from {upload.name}", result.dataset, loaded=result)
    state.set_spec(result.spec)
    st.rerun()


def saved_score(value: float | None, pattern: str, missing: str) -> str:
    return missing if value is None else pattern.format(value)


def saved_runs_section(state: AppState) -> None:
    saved = store.list_runs()
    where = plain(folder_words(store.runs_dir(), "the runs folder"), 200)
    with st.expander(f"Saved runs on this computer ({len(saved)}) in {where}", key="train.saved_list"):
        if not saved:
            st.caption(
                "Every run is saved here while it trains (at most once a minute, at the end of an epoch), when it "
                "finishes or is stopped, and listed again after a restart."
            )
            return
        st.dataframe(
            [
                {
                    "id": r.run_id,
                    "model": option_text(r.summary.get("model") or "", 200),  # a file's text, as typed
                    "data": option_text(r.summary.get("dataset") or "", 200),
                    "status": saved_run_status(r),
                    "epochs": r.summary.get("epochs_done"),
                    "test accuracy": saved_score(r.summary.get("test_accuracy"), "{:.1%}", "not measured"),
                    "test loss": saved_score(r.summary.get("test_loss"), "{:.4f}", ""),
                }
                for r in saved[:200]
            ],
            hide_index=True,
            key="train.saved",
            column_config={
                "test accuracy": st.column_config.TextColumn(help="An autoencoder rebuilds images: no accuracy"),
            },
        )
        cols = st.columns([3, 1], vertical_alignment="bottom")
        chosen = cols[0].selectbox("Saved run", [r.run_id for r in saved[:200]], key="train.saved_choice")
        if cols[1].button("Load it", key="train.load_saved"):
            try:
                restore_saved(state, store.find_run(chosen))
            except CoreError as err:
                st.error(
                    f"Could not load {plain(chosen)}: {plain(error_text(err), 200)}", icon=":material/description:"
                )
            else:
                st.rerun()


def memory_notice(state: AppState) -> None:
    """The visitor's share of the memory budget; a warning when runs saved nowhere keep them over it."""
    share = state.memory_share()
    if warning := over_budget_words(share):
        st.warning(warning, icon=":material/memory:")
    elif state.kept_models():
        st.caption(memory_words(share))


def runs_section(state: AppState) -> None:
    st.markdown("### Runs")
    if state.runs:
        runs_table(state)
        memory_notice(state)
        chosen_run_actions(state)
    load_checkpoint_upload(state)
    saved_runs_section(state)
