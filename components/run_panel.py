"""The Train page's run panel: the run being trained or chosen, its job controls (stop, pause, step,
a new learning rate), speed and time left, its curves against earlier runs and the model as it learns;
redrawn every poll while a run trains."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from components import figures, resources
from components.i18n import _, error_reason, language, message_text
from components.live_views import watch_learning
from components.run_views import (
    curve,
    curves_version,
    duration,
    epoch_metrics,
    generalisation_words,
    progress_text,
    run_names,
    sentences,
)
from components.sidebar import POLL_SECONDS
from components.state import AppState, Run, get_state
from components.ui import explain, height
from components.words import plain
from core.data import Dataset
from core.errors import CoreError
from core.jax_setup import compilation_cache_dir
from core.spec import MLPSpec
from core.tasks import task_of
from core.training import Status


def presenter_controls(run: Run, paused: bool, rate: float) -> None:
    """Pause, resume, step and a new learning rate for a running training, for a room to follow."""
    controls = run.job.controls  # type: ignore[union-attr]
    cols = st.columns([1.2, 1, 1, 1.3, 1], vertical_alignment="bottom")
    if paused:
        cols[0].button(_("Resume"), icon=":material/play_arrow:", key="train.resume", on_click=controls.resume,
                       help=_("Go on training at full speed"))  # fmt: skip
    else:
        cols[0].button(
            _("Pause"), icon=":material/pause:", key="train.pause", on_click=controls.pause,
            help=_("Hold the training after its current chunk of steps; Resume or Step goes on"),
        )  # fmt: skip
    steps = cols[1].number_input(
        _("Steps"), value=10, step=1, key="train.step_count",
        help=_("How many training steps (batches) the Step button runs before pausing again"),
    )  # fmt: skip
    if cols[2].button(
        _("Step"), icon=":material/skip_next:", key="train.step",
        help=_("Run this many steps, then pause: watch the model change one nudge at a time"),
    ):  # fmt: skip
        try:
            controls.step(int(steps))
        except CoreError as err:
            st.error(_("Not stepped: {reason}").format(reason=plain(error_reason(err), 300)), icon=":material/warning:")
    new_rate = cols[3].text_input(
        _("New learning rate"), value=f"{rate:g}", key=f"train.new_rate.{run.run_id}",
        help=_("Changes how big each nudge is from the next chunk of steps on, without restarting. "
               "The loss curve marks the step where it changed."),
    )  # fmt: skip
    if cols[4].button(_("Apply"), key="train.apply_rate", help=_("Train with the new learning rate from now on")):
        try:
            controls.set_learning_rate(replace(run.config, learning_rate=new_rate).learning_rate)
        except CoreError as err:
            said = plain(error_reason(err), 300)
            st.error(_("Learning rate not changed: {reason}").format(reason=said), icon=":material/warning:")
    if paused:
        st.info(_("Paused: press **Resume**, or **Step** to run a few steps at a time."), icon=":material/pause:")


def comparison_runs(state: AppState, shown: Run) -> list[Run]:
    same = [r for r in state.runs if r is not shown and type(r.spec) is type(shown.spec) and r.finished]
    if not same:
        return []
    chosen = st.multiselect(
        _("Compare with"), [r.run_id for r in same], default=[r.run_id for r in same[-2:]],
        format_func=run_names(state, [r.run_id for r in same]).__getitem__,
        key="train.compare", help=_("Overlay the curves of earlier runs of the same kind of model"),
    )  # fmt: skip
    return [state.run(i) for i in chosen]


def live_views(run: Run, snap) -> None:
    """The model as it learns (answers or reconstructions, latent map, first-layer weights), redrawn
    with the curve from the job's latest parameters; a switch turns them off."""
    if snap is None:  # a loaded run: no training to watch
        return
    variables = run.latest_variables()
    if variables is None:
        return
    state = get_state()
    state.train.watch_training = st.toggle(
        _("Watch the model learn"), value=state.train.watch_training, key="train.watch",
        help=_("Shows what the model does with a few test images while it trains, redrawn every second. "
               "Costs training a few percent of its speed."),
    )  # fmt: skip
    if not state.train.watch_training:
        return
    try:
        dataset = resources.dataset(run.dataset)
    except CoreError:
        return  # its data is gone (a folder removed): the curve alone
    watch_learning((run.cache_id, snap.step), run.spec, variables, dataset, snap.step)


def live_panel(active: bool, dataset: Dataset | None) -> None:
    """The run panel, redrawn every poll while a run trains; the whole page reruns once it has ended."""

    @st.fragment(run_every=POLL_SECONDS if active else None)
    def panel() -> None:
        state = get_state()
        run = state.active_run or state.selected_run or (state.runs[-1] if state.runs else None)
        if run is None:
            st.info(
                _("No run yet: choose the settings above and press **Start training**."), icon=":material/arrow_upward:"
            )
            return
        snap = run.snapshot()
        run_header(run, snap)
        if snap is not None:
            run_progress(run, snap)
        run_charts(state, run, dataset)
        live_views(run, snap)
        if active and not run.active:
            st.rerun(scope="app")

    panel()


def run_header(run: Run, snap) -> None:
    """The run's name, its Stop button and, while it trains, the presenter's controls."""
    header = st.columns([3, 1], vertical_alignment="center")
    header[0].markdown("#### " + _("Run {run}: {label}").format(run=run.run_id, label=plain(run.label, 160)))
    if run.active:
        header[1].button(_("Stop"), icon=":material/stop:", key="train.stop", on_click=run.job.stop, type="secondary",
                         help=_("End training now and keep the model as it is"))  # fmt: skip
    if snap is not None and run.active:
        presenter_controls(run, snap.paused, snap.learning_rate)


def run_progress(run: Run, snap) -> None:
    """Progress bar, steps, speed, time left and compile time of a run with a job; its message if it ended badly."""
    text = progress_text(snap)
    if snap.status == Status.QUEUED and snap.message:
        # why it waits, on the progress line: a box would push the curve down for the moment it waits
        text += " · " + plain(message_text(snap.message), 300)
    st.progress(snap.progress, text=text)
    metrics = st.columns(4)
    metrics[0].metric(_("Steps done"), f"{snap.step:,}", help=_("One step = one batch of images = one nudge"))
    steps_per_s = snap.samples_per_s / run.config.batch_size
    metrics[1].metric(
        _("Images per second"), f"{snap.samples_per_s:,.0f}",
        help=_("Training speed: {speed:,.0f} steps per second of {batch} images each").format(
            speed=steps_per_s, batch=run.config.batch_size
        ),
    )  # fmt: skip
    left = "—" if not snap.active else _("working it out") if snap.eta_s is None else duration(snap.eta_s)
    metrics[2].metric(
        _("Time left"), left,
        help=_("Counts down with the clock and follows the measured speed, which includes the other "
               "trainings sharing this server (they take turns, one short chunk of steps each)"),
    )  # fmt: skip
    metrics[3].metric(_("Compile time"), compile_words(snap), help=compile_help())
    record = run.record
    if record is not None and record.extra.get("devices", 1) > 1:
        devices = record.extra["devices"]
        st.caption(_("Each batch was split over {count} devices (data parallel).").format(count=devices))
    if snap.message and snap.status in (Status.DIVERGED, Status.FAILED, Status.STOPPED):
        (st.error if snap.status in (Status.DIVERGED, Status.FAILED) else st.info)(
            plain(message_text(snap.message), 300)
        )


def compile_words(snap) -> str:
    if snap.status == Status.COMPILING:
        return _("compiling…")
    return duration(snap.compile_s) if snap.compile_s > 0 else _("none needed")


def compile_help() -> str:
    return _(
        "Before the first step JAX turns the training step into machine code for this exact model "
        "(first time only; 'none needed': an earlier run's machine code was reused). It is reused by "
        "later runs of the same model, even after a restart (kept in {folder})."
    ).format(folder=compilation_cache_dir() or _("memory only"))


def run_charts(state: AppState, run: Run, dataset: Dataset | None) -> None:
    """Loss (and accuracy) curves of the run and the earlier runs chosen to compare, then train against test."""
    others = comparison_runs(state, run) if not run.active else []
    shown = [run, *others]
    curves = [curve(r) for r in shown]
    loss_name = _(task_of(run.spec).loss_label(run.config.reconstruction_loss))
    # figures are made again only when a run's curves have grown, not on every rerun
    tall = height(380)
    loss_version = ("loss", curves_version(shown, curves, with_steps=True), loss_name, tall, language())
    loss_chart = resources.drawn(loss_version, lambda: figures.loss_figure(curves, loss_name, height=tall))
    st.plotly_chart(loss_chart, key="train.loss_chart")
    loss_words = (
        _(
            "For a classifier the loss is the cross-entropy: how surprised the model is by the right answer "
            "(0 = sure and right; about 2.3 = a blind guess among 10 classes)."
        )
        if isinstance(run.spec, MLPSpec)
        else ""
    )
    explain(
        sentences(
            _(
                "Solid: loss of each training batch (lower is better). Dashed: loss on the test images, "
                "measured after every epoch. If the dashed line rises while the solid one falls, the model "
                "is memorising (overfitting)."
            ),
            loss_words,
        )
    )
    if isinstance(run.spec, MLPSpec):
        tall = height(300)
        accuracy_version = ("accuracy", curves_version(shown, curves, with_steps=False), tall, language())
        accuracy_chart = resources.drawn(accuracy_version, lambda: figures.accuracy_figure(curves, height=tall))
        st.plotly_chart(accuracy_chart, key="train.accuracy_chart")
        explain(_("The share of test images the model gets right, measured after every epoch."))
    generalisation_view(run, loss_name, dataset)


def generalisation_view(run: Run, loss_name: str, dataset: Dataset | None) -> None:
    """Train against test per epoch, the gap shaded (runs saved before it was measured have no train curve)."""
    epochs = epoch_metrics(run)
    if not any(e.train_eval_loss is not None for e in epochs):
        return
    st.markdown("##### " + _("Training images against test images"))
    tall = height(340)
    version = ("generalisation", run.cache_id, len(epochs), loss_name, tall, language())
    gap_chart = resources.drawn(version, lambda: figures.generalisation_figure(epochs, loss_name, height=tall))
    st.plotly_chart(gap_chart, key="train.gap_chart")
    explain(generalisation_words(run, dataset))
