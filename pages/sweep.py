"""Width sweep: train the current model at several widths of one layer and compare size with result; or,
for the overfitting lab, at several shares of the training images or L2 penalties."""

from __future__ import annotations

import streamlit as st

from components import figures, resources
from components.frame import require_frame
from components.i18n import _, error_reason, error_text, message_text
from components.run_views import duration
from components.session import session_alive_check, tab_grace_seconds, visitor_id
from components.sidebar import POLL_SECONDS
from components.state import AppState, get_state
from components.sweep_views import (
    SETTING_WORDS,
    VALUE_HELP,
    SweepPageState,
    chart_selection,
    choose_run,
    get_sweep_state,
    plan_text,
    run_rows,
    sweep_progress_text,
    training_words,
)
from components.ui import advanced, explain, height
from components.words import layer_description, plain
from core.data import Dataset, dataset_title
from core.errors import CoreError
from core.runs.jobs import running_trainings
from core.runs.scheduler import JobControls
from core.runs.sweep_job import SweepJob
from core.spec import MAX_WIDTH
from core.tasks import task_of
from core.training import MAX_BATCH_SIZE, MAX_EPOCHS, Status, TrainConfig
from core.training.estimate import estimate_sweep
from core.training.sweep import (
    ALL_LAYERS,
    MAX_SEEDS,
    MAX_VALUES,
    SETTINGS,
    WIDTH,
    SweepPlan,
    default_widths,
    sized_layers,
    summarise,
)

require_frame()

DEFAULT_SEEDS = "0,1,2"
state = get_state()
sweep_state = get_sweep_state()
spec = state.spec

st.title(":material/stacked_line_chart: " + _("Width sweep"))
st.caption(
    _(
        "How wide does **{model}** need to be? Train it at several widths of one layer (every model "
        "sees the same images, for the same number of epochs, with the same optimizer) and compare each model's "
        "size, its number of parameters, with how well it does on images it never trained on. Or vary how much "
        "data it sees, or a weight penalty, to watch it overfit."
    ).format(model=spec.describe())
)
setting = st.selectbox(
    _("What the models differ in"), list(SETTING_WORDS),
    format_func={key: _(text) for key, text in SETTING_WORDS.items()}.__getitem__,
    key="sweep.setting", help=_("Every model of a sweep is the same but for this one setting (and its seed)."),
)  # fmt: skip
swept = SETTINGS[setting]


def sweep_dataset(state: AppState) -> Dataset | None:
    try:
        with st.spinner(_("Loading the images…")):
            return resources.dataset(state.dataset_name)
    except CoreError as err:
        st.error(
            _("Could not load {data}: {reason}. Choose other data on the Train page.").format(
                data=dataset_title(state.dataset_name, gettext=_), reason=plain(error_text(err), 300)
            )
        )
        return None


def swept_inputs(cols) -> tuple[int, str]:
    """The layer to resize and the widths to try, or the values of the setting swept (the layer then 0)."""
    layer = 0
    layers = [*sized_layers(spec), ALL_LAYERS]  # a Conv layer's width is its channels; pooling, dropout, norms: none
    if setting == WIDTH:
        layer = cols[0].selectbox(
            _("Layer to resize"), layers,
            format_func={i: layer_description(spec, i).capitalize() for i in layers}.__getitem__,
            key="sweep.layer",
            help=_("Which layer gets a different width in each model; the others stay as built. 'All hidden "
                   "layers' scales every layer together, keeping their proportions: the width is then that of the "
                   "widest layer."),
        )  # fmt: skip
        values = cols[1].text_input(
            _("Widths to try"), value=",".join(str(w) for w in default_widths(spec, layers[0])),
            key="sweep.widths",
            help=_("Numbers of units, separated by commas (1 to {max_width:,}, at most {max_values}). Each width "
                   "trains its own model, smallest first.").format(max_width=MAX_WIDTH, max_values=MAX_VALUES),
        )  # fmt: skip
    else:
        cols[0].markdown(_("Model **{model}**, as built").format(model=spec.describe()))
        values = cols[1].text_input(
            _("Values of the {setting} to try").format(setting=_(swept.label)),
            value=",".join(f"{v:g}" for v in swept.defaults), key=f"sweep.values.{setting}",
            help=_("{help} At most {max_values} values.").format(
                help=_(VALUE_HELP[setting]), max_values=MAX_VALUES),
        )  # fmt: skip
    return layer, values


def settings_form(state: AppState) -> SweepPlan | None:
    """The sweep's settings; the plan they describe (None, with the reason shown, if invalid)."""
    config, defaults = state.config, TrainConfig().to_dict()
    with st.form("sweep.settings"):
        seeds, batch_size = DEFAULT_SEEDS, config.batch_size  # presenter mode hides both and keeps these
        cols = st.columns([2, 3, 1] if advanced() else [2, 4])
        layer, values = swept_inputs(cols)
        if advanced():
            seeds = cols[2].text_input(
                _("Seeds"), value=DEFAULT_SEEDS, key="sweep.seeds",
                help=_("One model per seed and width (at most {max_seeds} seeds). A seed fixes the starting weights "
                       "and the order of the images; several seeds show how much a result varies by chance (the "
                       "error bars).").format(max_seeds=MAX_SEEDS),
            )  # fmt: skip
        more = st.columns(3)
        epochs = more[0].number_input(
            _("Epochs"), value=config.epochs, step=1, key="sweep.epochs",
            help=_("How many times every model goes through all training images (1 to {max_epochs}).").format(
                max_epochs=MAX_EPOCHS),
        )  # fmt: skip
        if advanced():
            batch_size = more[1].number_input(
                _("Batch size"), value=config.batch_size, step=1, key="sweep.batch_size",
                help=_("Images per nudge (1 to {max_batch:,}), the same for every model.").format(
                    max_batch=MAX_BATCH_SIZE),
            )  # fmt: skip
        more[2].markdown(
            training_words(config, defaults, setting),
            help=_("Taken from the Train page's settings, the same for every model of the sweep."),
        )
        st.form_submit_button(
            _("Apply and estimate the time"), icon=":material/timer:",
            help=_("Check the settings and time a few training steps on this machine to say how long the sweep "
                   "takes"),
        )  # fmt: skip
    try:
        train_config = TrainConfig(**{**config.to_dict(), "epochs": epochs, "batch_size": batch_size})
        return SweepPlan(spec, layer, values, seeds, train_config, setting)
    except CoreError as err:
        st.error(_("Cannot sweep these settings: {reason}").format(reason=plain(error_reason(err), 300)),
                 icon=":material/warning:")  # fmt: skip
        return None


def estimate_and_start(sweep_state: SweepPageState, plan: SweepPlan, dataset: Dataset) -> None:
    """Show how long the plan will take (timed on this machine), then offer to start it."""
    busy = sweep_state.active
    key = (plan, dataset.name)
    estimate = sweep_state.estimates.get(key)
    if estimate is None and not busy:
        try:
            with st.spinner(_("Timing a few training steps on this machine to estimate the time…")):
                # timed in turns of the machine, as the sweep's chunks will run; others' turns are added below
                timing = JobControls(owner=visitor_id())
                estimate = sweep_state.estimates[key] = estimate_sweep(plan, dataset, pacing=timing)
        except CoreError as err:
            reason = plain(error_reason(err), 300)
            st.error(_("Cannot sweep these settings: {reason}").format(reason=reason), icon=":material/warning:")
            return
    if estimate is not None:  # the trainings running now, every rerun: they start and end meanwhile
        estimate = estimate.sharing(running_trainings(excluding=sweep_state.job), visitor_id())  # not itself
    plan_words = plan_text(plan, dataset, seeds_shown=advanced())
    if estimate is None:
        st.info(
            _("{plan}. The time is estimated once the running sweep ends.").format(plan=plan_words),
            icon=":material/timer:",
        )
    else:
        st.info(
            _("{plan}. Estimated time: **about {time}** ({details}).").format(
                plan=plan_words, time=duration(estimate.total_s), details=estimate.describe()
            ),
            icon=":material/timer:",
        )
    started = st.button(
        _("Start sweep"), icon=":material/play_arrow:", type="primary", key="sweep.start", disabled=busy,
        help=_("A sweep is running: stop it first") if busy else _("Train every model, value after value; "
                                                                   "the results appear as each value finishes"),
    )  # fmt: skip
    if started:
        job = SweepJob(
            plan, dataset, estimate, keep_alive=session_alive_check(), grace_s=tab_grace_seconds(), owner=visitor_id()
        )
        sweep_state.job = job.start()
        sweep_state.handled_selection = ()
        st.rerun()


def sweep_charts(state: AppState, sweep_state: SweepPageState, job: SweepJob, snap) -> None:
    """The finished models' scores (a click uses one) and every model's training curve."""
    runs, swept, plan_spec = list(snap.runs), job.plan.swept, job.plan.spec
    finished = [r for r in runs if r.status == Status.FINISHED]
    if finished:
        score = _(task_of(plan_spec).score.label)
        event = st.plotly_chart(
            figures.sweep_figure(finished, summarise(finished), score, height=height(420), swept=swept),
            key="sweep.chart", on_select="rerun", selection_mode="points",
        )  # fmt: skip
        axis = (
            _("The parameter axis is logarithmic: each doubling moves a point the same distance right.")
            if swept.changes_model
            else _("Right: the gap after the last epoch between the model on its training images (up to 1,000 of "
                   "them, measured like the test images) and on the test images: the larger, the more it memorised.")
        )  # fmt: skip
        explain(
            _(
                "Each orange point is one model, the blue line the mean over its seeds with a bar of one standard "
                "deviation. {axis} Click a point to use the best model of its {setting} on the other pages "
                "(each one's best seed is kept)."
            ).format(axis=axis, setting=_(swept.label))
        )
        chart_selection(state, sweep_state, job, finished, event)
    if runs or snap.live_losses:
        y_title = task_of(plan_spec).loss_label(job.plan.config.reconstruction_loss)
        st.plotly_chart(
            figures.sweep_curves_figure(runs, y_title, snap.live_losses, snap.width, swept=swept), key="sweep.curves"
        )
        explain(
            _("The training loss of every model, step by step: the darker, the larger its {setting}.").format(
                setting=_(swept.label)
            )
        )


def results_panel(active: bool) -> None:
    @st.fragment(run_every=POLL_SECONDS if active else None)
    def panel() -> None:
        state, sweep_state = get_state(), get_sweep_state()
        job = sweep_state.job
        if job is None:
            st.info(_("No sweep yet: check the plan above and press **Start sweep**."), icon=":material/arrow_upward:")
            return
        snap = job.snapshot()
        header = st.columns([4, 1], vertical_alignment="center")
        header[0].markdown(_("#### Sweep {number}: {plan}").format(number=job.job_id, plan=job.plan.describe()))
        if snap.active:
            header[1].button(_("Stop"), icon=":material/stop:", key="sweep.stop", on_click=job.stop,
                             help=_("End the sweep now; the models trained so far are kept"))  # fmt: skip
        swept = job.plan.swept
        st.progress(snap.progress, text=sweep_progress_text(snap, swept))
        if snap.message and snap.status in (Status.STOPPED, Status.FAILED, Status.QUEUED):
            (st.error if snap.status == Status.FAILED else st.info)(plain(message_text(snap.message), 300))
        runs = list(snap.runs)
        sweep_charts(state, sweep_state, job, snap)
        if runs:
            st.dataframe(run_rows(runs), hide_index=True, key="sweep.table")
            st.caption(
                _(
                    "Time: each model's share of its {setting}'s wall time, compiling included (the seeds of one "
                    "{setting} train together in one program)."
                ).format(setting=_(swept.label))
            )
            choose_run(state, sweep_state, job, runs)
        if active and not snap.active:
            st.rerun(scope="app")

    panel()


dataset = sweep_dataset(state)
plan = settings_form(state)
if plan is not None and dataset is not None:
    plan, small_data = plan.for_classes(len(dataset.class_names)).for_data(dataset.num_train)
    if small_data:
        st.info(small_data, icon=":material/photo_library:")
    estimate_and_start(sweep_state, plan, dataset)
results_panel(sweep_state.active)
