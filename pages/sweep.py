"""Width sweep: train the current model at several widths of one layer and compare size with result; or,
for the overfitting lab, at several shares of the training images or L2 penalties."""

from __future__ import annotations

import streamlit as st

from components import figures, resources
from components.frame import require_frame
from components.i18n import error_reason, error_text, message_text
from components.run_views import duration
from components.session import session_alive_check, tab_grace_seconds, visitor_id
from components.sidebar import POLL_SECONDS
from components.state import AppState, get_state
from components.sweep_views import (
    SweepPageState,
    get_sweep_state,
    make_current,
    run_label,
    run_rows,
    sweep_progress_text,
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
    kept_run,
    sized_layers,
    summarise,
)

require_frame()

DEFAULT_SEEDS = "0,1,2"
#: What a sweep can vary, in words (the order of the select box).
SETTING_WORDS = {
    WIDTH: "The width of a layer: how big does the model need to be?",
    "train_fraction": "The share of the training images: how much data does it need before it stops "
    "memorising? (overfitting lab)",
    "l2": "The L2 penalty: how much does a weight penalty close the gap between training and test images? "
    "(overfitting lab)",
    "dropout": "The dropout rate of every Dropout layer: how much does dropping values while training close "
    "the gap? (overfitting lab)",
}
VALUE_HELP = {
    "train_fraction": "Shares of the training images, separated by commas: 0.05 is 5%, 1 is all of them. Each "
    "share is a fixed choice keeping every class's share, the same for every seed.",
    "l2": "L2 penalties, separated by commas (0 = none; 0.0001 to 0.01 are typical). The loss adds the penalty "
    "times half the sum of squared weights; unlike AdamW's weight decay it goes through Adam's rescaling.",
    "dropout": "Dropout rates, separated by commas (0 = off, below 1): the share of values zeroed while training, "
    "a new random pattern every step; evaluation uses every value. Every Dropout layer of the model gets the "
    "rate (add one on the Build page first). Each rate compiles its own training step.",
}

state = get_state()
sweep_state = get_sweep_state()
spec = state.spec

st.title(":material/stacked_line_chart: Width sweep")
st.caption(
    f"How wide does **{spec.describe()}** need to be? Train it at several widths of one layer (every model "
    "sees the same images, for the same number of epochs, with the same optimizer) and compare each model's "
    "size, its number of parameters, with how well it does on images it never trained on. Or vary how much "
    "data it sees, or a weight penalty, to watch it overfit."
)
setting = st.selectbox(
    "What the models differ in", list(SETTING_WORDS), format_func=SETTING_WORDS.get, key="sweep.setting",
    help="Every model of a sweep is the same but for this one setting (and its seed).",
)  # fmt: skip
swept = SETTINGS[setting]


def sweep_dataset(state: AppState) -> Dataset | None:
    try:
        with st.spinner("Loading the images…"):
            return resources.dataset(state.dataset_name)
    except CoreError as err:
        st.error(
            f"Could not load {dataset_title(state.dataset_name)}: {plain(error_text(err), 300)}. "
            "Choose other data on the Train page."
        )
        return None


def settings_form(state: AppState) -> SweepPlan | None:
    """The sweep's settings; the plan they describe (None, with the reason shown, if invalid)."""
    config, defaults = state.config, TrainConfig().to_dict()
    layers = [*sized_layers(spec), ALL_LAYERS]  # a Conv layer's width is its channels; pooling, dropout, norms: none
    with st.form("sweep.settings"):
        seeds, batch_size = DEFAULT_SEEDS, config.batch_size  # presenter mode hides both and keeps these
        cols = st.columns([2, 3, 1] if advanced() else [2, 4])
        layer = 0
        if setting == WIDTH:
            layer = cols[0].selectbox(
                "Layer to resize", layers, format_func=lambda i: layer_description(spec, i).capitalize(),
                key="sweep.layer",
                help="Which layer gets a different width in each model; the others stay as built. 'All hidden "
                "layers' scales every layer together, keeping their proportions: the width is then that of the "
                "widest layer.",
            )  # fmt: skip
            values = cols[1].text_input(
                "Widths to try", value=",".join(str(w) for w in default_widths(spec, layers[0])), key="sweep.widths",
                help=f"Numbers of units, separated by commas (1 to {MAX_WIDTH:,}, at most {MAX_VALUES}). Each "
                "width trains its own model, smallest first.",
            )  # fmt: skip
        else:
            cols[0].markdown(f"Model **{spec.describe()}**, as built")
            values = cols[1].text_input(
                f"Values of the {swept.label} to try", value=",".join(f"{v:g}" for v in swept.defaults),
                key=f"sweep.values.{setting}", help=f"{VALUE_HELP[setting]} At most {MAX_VALUES} values.",
            )  # fmt: skip
        if advanced():
            seeds = cols[2].text_input(
                "Seeds", value=DEFAULT_SEEDS, key="sweep.seeds",
                help=f"One model per seed and width (at most {MAX_SEEDS} seeds). A seed fixes the starting weights "
                "and the order of the images; several seeds show how much a result varies by chance (the error bars).",
            )  # fmt: skip
        more = st.columns(3)
        epochs = more[0].number_input(
            "Epochs", value=config.epochs, step=1, key="sweep.epochs",
            help=f"How many times every model goes through all training images (1 to {MAX_EPOCHS}).",
        )  # fmt: skip
        if advanced():
            batch_size = more[1].number_input(
                "Batch size", value=config.batch_size, step=1, key="sweep.batch_size",
                help=f"Images per nudge (1 to {MAX_BATCH_SIZE:,}), the same for every model.",
            )  # fmt: skip
        lab = {"l2": f"L2 **{config.l2:g}**", "noise": f"input noise **{config.noise:g}**",
               "train_fraction": f"**{config.train_fraction:.0%}** of the training images"}  # fmt: skip
        lab = [words for key, words in lab.items() if key != setting and getattr(config, key) != defaults[key]]
        more[2].markdown(
            ", ".join([f"Optimizer **{config.optimizer}**, learning rate **{config.learning_rate:g}**", *lab]),
            help="Taken from the Train page's settings, the same for every model of the sweep.",
        )
        st.form_submit_button(
            "Apply and estimate the time", icon=":material/timer:",
            help="Check the settings and time a few training steps on this machine to say how long the sweep takes",
        )  # fmt: skip
    try:
        train_config = TrainConfig(**{**config.to_dict(), "epochs": epochs, "batch_size": batch_size})
        return SweepPlan(spec, layer, values, seeds, train_config, setting)
    except CoreError as err:
        st.error(f"Cannot sweep these settings: {plain(error_reason(err), 300)}", icon=":material/warning:")
        return None


def estimate_and_start(sweep_state: SweepPageState, plan: SweepPlan, dataset: Dataset) -> None:
    """Show how long the plan will take (timed on this machine), then offer to start it."""
    busy = sweep_state.active
    key = (plan, dataset.name)
    estimate = sweep_state.estimates.get(key)
    if estimate is None and not busy:
        try:
            with st.spinner("Timing a few training steps on this machine to estimate the time…"):
                # timed in turns of the machine, as the sweep's chunks will run; others' turns are added below
                timing = JobControls(owner=visitor_id())
                estimate = sweep_state.estimates[key] = estimate_sweep(plan, dataset, pacing=timing)
        except CoreError as err:
            reason = plain(error_reason(err), 300)
            st.error(f"Cannot sweep these settings: {reason}", icon=":material/warning:")
            return
    if estimate is not None:  # the trainings running now, every rerun: they start and end meanwhile
        estimate = estimate.sharing(running_trainings(excluding=sweep_state.job), visitor_id())  # not itself
    what = "widths" if plan.setting == WIDTH else f"values of the {plan.swept.label}"
    # presenter mode hides the seeds: it says what they are instead of naming a setting it does not show
    tries = f"{len(plan.seeds)} seeds" if advanced() else f"{len(plan.seeds)} random starts each"
    models = f"**{plan.models} models** ({len(plan.values)} {what} × {tries})"
    where = f"{plan.config.epochs} epoch{'s' if plan.config.epochs > 1 else ''} each on {dataset_title(dataset.name)}"
    if estimate is None:
        st.info(f"{models}, {where}. The time is estimated once the running sweep ends.", icon=":material/timer:")
    else:
        st.info(
            f"{models}, {where}. Estimated time: **about {duration(estimate.total_s)}** ({estimate.describe()}).",
            icon=":material/timer:",
        )
    started = st.button(
        "Start sweep", icon=":material/play_arrow:", type="primary", key="sweep.start", disabled=busy,
        help="A sweep is running: stop it first" if busy else "Train every model, value after value; "
        "the results appear as each value finishes",
    )  # fmt: skip
    if started:
        job = SweepJob(
            plan, dataset, estimate, keep_alive=session_alive_check(), grace_s=tab_grace_seconds(), owner=visitor_id()
        )
        sweep_state.job = job.start()
        sweep_state.handled_selection = ()
        st.rerun()


def choose_run(state: AppState, sweep_state: SweepPageState, job: SweepJob, runs) -> None:
    """A select box of the models kept (the best seed of each value), and a button that makes one current."""
    kept = [run for run in runs if run.kept]
    if not kept:
        return
    cols = st.columns([3, 1], vertical_alignment="bottom")
    index = cols[0].selectbox(
        "Model to use on the other pages", range(len(kept)), format_func=lambda i: run_label(kept[i]),
        key="sweep.choice", help="The Variables and Results pages show the model you pick here (or click a point "
        f"in the chart above). The best seed of each {job.plan.swept.label} is kept; the others keep only their "
        "scores and curves, to save memory.",
    )  # fmt: skip
    if cols[1].button("Use this model", key="sweep.use", icon=":material/check:"):
        run = make_current(state, sweep_state, job.job_id, kept[index])
        st.toast(f"Now using {plain(run.label, 200)}", icon=":material/check:")
        st.rerun(scope="app")


def chart_selection(state: AppState, sweep_state: SweepPageState, job: SweepJob, runs, event) -> None:
    """A click on a model's point in the chart makes the kept model of its value (its best seed) current."""
    points = [p for p in (event.selection.points if event else []) if isinstance(p.get("customdata"), int)]
    picked = tuple(p["customdata"] for p in points)
    if not picked or picked == sweep_state.handled_selection:
        return
    sweep_state.handled_selection = picked
    clicked = runs[picked[-1]]
    chosen = kept_run(runs, clicked.value)
    if chosen is None:
        return
    run = make_current(state, sweep_state, job.job_id, chosen)
    best = "" if chosen is clicked else f" (seed {chosen.seed}, the best of its seeds)"
    st.toast(f"Now using {plain(run.label, 200)}{best}", icon=":material/check:")
    st.rerun(scope="app")


def results_panel(active: bool) -> None:
    @st.fragment(run_every=POLL_SECONDS if active else None)
    def panel() -> None:
        state, sweep_state = get_state(), get_sweep_state()
        job = sweep_state.job
        if job is None:
            st.info("No sweep yet: check the plan above and press **Start sweep**.", icon=":material/arrow_upward:")
            return
        snap = job.snapshot()
        header = st.columns([4, 1], vertical_alignment="center")
        header[0].markdown(f"#### Sweep {job.job_id}: {job.plan.describe()}")
        if snap.active:
            header[1].button("Stop", icon=":material/stop:", key="sweep.stop", on_click=job.stop,
                             help="End the sweep now; the models trained so far are kept")  # fmt: skip
        swept = job.plan.swept
        st.progress(snap.progress, text=sweep_progress_text(snap, swept))
        if snap.message and snap.status in (Status.STOPPED, Status.FAILED, Status.QUEUED):
            (st.error if snap.status == Status.FAILED else st.info)(plain(message_text(snap.message), 300))
        runs = list(snap.runs)
        finished = [r for r in runs if r.status == Status.FINISHED]
        plan_spec = job.plan.spec
        if finished:
            score = task_of(plan_spec).score.label
            event = st.plotly_chart(
                figures.sweep_figure(finished, summarise(finished), score, height=height(420), swept=swept),
                key="sweep.chart",
                on_select="rerun",
                selection_mode="points",
            )  # fmt: skip
            axis = (
                "The parameter axis is logarithmic: each doubling moves a point the same distance right."
                if swept.changes_model
                else "Right: the gap after the last epoch between the model on its training images (up to 1,000 of "
                "them, measured like the test images) and on the test images: the larger, the more it memorised."
            )
            explain(
                "Each orange point is one model, the blue line the mean over its seeds with a bar of one standard "
                f"deviation. {axis} Click a point to use the best model of its {swept.label} on the other pages "
                "(each one's best seed is kept)."
            )
            chart_selection(state, sweep_state, job, finished, event)
        if runs or snap.live_losses:
            y_title = task_of(plan_spec).loss_label(job.plan.config.reconstruction_loss)
            st.plotly_chart(
                figures.sweep_curves_figure(runs, y_title, snap.live_losses, snap.width, swept=swept),
                key="sweep.curves",
            )
            explain(f"The training loss of every model, step by step: the darker, the larger its {swept.label}.")
        if runs:
            st.dataframe(run_rows(runs), hide_index=True, key="sweep.table")
            st.caption(
                f"Time: each model's share of its {swept.label}'s wall time, compiling included (the seeds of "
                f"one {swept.label} train together in one program)."
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
