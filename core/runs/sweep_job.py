"""A sweep in a background thread: streams each value's results, stops within a fraction of a second."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from core import reasons
from core.data import Dataset
from core.runs.jobs import BackgroundJob
from core.training import Phase, Status, steps_per_epoch
from core.training.estimate import SweepEstimate
from core.training.results import ACTIVE, DONE
from core.training.sweep import SweepPlan, SweepProgress, SweepRun, eta_seconds, run_sweep

_sweep_ids = itertools.count(1)


@dataclass(frozen=True)
class SweepSnapshot:
    """A consistent copy of a sweep's state at one moment, safe to draw from."""

    job_id: int
    status: Status
    message: str
    runs: tuple[SweepRun, ...]  # in the order they finished
    width: int | None  # the width being trained
    width_index: int
    widths: int
    step: int  # of the current width (all its seeds)
    total_steps: int
    live_losses: dict[int, np.ndarray]  # seed -> step losses of the current width so far
    elapsed_s: float
    eta_s: float | None
    progress: float

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


@dataclass(eq=False)  # compared and hashed by identity (jobs live in a WeakSet)
class SweepJob(BackgroundJob):
    """A sweep in a background thread; counts as one training in ``core.runs.jobs.SLOTS``."""

    plan: SweepPlan
    dataset: Dataset
    estimate: SweepEstimate | None = None
    batched: bool = True
    on_done: Callable[[SweepJob], None] | None = None
    #: False once the visitor who started the sweep is gone (tab closed), as for ``TrainingJob``
    keep_alive: Callable[[], bool] | None = None
    grace_s: float = 15.0
    job_id: int = field(default_factory=lambda: next(_sweep_ids))
    #: the visitor who started it: their jobs share one turn of the machine (core.runs.scheduler)
    owner: object = None

    def __post_init__(self) -> None:
        for _, config in self.plan.points:  # a bad batch size (for any share of the images) fails here
            steps_per_epoch(config, self.dataset.num_train)
        self._init_job(f"sweep-{self.job_id}")
        self._runs: list[SweepRun] = []
        self._progress: SweepProgress | None = None
        self._live: dict[int, list[float]] = {}
        self._started: float | None = None  # when it got a slot
        self._ended: float | None = None

    @property
    def runs(self) -> tuple[SweepRun, ...]:
        with self._lock:
            return tuple(self._runs)

    def snapshot(self) -> SweepSnapshot:
        with self._lock:
            p = self._progress
            done = self._status in DONE
            return SweepSnapshot(
                job_id=self.job_id,
                status=self._status,
                message=self._message,
                runs=tuple(self._runs),
                width=None if done or p is None else p.width,
                width_index=p.width_index if p else 0,
                widths=len(self.plan.values),
                step=p.step if p else 0,
                total_steps=p.total_steps if p else 0,
                live_losses={} if done else {s: np.asarray(v, np.float32) for s, v in self._live.items()},
                elapsed_s=(self._ended or time.perf_counter()) - self._started if self._started else 0.0,
                eta_s=0.0
                if done
                else (self.shown_time_left() if p else (self.estimate.total_s if self.estimate else None)),
                progress=1.0 if self._status == Status.FINISHED else (p.fraction if p else 0.0),
            )

    # ----- the worker thread ------------------------------------------------------------
    def _on_progress(self, p: SweepProgress) -> None:
        if p.phase == Phase.TRAINING:
            self._renice_once()
        # wall time (others' turns included), less the time it waited to get its slot back: that will not recur
        eta = eta_seconds(p.elapsed_s - self.slot_wait_s, p.fraction, self.estimate)
        self._countdown.update(time.monotonic(), eta)
        if eta is not None:
            self.compute_left_s = eta / self.controls.share
        with self._lock:
            if self._progress is None or p.width != self._progress.width:
                self._live = {}
            self._progress = p
            for seed, losses in p.new_losses.items():
                self._live.setdefault(seed, []).extend(losses)
            self._status = p.phase.status
            template = reasons.SWEEP_COMPILING_EACH_WIDTH if self.plan.swept.changes_model else reasons.SWEEP_COMPILING
            self._message = (
                template.format(setting=self.plan.swept.label, value=self.plan.swept.format(p.width))
                if p.phase == Phase.COMPILING else ""
            )  # fmt: skip

    def _on_run(self, run: SweepRun) -> None:
        with self._lock:
            self._runs.append(run)

    def _work(self) -> None:
        self._started = time.perf_counter()
        try:
            self._set(Status.COMPILING, "preparing the first width")
            run_sweep(
                self.plan, self.dataset, on_run=self._on_run, on_progress=self._on_progress, stop=self._stop,
                estimate=self.estimate, batched=self.batched, pacing=self.controls,
            )  # fmt: skip
        finally:
            self._ended = time.perf_counter()
        finished = sum(r.status == Status.FINISHED for r in self.runs)
        if self._stop.is_set() and (len(self.runs) < self.plan.models or finished < len(self.runs)):
            why = "because the browser tab that started it was closed" if self.abandoned else "by request"
            self._set(
                Status.STOPPED, f"stopped {why}; {finished} of {self.plan.models} models fully trained (all kept)"
            )
        else:
            self._set(Status.FINISHED, f"{finished} of {self.plan.models} models trained")
