"""The Sweep page's table, labels and actions (its per-visitor state is ``AppState.sweep``)."""

from __future__ import annotations

import contextlib

import streamlit as st

from components.i18n import N_, _, ngettext
from components.run_views import duration
from components.state import AppState, Run, SweepPageState, get_state
from components.words import plain, status_words
from core.data import Dataset, dataset_title
from core.runs import store
from core.runs.sweep_job import SweepJob, SweepSnapshot
from core.training import Status, TrainConfig
from core.training.sweep import SweepPlan, kept_run
from core.training.sweep_results import SweepRun
from core.training.sweep_settings import SETTINGS, WIDTH, SweptSetting

#: What a sweep can vary, in words (the order of the select box).
SETTING_WORDS = {
    WIDTH: N_("The width of a layer: how big does the model need to be?"),
    "train_fraction": N_(
        "The share of the training images: how much data does it need before it stops memorising? (overfitting lab)"
    ),
    "l2": N_(
        "The L2 penalty: how much does a weight penalty close the gap between training and test images? "
        "(overfitting lab)"
    ),
    "dropout": N_(
        "The dropout rate of every Dropout layer: how much does dropping values while training close the gap? "
        "(overfitting lab)"
    ),
}
VALUE_HELP = {
    "train_fraction": N_(
        "Shares of the training images, separated by commas: 0.05 is 5%, 1 is all of them. Each share is a fixed "
        "choice keeping every class's share, the same for every seed."
    ),
    "l2": N_(
        "L2 penalties, separated by commas (0 = none; 0.0001 to 0.01 are typical). The loss adds the penalty times "
        "half the sum of squared weights; unlike AdamW's weight decay it goes through Adam's rescaling."
    ),
    "dropout": N_(
        "Dropout rates, separated by commas (0 = off, below 1): the share of values zeroed while training, a new "
        "random pattern every step; evaluation uses every value. Every Dropout layer of the model gets the rate "
        "(add one on the Build page first). Each rate compiles its own training step."
    ),
}


def get_sweep_state() -> SweepPageState:
    return get_state().sweep


def training_words(config: TrainConfig, defaults: dict, setting: str) -> str:
    """The Train page's settings that every model of the sweep shares, in words (the swept one left out)."""
    lab = {
        "l2": _("L2 **{value:g}**").format(value=config.l2),
        "noise": _("input noise **{value:g}**").format(value=config.noise),
        "train_fraction": _("**{share:.0%}** of the training images").format(share=config.train_fraction),
    }
    lab = [words for key, words in lab.items() if key != setting and getattr(config, key) != defaults[key]]
    first = _("Optimizer **{optimizer}**, learning rate **{rate:g}**").format(
        optimizer=config.optimizer, rate=config.learning_rate
    )
    return _(", ").join([first, *lab])


def swept_words(swept: SweptSetting, value: float) -> str:
    """``"width 64"``: a swept setting and one of its values."""
    return _("{setting} {value}").format(setting=_(swept.label), value=swept.format(value))


def sweep_progress_text(snap: SweepSnapshot, swept: SweptSetting = SETTINGS[WIDTH]) -> str:
    """One line: what the sweep is doing, how many models are done and how long is left."""
    done = sum(r.status == Status.FINISHED for r in snap.runs)
    parts = [status_words(snap.status, _("the models trained so far"))]
    if snap.active and snap.width is not None:
        parts.append(
            _("{value} ({number} of {count})").format(
                value=swept_words(swept, snap.width), number=snap.width_index + 1, count=snap.widths
            )
        )
    parts.append(ngettext("{count} model finished", "{count} models finished", done).format(count=done))
    if snap.active and snap.eta_s is not None:
        parts.append(_("about {time} left").format(time=duration(snap.eta_s)))
    elif not snap.active:
        parts.append(_("took {time}").format(time=duration(snap.elapsed_s)))
    return " · ".join(parts)


def plan_text(plan: SweepPlan, dataset: Dataset, seeds_shown: bool) -> str:
    """``**24 models** (8 widths × 3 seeds), 10 epochs each on the bundled MNIST sample``; with the seeds
    not shown (presenter mode), ``3 random starts each`` instead of naming a setting the page does not show."""
    counts = {"models": plan.models, "values": len(plan.values), "seeds": len(plan.seeds)}
    if plan.setting == WIDTH:
        models = _("**{models} models** ({values} widths × {seeds} seeds)") if seeds_shown else _(
            "**{models} models** ({values} widths × {seeds} random starts each)")  # fmt: skip
    else:
        models = _("**{models} models** ({values} values of the {setting} × {seeds} seeds)") if seeds_shown else _(
            "**{models} models** ({values} values of the {setting} × {seeds} random starts each)")  # fmt: skip
    epochs = plan.config.epochs
    where = ngettext("{epochs} epoch each on {data}", "{epochs} epochs each on {data}", epochs)
    return _("{models}, {where}").format(
        models=models.format(**counts, setting=_(plan.swept.label)),
        where=where.format(epochs=epochs, data=dataset_title(dataset.name, gettext=_)),
    )


def run_label(run: SweepRun) -> str:
    """``"width 64, seed 1: 96.2% right"`` (or the reconstruction error; or another swept setting)."""
    if run.test_accuracy is not None:
        score = _("{accuracy:.1%} right").format(accuracy=run.test_accuracy)
    else:
        score = _("error {error:.4f}").format(error=run.test_mse)
    label = _("{value}, seed {seed}: {score}").format(
        value=swept_words(SETTINGS[run.setting], run.value), seed=run.seed, score=score
    )
    return label if run.status == Status.FINISHED else f"{label} ({status_words(run.status)})"


def run_rows(runs: list[SweepRun] | tuple[SweepRun, ...]) -> list[dict]:
    """One table row per run, in the order of the swept values."""
    rows = []
    for run in sorted(runs, key=lambda r: (r.value, r.seed)):
        swept = SETTINGS[run.setting]
        row = {
            _(swept.label): run.value if swept.whole else swept.format(run.value),
            _("model"): run.spec.describe(),
            _("seed"): run.seed,
            _("parameters"): run.parameter_count,
            _("status"): status_words(run.status),
        }
        if run.test_accuracy is not None:
            row[_("test accuracy")] = f"{run.test_accuracy:.1%}"
        else:
            row[_("reconstruction error")] = round(run.test_mse, 5)
        row[_("final train loss")] = None if run.train_loss is None else round(run.train_loss, 4)
        if run.gap is not None:
            accuracy = run.test_accuracy is not None
            gap = _("{gap:.1f} percentage points").format(gap=run.gap * 100) if accuracy else round(run.gap, 5)
            row[_("train − test gap")] = gap
        row[_("time")] = duration(run.seconds)
        rows.append(row)
    return rows


def make_current(state: AppState, sweep_state: SweepPageState, job_id: int, run: SweepRun) -> Run:
    """Make a sweep's model the visitor's current one (Variables and Results show it); added once."""
    key = (job_id, run.width, run.seed)
    existing = state.run(sweep_state.added.get(key))
    if existing is None:
        label = _("{model} · sweep {number}, seed {seed} · {data}").format(
            model=run.spec.describe(), number=job_id, seed=run.seed, data=run.result.dataset
        )
        saved = None
        with contextlib.suppress(OSError):  # saved like any run; on a full disk it stays usable here
            saved = store.save_run(run.result)
        existing = state.add_run(label, run.result.dataset, loaded=run.result, saved=saved)
        sweep_state.added[key] = existing.run_id
    state.selected_run_id = existing.run_id
    state.set_spec(run.result.spec)
    return existing


def choose_run(state: AppState, sweep_state: SweepPageState, job: SweepJob, runs) -> None:
    """A select box of the models kept (the best seed of each value), and a button that makes one current."""
    kept = [run for run in runs if run.kept]
    if not kept:
        return
    cols = st.columns([3, 1], vertical_alignment="bottom")
    index = cols[0].selectbox(
        _("Model to use on the other pages"), range(len(kept)), format_func=[run_label(r) for r in kept].__getitem__,
        key="sweep.choice", help=_(
            "The Variables and Results pages show the model you pick here (or click a point in the chart above). "
            "The best seed of each {setting} is kept; the others keep only their scores and curves, to save memory."
        ).format(setting=_(job.plan.swept.label)),
    )  # fmt: skip
    if cols[1].button(_("Use this model"), key="sweep.use", icon=":material/check:"):
        run = make_current(state, sweep_state, job.job_id, kept[index])
        st.toast(_("Now using {run}").format(run=plain(run.label, 200)), icon=":material/check:")
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
    if chosen is clicked:
        said = _("Now using {run}").format(run=plain(run.label, 200))
    else:
        said = _("Now using {run} (seed {seed}, the best of its seeds)").format(
            run=plain(run.label, 200), seed=chosen.seed
        )
    st.toast(said, icon=":material/check:")
    st.rerun(scope="app")
