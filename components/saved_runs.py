"""The Train page's Runs section: this visitor's runs (table, memory share, use, continue or download
one), loading a checkpoint file, and the browser of runs saved on this computer."""

from __future__ import annotations

import streamlit as st

from components import resources, uploads
from components.i18n import N_, _, error_reason, error_text, ngettext
from components.onnx_download import onnx_download
from components.run_views import duration, final_score, memory_words, over_budget_words, run_names
from components.server_paths import folder_words
from components.state import AppState
from components.training import continue_training, restore_saved, save_status
from components.words import option_text, plain, saved_run_status, status_words
from core.errors import ConfigError, CoreError
from core.runs import checkpoint, store
from core.training import MAX_EPOCHS

NO_OPTIMIZER_STATE = N_(
    "This model cannot be continued: it keeps no optimizer state (a width sweep keeps only each model's "
    "parameters). Train it anew with Start training above."
)


def runs_table(state: AppState) -> None:
    st.dataframe(
        [
            {
                _("run"): r.run_id,
                _("model"): r.spec.describe(),
                _("data"): option_text(r.dataset, 200),
                _("settings"): settings_words(r.config),
                _("status"): status_words(r.status),
                _("result"): final_score(r),
                _("time"): duration(r.record.train_s) if r.finished else "",
                _("saved"): option_text(save_status(r), 300),
            }
            for r in reversed(state.runs)
        ],
        hide_index=True,
        key="train.runs",
    )


def settings_words(config) -> str:
    """``"adam, lr 0.001, batch 128, 5 epochs"``."""
    return ngettext(
        "{optimizer}, lr {rate:g}, batch {batch}, {epochs} epoch",
        "{optimizer}, lr {rate:g}, batch {batch}, {epochs} epochs",
        config.epochs,
    ).format(optimizer=config.optimizer, rate=config.learning_rate, batch=config.batch_size, epochs=config.epochs)


def chosen_run_actions(state: AppState) -> None:
    """Use, continue or download one finished run."""
    finished = [r for r in state.runs if r.finished]
    if not finished:
        return
    ids = [r.run_id for r in finished]
    default = ids.index(state.selected_run_id) if state.selected_run_id in ids else len(ids) - 1
    cols = st.columns([3, 1.3, 1.3, 1.6], vertical_alignment="bottom")
    chosen = cols[0].selectbox(
        _("Model used on the other pages"), ids, index=default, key="train.selected",
        format_func=run_names(state, ids).__getitem__,
        help=_("The Variables and Results pages show this run's trained model"),
    )  # fmt: skip
    run = state.run(chosen)
    in_use = chosen == state.selected_run_id and run.spec == state.spec
    if cols[1].button(_("Use this model"), key="train.use_run", disabled=in_use):
        state.selected_run_id = chosen
        state.set_spec(run.spec)
        st.rerun()
    more = cols[2].number_input(
        _("More epochs"), value=5, step=1, key="train.more_epochs",
        help=_("Continue this run: same model, same optimizer state, the curve goes on where it stopped"),
    )  # fmt: skip
    busy = state.active_run is not None
    why_not = "" if run.can_continue else _(NO_OPTIMIZER_STATE)
    if cols[3].button(
        _("Continue training"), icon=":material/resume:", key="train.continue", disabled=busy or bool(why_not),
        help=why_not or None,
    ):  # fmt: skip
        try:
            if not 1 <= int(more) <= MAX_EPOCHS:
                raise ConfigError(
                    "epochs",
                    N_("more epochs must be between 1 and {most}, got {given}"),
                    most=MAX_EPOCHS,
                    given=int(more),
                )
            continue_training(state, run, int(more), resources.dataset(run.dataset))
        except CoreError as err:
            said = plain(error_reason(err), 300)
            st.error(_("Not continued: {reason}").format(reason=said), icon=":material/warning:")
        else:
            st.rerun()
    downloads = st.columns(2)
    downloads[0].download_button(
        _("Download checkpoint"), icon=":material/download:",
        data=lambda: checkpoint.to_bytes(run.full_result()),
        file_name=f"run{run.run_id}.msgpack", mime="application/octet-stream", key="train.download",
        help=_("Parameters, optimizer state, model spec and curves in one .msgpack file"),
    )  # fmt: skip
    with downloads[1]:
        onnx_download(state, run)


def load_checkpoint_upload(state: AppState) -> None:
    upload = uploads.uploader(
        state, "train.upload", _("Load a checkpoint (.msgpack saved from this tool)"), type=["msgpack"],
        help=_("Restores the model, its settings and its curves as a new run"),
    )  # fmt: skip
    if upload is None or state.train.uploaded_file_id == upload.file_id:
        return
    state.train.uploaded_file_id = upload.file_id
    try:
        result = checkpoint.from_bytes(upload.getvalue(), upload.name)
    except CoreError as err:
        reason = _("Could not load {name}: {reason}").format(
            name=plain(upload.name), reason=plain(error_text(err), 200)
        )
        uploads.refuse(state, "train.upload", upload, reason, icon=":material/description:")
    label = _("{model} · loaded from {file}").format(model=result.spec.describe(), file=upload.name)
    state.add_run(label, result.dataset, loaded=result)
    state.set_spec(result.spec)
    st.rerun()


def saved_score(value: float | None, pattern: str, missing: str) -> str:
    return missing if value is None else pattern.format(value)


def saved_runs_section(state: AppState) -> None:
    saved = store.list_runs()
    where = plain(folder_words(store.runs_dir(), _("the runs folder")), 200)
    # the folder inside, not in the title: a path is not words of the visitor's language, and it wraps on a phone
    with st.expander(_("Saved runs on this computer ({count})").format(count=len(saved)), key="train.saved_list"):
        st.caption(_("Saved in {folder}.").format(folder=where))
        if not saved:
            st.caption(
                _(
                    "Every run is saved here while it trains (at most once a minute, at the end of an epoch), when it "
                    "finishes or is stopped, and listed again after a restart."
                )
            )
            return
        st.dataframe(
            [
                {
                    _("id"): r.run_id,
                    _("model"): option_text(r.summary.get("model") or "", 200),  # a file's text, as typed
                    _("data"): option_text(r.summary.get("dataset") or "", 200),
                    _("status"): saved_run_status(r),
                    _("epochs"): r.summary.get("epochs_done"),
                    _("test accuracy"): saved_score(r.summary.get("test_accuracy"), "{:.1%}", _("not measured")),
                    _("test loss"): saved_score(r.summary.get("test_loss"), "{:.4f}", ""),
                }
                for r in saved[:200]
            ],
            hide_index=True,
            key="train.saved",
            column_config={
                _("test accuracy"): st.column_config.TextColumn(help=_("An autoencoder rebuilds images: no accuracy")),
            },
        )
        cols = st.columns([3, 1], vertical_alignment="bottom")
        chosen = cols[0].selectbox(_("Saved run"), [r.run_id for r in saved[:200]], key="train.saved_choice")
        if cols[1].button(_("Load it"), key="train.load_saved"):
            try:
                restore_saved(state, store.find_run(chosen))
            except CoreError as err:
                said = _("Could not load {name}: {reason}").format(
                    name=plain(chosen), reason=plain(error_text(err), 200)
                )
                st.error(said, icon=":material/description:")
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
    st.markdown("### " + _("Runs"))
    if state.runs:
        runs_table(state)
        memory_notice(state)
        chosen_run_actions(state)
    load_checkpoint_upload(state)
    saved_runs_section(state)
