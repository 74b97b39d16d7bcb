"""Starting, continuing and restoring runs for a visitor (the glue between pages and core.runs.jobs)."""

from __future__ import annotations

import functools
import math

from components.i18n import _
from components.session import session_alive_check, tab_grace_seconds, visitor_id
from components.state import AppState, Run
from core.data import Dataset, dataset_title
from core.runs import store
from core.runs.jobs import TrainingJob
from core.spec import ModelSpec
from core.training import TrainConfig, TrainResult, steps_per_epoch


def start_training(
    state: AppState,
    spec: ModelSpec,
    config: TrainConfig,
    dataset: Dataset,
    *,
    resume: TrainResult | None = None,
    label: str | None = None,
) -> Run:
    """Start a background job (stopped if the tab closes, saved to the runs folder while it trains, at most
    once a minute at the end of an epoch, and when it ends).

    An MLP's output layer follows the dataset (26 units for EMNIST letters): the model trained, and
    the one the visitor edits from then on, has one output per class."""
    fitted = spec.for_classes(len(dataset.class_names))
    if fitted != spec:
        spec = fitted
        if state.spec.for_classes(spec.num_classes) == spec:
            state.set_spec(spec)
    job = TrainingJob(
        spec, config, dataset, resume=resume, checkpoints=store.RunningSave(),
        keep_alive=session_alive_check(), grace_s=tab_grace_seconds(), owner=visitor_id(),
    )  # fmt: skip
    label = label or _("{model} · {optimizer} lr {rate:g} · {data}").format(
        model=spec.describe(),
        optimizer=config.optimizer,
        rate=config.learning_rate,
        data=_(dataset_title(dataset.name)),
    )
    run = state.add_run(label, dataset.name, job=job)
    job.on_done = functools.partial(_save_and_keep, state, run)
    job.start()
    return run


def _save_and_keep(state: AppState, run: Run, job: TrainingJob) -> None:
    """A job's end (in its thread): saved into runs/, then its model counted in the visitor's share of memory."""
    store.autosave(job)
    state.keep_finished(run)


def continue_training(state: AppState, run: Run, more_epochs: int, dataset: Dataset) -> Run:
    """Train ``run``'s model for ``more_epochs`` more full epochs, optimizer state kept.

    A run stopped inside an epoch first completes that epoch; the curve continues where it ended.
    """
    result = run.full_result()  # with its optimizer state
    done = result.steps / steps_per_epoch(result.config, dataset.num_train)
    config = result.config.with_epochs(math.floor(done) + more_epochs)
    return start_training(
        state,
        result.spec,
        config,
        dataset,
        resume=result,
        label=_("{label} · continued to {epochs} epochs").format(label=run.label, epochs=config.epochs),
    )


def restore_saved(state: AppState, saved: store.SavedRun) -> Run:
    """Load a run from the runs folder into this visitor's list and make it the current model."""
    result = saved.load()
    label = _("{model} · saved {run}").format(model=result.spec.describe(), run=saved.run_id)
    run = state.add_run(label, result.dataset, loaded=result, saved=saved)
    state.set_spec(result.spec)
    return run


def save_status(run: Run) -> str:
    """Where the run was saved, in words (while it trains: its last save, if any; once its model has left
    memory over budget, that it is read back from there)."""
    where = _saved_where(run)
    if run.lost:
        return _("{where}; its file has gone from the runs folder since its model left memory").format(where=where)
    if run.kept is not None and not run.kept.held:
        return _("{where}; out of memory until it is used again").format(where=where)
    return where


def _saved_where(run: Run) -> str:
    job = run.job
    if job is None:
        return _("saved as {run}").format(run=run.kept.saved.run_id) if run.kept and run.kept.saved else _("loaded")
    if getattr(job, "save_error", None):
        return job.save_error
    saved = getattr(job, "saved_run", None)
    if saved:
        return _("saved as {run}").format(run=saved.run_id)
    running = getattr(job, "checkpoints", None)
    if running is not None and running.saved is not None:
        return _("saved after epoch {epoch} as {run}").format(
            epoch=running.saved.summary["epochs_done"], run=running.saved.run_id
        )
    return ""
