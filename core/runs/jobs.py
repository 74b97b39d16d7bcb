"""Training in the background: one thread per run, metrics read by whoever polls.

A dashboard script is re-run on every click, so training must not live in it
(streamlit issues #6494, #9634). ``TrainingJob`` runs ``core.training.train`` in a daemon
thread that makes no UI calls; the page keeps the job in its session and reads
``snapshot()`` a few times per second. ``stop()`` ends it within a fraction of a second
and keeps the partial model. A process-wide limit on concurrent trainings queues further
jobs instead of overloading the machine, its slots shared fairly between visitors
(``core.runs.slots``: a job may give its slot back between two chunks and wait), and
``core.runs.scheduler`` gives the running ones the machine one compiled chunk at a time, in
turn (each job's ``controls`` also pause it, step it and change its learning rate).
"""

from __future__ import annotations

import atexit
import itertools
import threading
import time
import traceback
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import jax
import numpy as np

from core import reasons
from core.data import Dataset
from core.errors import CoreError
from core.runs.priority import lower_training_priority
from core.runs.scheduler import JobControls
from core.runs.slots import SLOTS
from core.spec import ModelSpec
from core.training import Phase, Progress, Status, TrainConfig, TrainResult, steps_per_epoch, train
from core.training.estimate import CHUNK_S, Countdown, OtherTraining
from core.training.history import EpochMetrics, History
from core.training.results import ACTIVE
from core.training.speed import SpeedMeter
from core.training.stack import take

if TYPE_CHECKING:
    from core.runs.store import RunningSave

COMPILING_MESSAGE = reasons.COMPILING
GAVE_BACK_MESSAGE = reasons.GAVE_BACK


_ids = itertools.count(1)
_live_jobs: weakref.WeakSet[TrainingJob] = weakref.WeakSet()


@atexit.register
def stop_all(timeout: float = 5.0) -> list[BackgroundJob]:
    """Stop every running job (trainings and sweeps) and wait up to ``timeout`` seconds for each, so the
    process never exits mid-computation; returns those still running then (a job ends its chunk first)."""
    jobs = list(_live_jobs)
    for job in jobs:
        job.stop()
    return [job for job in jobs if not job.join(timeout)]


def running_trainings(excluding: object = None) -> list[OtherTraining]:
    """The trainings of this process taking turns now: what a sweep started now shares the machine with
    (``excluding``: a job not to count, such as the visitor's own sweep whose estimate is shown)."""
    return [other for job in list(_live_jobs) if job is not excluding and (other := job.sharing()) is not None]


@dataclass(frozen=True)
class JobSnapshot:
    """A consistent copy of a job's state at one moment, safe to draw from."""

    job_id: int
    status: Status
    step: int
    total_steps: int
    epochs: int
    step_losses: np.ndarray
    epoch_metrics: tuple[EpochMetrics, ...]
    samples_per_s: float
    elapsed_s: float
    eta_s: float | None
    compile_s: float
    message: str
    paused: bool = False
    learning_rate: float = 0.0  # the rate it trains with now
    learning_rate_changes: tuple[tuple[int, float], ...] = ()  # (step, new rate)

    @property
    def progress(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


class BackgroundJob:
    """What every background job shares: its thread, a stop event, a slot in ``SLOTS``, the
    visitor watchdog, a status with a message, the lower CPU priority and the ``on_done`` hook.

    Subclasses are dataclasses with ``on_done``, ``keep_alive``, ``grace_s`` and ``job_id``
    fields; they call ``_init_job`` from ``__post_init__`` and implement ``_work``.
    """

    on_done: Callable | None
    keep_alive: Callable[[], bool] | None
    grace_s: float
    job_id: int
    owner: object = None  # the visitor who started it (see the subclasses)
    #: the watchdog's clock and its pause between two looks at ``keep_alive`` (a test steps them by hand)
    clock: Callable[[], float] = staticmethod(time.monotonic)
    pause: Callable[[float], object] = staticmethod(time.sleep)

    def _init_job(self, thread_name: str) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._status = Status.QUEUED
        self._message = reasons.WAITING_FOR_SLOT.format(limit=SLOTS.limit)
        self.abandoned = False
        self._reniced = False
        self.controls = JobControls(self._stop, owner=self.owner, between_chunks=self._give_back_slot_if_asked)
        self._countdown = Countdown()
        self._meter = SpeedMeter()  # the shown speed and the time left at it (a training's, see TrainingJob)
        self.slot_wait_s = 0.0  # seconds it waited to get its slot back after giving it to another visitor
        self.compute_left_s: float | None = None  # the engine's latest estimate of the compute it still needs
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)

    # ----- control (any thread) ---------------------------------------------------------
    def start(self):
        _live_jobs.add(self)  # stopped and joined at interpreter exit
        self._thread.start()
        if self.keep_alive is not None:
            threading.Thread(target=self._watch, name=f"watch-{self._thread.name}", daemon=True).start()
        return self

    def _watch(self) -> None:
        """Stop the job when its visitor has been gone for ``grace_s`` (what it trained is kept)."""
        gone_since: float | None = None
        while self._thread.is_alive():
            if self.keep_alive():
                gone_since = None
            elif gone_since is None:
                gone_since = self.clock()
            elif self.clock() - gone_since >= self.grace_s:
                self.abandoned = True
                self.stop()
                return
            self.pause(min(1.0, self.grace_s / 4))

    def stop(self) -> None:
        """Ask the job to end after its current chunk of steps (also while paused); what it trained is kept."""
        self._stop.set()

    def time_left(self, estimate: float | None) -> float | None:
        """A new "time left" from the engine's ``estimate`` of its own compute, scaled by the share of
        the machine this job gets (others' turns), smoothed to count down (``Countdown``)."""
        if estimate is not None:
            self.compute_left_s = estimate
        scaled = None if estimate is None else estimate * self.controls.share
        return self._countdown.update(time.monotonic(), scaled)

    def shown_time_left(self) -> float | None:
        return self._countdown.read(time.monotonic())

    def sharing(self) -> OtherTraining | None:
        """This job as a newcomer's estimate sees it (``SweepEstimate.sharing``), or None when it takes
        no turns now: queued for a slot, paused or ended."""
        with self._lock:
            status = self._status
        if not self.alive or status not in ACTIVE or status == Status.QUEUED or self.controls.paused:
            return None
        owner = self.controls if self.owner is None else self.owner  # the scheduler's owner of its turns
        return OtherTraining(owner, self.controls.turn_s or CHUNK_S, self.compute_left_s)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it has ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # ----- the worker thread ------------------------------------------------------------
    def _set(self, status: Status, message: str = "") -> None:
        with self._lock:
            self._status = status
            self._message = message

    def _renice_once(self) -> None:
        """XLA creates its compute threads on first use: renice them once they exist."""
        if not self._reniced:
            lower_training_priority()
            self._reniced = True

    def _give_back_slot_if_asked(self) -> None:
        """Between two chunks: give the slot to a visitor who has none when ``SLOTS`` asks, and wait for it
        back; the state stays in memory, so the job goes on exactly where it stopped (a stop ends the wait)."""
        if self.controls.paused:
            with self._lock:
                self._meter.hold(time.monotonic())  # a presenter's pause does not make the run look slower
        if not SLOTS.give_back(self):
            return
        tic = time.monotonic()
        with self._lock:
            self._meter.hold(tic)
        self._countdown.hold(tic)  # no nearer its end while it waits (held before any snapshot says "queued")
        with self._lock:
            was = self._status, self._message
            self._status, self._message = Status.QUEUED, GAVE_BACK_MESSAGE
        got_it = SLOTS.wait(self, self._stop)
        toc = time.monotonic()
        self._countdown.go_on(toc)
        self.slot_wait_s += toc - tic
        if got_it:
            self._set(*was)

    def _work(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        if not SLOTS.acquire(self, self.owner, self._stop):
            self._set(Status.STOPPED, reasons.STOPPED_BEFORE_START)
            self._finish()
            return
        try:
            lower_training_priority()
            self._work()
        except CoreError as err:
            self._set(Status.FAILED, reasons.ErrorMessage(err))
        except Exception as err:  # never let a worker die silently: the page shows the reason
            traceback.print_exc()
            self._set(Status.FAILED, reasons.FAILED_UNEXPECTEDLY.format(error=f"{type(err).__name__}: {err}"))
        finally:
            SLOTS.release(self)  # none held when stopped while it waited to get its slot back
        self._finish()

    def _finish(self) -> None:
        if self.on_done is not None:
            try:
                self.on_done(self)
            except Exception:
                traceback.print_exc()


@dataclass(eq=False)  # compared and hashed by identity (jobs live in a WeakSet)
class TrainingJob(BackgroundJob):
    """One training run in a background thread."""

    spec: ModelSpec
    config: TrainConfig
    dataset: Dataset
    resume: TrainResult | None = None
    on_done: Callable[[TrainingJob], None] | None = None
    #: False once the visitor who started the job is gone (tab closed); checked every second
    keep_alive: Callable[[], bool] | None = None
    #: how long ``keep_alive`` must stay False before the job stops (a reconnect may come back)
    grace_s: float = 15.0
    job_id: int = field(default_factory=lambda: next(_ids))
    created: float = field(default_factory=time.time)
    #: the visitor who started it: their jobs share one turn of the machine (core.runs.scheduler)
    owner: object = None
    clock: Callable[[], float] = time.monotonic
    pause: Callable[[float], object] = time.sleep
    #: saves the run while it trains, at the end of an epoch when it is due (``core.runs.store.autosave``
    #: then replaces that save with the final one)
    checkpoints: RunningSave | None = None

    def __post_init__(self) -> None:
        self.total_steps = steps_per_epoch(self.config, self.dataset.num_train) * self.config.epochs
        self._init_job(f"train-{self.job_id}")
        self._losses: list[float] = list(self.resume.history.step_losses) if self.resume else []
        self._epochs: list[EpochMetrics] = list(self.resume.history.epochs) if self.resume else []
        self._progress: Progress | None = None
        self._variables = None  # the stacked variables of the last report
        self.result: TrainResult | None = None

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            progress = self._progress
            return JobSnapshot(
                job_id=self.job_id,
                status=self._status,
                step=len(self._losses),
                total_steps=self.total_steps,
                epochs=self.config.epochs,
                step_losses=np.asarray(self._losses, dtype=np.float32),
                epoch_metrics=tuple(self._epochs),
                samples_per_s=self._meter.images_per_s() or (progress.samples_per_s if progress else 0.0),
                elapsed_s=progress.elapsed_s if progress else 0.0,
                eta_s=self._shown_time_left(progress),
                compile_s=progress.compile_s if progress else 0.0,
                message=self._message,
                paused=self.controls.paused and self._status in ACTIVE,
                learning_rate=self.controls.learning_rate() or self.config.learning_rate,
                learning_rate_changes=tuple(self.controls.changes),
            )

    def _shown_time_left(self, progress: Progress | None) -> float | None:
        """The images still to train at the speed shown beside it (under the lock): 0 once ended, None
        until a few seconds of training measured that speed."""
        if progress is None:
            return None
        if self._status not in ACTIVE:
            return 0.0
        return self._meter.time_left((self.total_steps - progress.step) * self.config.batch_size)

    def latest_variables(self):
        """Read-only: the model's variables (``{"params": ...}``, and ``"batch_stats"`` with BatchNorm)
        as of its last report while training (the result's once done), or None before its first steps.
        For views that watch the model learn."""
        with self._lock:
            if self.result is not None:
                return self.result.variables
            stacked = self._variables
        return None if stacked is None else jax.tree_util.tree_map(lambda leaf: leaf[0], stacked)

    def _on_progress(self, p: Progress) -> None:
        if p.phase == Phase.TRAINING:
            self._renice_once()
            self.time_left(p.eta_s)
        save = p.state is not None and p.step < p.total_steps and self.checkpoints is not None
        save = save and self.checkpoints.due()
        with self._lock:
            if p.phase == Phase.TRAINING:
                self._meter.add(time.monotonic(), p.step * self.config.batch_size)
            self._progress = p
            if p.variables is not None:
                self._variables = p.variables
            self._losses.extend(p.new_losses[0])
            if p.epoch_metrics and p.epoch_metrics[0] is not None:
                self._epochs.append(p.epoch_metrics[0])
            if p.phase != Phase.DONE:
                self._status = p.phase.status
                self._message = COMPILING_MESSAGE if p.phase == Phase.COMPILING else ""
            history = History(list(self._losses), list(self._epochs)) if save else None
        if save:
            self.checkpoints.offer(self._run_so_far(p, history))

    def _run_so_far(self, p: Progress, history: History) -> TrainResult:
        """The run at the end of an epoch, as a checkpoint saved while it trains: the state copied to the
        host (the writer thread serialises it while training goes on), marked stopped after that epoch."""
        state = take(jax.device_get(p.state), 0)
        epoch = p.step * p.epochs // p.total_steps
        rate = self.controls.learning_rate() or self.config.learning_rate  # a resume goes on at the last rate
        return TrainResult(
            spec=self.spec, config=replace(self.config, learning_rate=rate), dataset=self.dataset.name,
            params=state.params, opt_state=state.opt_state, batch_stats=state.batch_stats, history=history,
            status=Status.STOPPED,
            reason=reasons.SAVED_AFTER_EPOCH.format(epoch=epoch, epochs=p.epochs),
            compile_s=p.compile_s, train_s=p.elapsed_s, samples_per_s=p.samples_per_s,
        )  # fmt: skip

    def _work(self) -> None:
        self._set(Status.COMPILING, COMPILING_MESSAGE)
        result = train(
            self.spec,
            self.config,
            self.dataset,
            on_progress=self._on_progress,
            stop=self._stop,
            resume=self.resume,
            pacing=self.controls,
        )
        with self._lock:
            self.result = result
            self._variables = None  # the last report's copy of the model: the result's answers from now on
            # the engine's history is the reference (a diverged chunk is rolled back)
            self._losses = list(result.history.step_losses)
            self._epochs = list(result.history.epochs)
            self._status = result.status
            self._message = result.reason
            if self.abandoned and result.status == Status.STOPPED:
                result.reason = self._message = reasons.TAB_CLOSED
