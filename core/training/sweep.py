"""Sweeps: train the same model at several values of one setting (and several seeds each).

The setting is one of ``SETTINGS``: the width of a layer (the width sweep), the share of
the training images, or the L2 penalty; each entry says how a value changes the model or
its training settings, so a new one (e.g. a dropout rate) is one more entry.

This module runs a sweep; ``sweep_plan`` says what it trains (``SweepPlan``), ``sweep_results``
what comes out (``SweepRun``, ``WidthSummary``); their names are importable from here too.

Values run one after another. The seeds of one value train together as one stack of the
engine (``train_stack``): each seed gets the initialisation, shuffles and augmentations a
run of its own would get, so the results equal separate runs to float rounding.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from core.data import Dataset
from core.heap import release_freed_memory
from core.spec import ModelSpec
from core.training.config import TrainConfig
from core.training.engine import train_stack
from core.training.pacing import Pacing
from core.training.results import Phase, Progress, TrainResult
from core.training.stack import steps_per_epoch
from core.training.sweep_plan import MAX_SEEDS, MAX_VALUES, SweepPlan, seed_groups
from core.training.sweep_results import SweepRun, WidthSummary, keep_the_best_seed, kept_run, summarise, sweep_run
from core.training.sweep_settings import ALL_LAYERS, SETTINGS, WIDTH, scalable_layers, sized_layers, spec_with_width
from core.training.sweep_settings import DEFAULT_WIDTHS as DEFAULT_WIDTHS  # an MLP's defaults
from core.training.sweep_settings import default_widths as default_widths  # the Sweep page's, per layer

if TYPE_CHECKING:
    from core.training.estimate import SweepEstimate

__all__ = [
    "ALL_LAYERS", "DEFAULT_WIDTHS", "MAX_SEEDS", "MAX_VALUES", "SETTINGS", "WIDTH", "SweepPlan", "SweepProgress",
    "SweepRun", "WidthSummary", "default_widths", "eta_seconds", "keep_the_best_seed", "kept_run", "run_sweep",
    "scalable_layers", "seed_groups", "sized_layers", "spec_with_width", "summarise", "sweep_run", "sweep_runs",
]  # fmt: skip


@dataclass(frozen=True)
class SweepProgress:
    """What ``run_sweep`` reports after each chunk of steps of the width being trained."""

    phase: Phase
    width: int
    width_index: int  # 0-based, in plan order
    widths: int
    step: int  # steps done by the current width's models
    total_steps: int
    new_losses: dict[int, tuple[float, ...]]  # seed -> losses of its steps since the last report
    elapsed_s: float  # wall time since the sweep started, compile included
    eta_s: float | None
    fraction: float  # of the whole sweep, weighted by the estimated time of each width


def run_sweep(
    plan: SweepPlan,
    dataset: Dataset,
    *,
    on_run: Callable[[SweepRun], None] | None = None,
    on_progress: Callable[[SweepProgress], None] | None = None,
    stop: threading.Event | None = None,
    estimate: SweepEstimate | None = None,
    batched: bool = True,
    pacing: Pacing | None = None,
) -> list[SweepRun]:
    """Every run of ``sweep_runs``, in a list; ``on_run`` gets each as its width finishes (the Sweep page
    keeps them all: the best seed of each width with its parameters, the others' scores and curves)."""
    results: list[SweepRun] = []
    runs = sweep_runs(
        plan, dataset, on_progress=on_progress, stop=stop, estimate=estimate, batched=batched, pacing=pacing
    )
    for run in runs:
        results.append(run)
        if on_run is not None:
            on_run(run)
    return results


def sweep_runs(
    plan: SweepPlan,
    dataset: Dataset,
    *,
    on_progress: Callable[[SweepProgress], None] | None = None,
    stop: threading.Event | None = None,
    estimate: SweepEstimate | None = None,
    batched: bool = True,
    pacing: Pacing | None = None,
) -> Iterator[SweepRun]:
    """Train every model of ``plan``, width after width, yielding each run as its width finishes, with the
    parameters of only the best seed of each width kept (``keep_the_best_seed``). Nothing of a width is held
    here once the next one starts, so a caller that lets each run go (the command line prints it) holds
    the largest width's models at most, not the sum.

    ``batched`` trains the seeds of a width together as one stack; otherwise one stack per seed,
    the reference it must match. ``stop`` ends the sweep within a fraction of a
    second, keeping the runs so far (those of the interrupted width marked "stopped"). ``pacing``
    (a background job's) is handed to every stack, as for ``train_stack``.
    """
    stop = stop or threading.Event()
    for _, config in plan.points:  # a bad batch size (for the smallest share of the images) fails before anything runs
        steps_per_epoch(config, dataset.num_train)
    start = time.perf_counter()
    weights = list(estimate.per_width_s) if estimate else [1.0] * len(plan.values)
    for index, (width, (spec, config)) in enumerate(zip(plan.values, plan.points, strict=True)):
        if stop.is_set():
            break
        width_start = time.perf_counter()

        def progress(phase: str, step: int, total: int, new_losses: dict[int, tuple[float, ...]],
                     index: int = index, width: int = width) -> None:  # fmt: skip
            if on_progress is None:
                return
            fraction = (sum(weights[:index]) + weights[index] * step / max(total, 1)) / sum(weights)
            elapsed = time.perf_counter() - start
            eta = eta_seconds(elapsed, fraction, estimate)
            on_progress(
                SweepProgress(phase, width, index, len(plan.values), step, total, new_losses, elapsed, eta, fraction)
            )

        trained = _train_width(plan, spec, config, dataset, progress, stop, batched, pacing)
        seconds = (time.perf_counter() - width_start) / max(len(trained), 1)
        runs = keep_the_best_seed([sweep_run(width, result, dataset, seconds, plan.setting) for result in trained])
        del trained  # every seed's optimizer state goes now, before the caller sees the runs
        release_freed_memory()  # and the pages it leaves go back to the system, not kept for the next width
        while runs:
            yield runs.pop(0)  # the caller's reference is then the only one


def _train_width(
    plan: SweepPlan,
    spec: ModelSpec,
    config: TrainConfig,
    dataset: Dataset,
    progress: Callable[..., None],
    stop: threading.Event,
    batched: bool,
    pacing: Pacing | None,
) -> list[TrainResult]:
    """The seeds of one value of the sweep, trained in groups that share one stack (one a stack unbatched)."""
    trained: list[TrainResult] = []
    groups = seed_groups(spec, plan.seeds) if batched else [(seed,) for seed in plan.seeds]
    for group in groups:
        if stop.is_set():
            break
        offset = len(trained)

        def group_progress(p: Progress, group=group, offset=offset) -> None:
            losses = dict(zip(group, p.new_losses, strict=True))
            progress(p.phase, offset * p.total_steps + p.step * len(group), p.total_steps * len(plan.seeds), losses)

        members = [(spec.replace(seed=seed), replace(config, seed=seed)) for seed in group]
        trained += train_stack(members, dataset, on_progress=group_progress, stop=stop, pacing=pacing)
    return trained


def eta_seconds(elapsed: float, fraction: float, estimate: SweepEstimate | None) -> float | None:
    """Seconds left: the estimate, corrected by how fast the sweep has really gone so far."""
    if fraction >= 1:
        return 0.0
    if estimate is not None and fraction < 0.05:
        return max(0.0, estimate.total_s - elapsed)
    if fraction <= 0:
        return None
    return elapsed / fraction * (1 - fraction)
