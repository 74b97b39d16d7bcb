"""The Sweep page's table, labels and actions (its per-visitor state is ``AppState.sweep``)."""

from __future__ import annotations

import contextlib

from components.run_views import duration
from components.state import AppState, Run, SweepPageState, get_state
from components.words import status_words
from core.runs import store
from core.runs.sweep_job import SweepSnapshot
from core.training import Status
from core.training.sweep_results import SweepRun
from core.training.sweep_settings import SETTINGS, WIDTH, SweptSetting


def get_sweep_state() -> SweepPageState:
    return get_state().sweep


def sweep_progress_text(snap: SweepSnapshot, swept: SweptSetting = SETTINGS[WIDTH]) -> str:
    """One line: what the sweep is doing, how many models are done and how long is left."""
    done = sum(r.status == Status.FINISHED for r in snap.runs)
    parts = [status_words(snap.status, "the models trained so far")]
    if snap.active and snap.width is not None:
        parts.append(f"{swept.label} {swept.format(snap.width)} ({snap.width_index + 1} of {snap.widths})")
    parts.append(f"{done} models finished")
    if snap.active and snap.eta_s is not None:
        parts.append(f"about {duration(snap.eta_s)} left")
    elif not snap.active:
        parts.append(f"took {duration(snap.elapsed_s)}")
    return " · ".join(parts)


def run_label(run: SweepRun) -> str:
    """``"width 64, seed 1: 96.2% right"`` (or the reconstruction error; or another swept setting)."""
    score = f"{run.test_accuracy:.1%} right" if run.test_accuracy is not None else f"error {run.test_mse:.4f}"
    status = "" if run.status == Status.FINISHED else f" ({run.status})"
    swept = SETTINGS[run.setting]
    return f"{swept.label} {swept.format(run.value)}, seed {run.seed}: {score}{status}"


def run_rows(runs: list[SweepRun] | tuple[SweepRun, ...]) -> list[dict]:
    """One table row per run, in the order of the swept values."""
    rows = []
    for run in sorted(runs, key=lambda r: (r.value, r.seed)):
        swept = SETTINGS[run.setting]
        row = {
            swept.label: run.value if swept.whole else swept.format(run.value),
            "model": run.spec.describe(),
            "seed": run.seed,
            "parameters": run.parameter_count,
            "status": run.status,
        }
        if run.test_accuracy is not None:
            row["test accuracy"] = f"{run.test_accuracy:.1%}"
        else:
            row["reconstruction error"] = round(run.test_mse, 5)
        row["final train loss"] = None if run.train_loss is None else round(run.train_loss, 4)
        if run.gap is not None:
            accuracy = run.test_accuracy is not None
            row["train − test gap"] = f"{run.gap * 100:.1f} percentage points" if accuracy else round(run.gap, 5)
        row["time"] = duration(run.seconds)
        rows.append(row)
    return rows


def make_current(state: AppState, sweep_state: SweepPageState, job_id: int, run: SweepRun) -> Run:
    """Make a sweep's model the visitor's current one (Variables and Results show it); added once."""
    key = (job_id, run.width, run.seed)
    existing = state.run(sweep_state.added.get(key))
    if existing is None:
        label = f"{run.spec.describe()} · sweep {job_id}, seed {run.seed} · {run.result.dataset}"
        saved = None
        with contextlib.suppress(OSError):  # saved like any run; on a full disk it stays usable here
            saved = store.save_run(run.result)
        existing = state.add_run(label, run.result.dataset, loaded=run.result, saved=saved)
        sweep_state.added[key] = existing.run_id
    state.selected_run_id = existing.run_id
    state.set_spec(run.result.spec)
    return existing
