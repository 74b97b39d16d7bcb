"""The one training engine: a stack of models that share the data and the batch plan of every epoch.

A stack is N models of one shape and one training config that differ only in their seeds:
N = 1 for a run of the Train page, N = the seeds of one point of a sweep. Every model of a
stack gets exactly what it would get trained alone (its initial values, its shuffles and
augmentations), so a stack of N equals N separate runs to float rounding.

``train_stack`` runs chunks of steps sized to ~0.2 s (``chunk_steps``), so a stop request
is honoured within a fraction of a second; evaluates after every epoch; resumes from
earlier results exactly where they stopped; and, when a model's loss becomes NaN or
explodes, replays that chunk up to its last good step, so it keeps its last good
parameters, while the other models go on (per-model masking). Each of these exists once,
here. ``train`` is the stack of one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import jax
import numpy as np

from core import reasons
from core.data import Dataset
from core.errors import ConfigError
from core.i18n import N_
from core.spec import ModelSpec
from core.tasks import task_of
from core.training.config import TrainConfig
from core.training.divergence import divergence_reason, first_bad_step, loss_limit
from core.training.history import EpochMetrics, History
from core.training.overfitting import dataset_indices, subset_plan
from core.training.pacing import FreeRun, Pacing, next_rate
from core.training.programs import MAX_CHUNK_STEPS, ModelState, epoch_plan
from core.training.results import Phase, Progress, Status, TrainResult
from core.training.stack import (
    Member,
    Stack,
    fresh_model_state,
    plan_stack,
    resumed_state,
    stack,
    state_shapes,
    steps_per_epoch,
    take,
)


def chunk_steps(seconds_per_step: float | None, steps_left: int, chunk_seconds: float) -> int:
    """How many steps the next compiled call runs: 2 to measure first, then about ``chunk_seconds``
    worth (at least 1, at most MAX_CHUNK_STEPS and what is left of the epoch)."""
    if seconds_per_step is None:
        return min(2, steps_left)
    return int(min(MAX_CHUNK_STEPS, steps_left, max(1, chunk_seconds / seconds_per_step)))


def smoothed_step_time(previous: float | None, step_time: float) -> float:
    """The running estimate of seconds per step (the first chunk includes one-off dispatch costs:
    later chunks count more)."""
    return step_time if previous is None else 0.7 * previous + 0.3 * step_time


@dataclass
class _Run:
    """What the steps of one ``train_stack`` share: the compiled stack, the models' train states
    and histories, and the clock. Each model still training has done ``steps`` steps."""

    members: Sequence[Member]
    dataset: Dataset
    stack: Stack
    histories: list[History]
    elapsed: float  # seconds spent in training chunks, a resumed run's included
    on_progress: Callable[[Progress], None] | None
    states: ModelState | None = None
    eval_job: Future | None = None
    rate: float = 0.0  # the learning rate the states train with
    changes: list = field(default_factory=list)  # [step, rate] of each change while training
    seconds_per_step: float | None = None
    eval_seconds: float = 0.0
    sums: dict[str, np.ndarray] | None = None  # the last evaluation of every model
    sums_at: list[int] = field(default_factory=list)  # the step of each model at that evaluation

    def __post_init__(self) -> None:
        self.config = self.members[0][1]
        self.task = task_of(self.members[0][0])
        self.count = len(self.members)
        self.per_epoch = steps_per_epoch(self.config, self.dataset.num_train)
        self.total_steps = self.per_epoch * self.config.epochs
        self.steps = self.start_steps = self.histories[0].steps
        self.start_elapsed = self.elapsed
        self.evaluated = self.steps // self.per_epoch  # epochs whose evaluation is done
        self.status, self.reasons = [Status.FINISHED] * self.count, [""] * self.count
        self.alive = np.ones(self.count, bool)
        self.indices = dataset_indices(self.dataset, self.config.train_fraction)

    def samples_per_s(self, steps: int) -> float:
        return (steps - self.start_steps) * self.config.batch_size / max(self.elapsed - self.start_elapsed, 1e-9)

    def eta(self) -> float:
        steps_left = self.total_steps - self.steps
        return steps_left * (self.seconds_per_step or 0.0) + (self.config.epochs - self.evaluated) * self.eval_seconds

    def report(self, phase: Phase, losses=None, metrics=(), eta: float | None = None, variables=None, state=None):
        if self.on_progress is not None:
            self.on_progress(Progress(
                phase=phase, step=self.steps, total_steps=self.total_steps, epochs=self.config.epochs,
                new_losses=tuple(tuple(float(x) for x in seq) for seq in losses) if losses else ((),) * self.count,
                samples_per_s=self.samples_per_s(self.steps), elapsed_s=self.elapsed, eta_s=eta,
                compile_s=self.stack.compile_s, epoch_metrics=tuple(metrics), variables=variables, state=state,
            ))  # fmt: skip

    def place(self, values: np.ndarray) -> jax.Array:
        """Per-model values on the devices of the models' axis."""
        return jax.device_put(values, self.stack.program.layout.per_model)


def train_stack(
    members: Sequence[Member],
    dataset: Dataset,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
    resume: Sequence[TrainResult] | None = None,
    chunk_seconds: float = 0.2,
    pacing: Pacing | None = None,
) -> list[TrainResult]:
    """Train every model of ``members`` for ``config.epochs`` epochs (in total, counting a resumed run).

    ``on_progress`` is called from this thread after every chunk of steps; setting ``stop``
    ends the run after the current chunk, keeping the parameters and history so far.
    ``resume`` continues earlier results of the same models (one per member, all at the
    same step) exactly where they stopped. ``pacing`` (a background job's) is asked before every
    chunk and evaluation: it may wait for the job's turn or while paused, limit the chunk's
    steps, and change the learning rate.
    """
    stop = stop or threading.Event()
    pacing = pacing or FreeRun()
    run = create_run(members, dataset, resume, on_progress)
    while run.steps < run.total_steps and run.alive.any() and not stop.is_set():
        if train_epoch(run, pacing, stop, chunk_seconds) and run.alive.any():
            evaluate_epoch(run, pacing)
    return assemble_results(run)


def create_run(
    members: Sequence[Member],
    dataset: Dataset,
    resume: Sequence[TrainResult] | None,
    on_progress: Callable[[Progress], None] | None,
) -> _Run:
    """The run's compiled programs and train states: fresh ones (``model.init`` and the optimizer's
    init) or those of ``resume``, with the config's hyperparameters written in."""
    if resume is not None:
        _check_resumable(resume, members)
    histories = [History() for _ in members] if resume is None else [r.history.copy() for r in resume]
    elapsed = 0.0 if resume is None else max(r.train_s for r in resume)
    run = _Run(members, dataset, plan_stack(members, dataset), histories, elapsed, on_progress)
    run.report(Phase.COMPILING)
    tic = time.perf_counter()
    # The step compiles in a thread while the starting values are computed (flax's init compiles
    # here), then the evaluation compiles in that thread while training runs: it is first needed
    # an epoch later. Three compiles at once on two cores made the first step ~0.3 s later.
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="compile")
    shapes = state_shapes(run.stack, members)
    compiled_before = run.stack.is_compiled(shapes)  # known now, not by racing the compile thread below
    step_job, *eval_jobs = run.stack.compile(shapes, pool)
    pool.shutdown(wait=False)
    if resume is not None:
        states = stack([resumed_state(r, c) for r, (_, c) in zip(resume, members, strict=True)])
    else:
        states = stack([fresh_model_state(spec, c) for spec, c in members])
    run.states = run.place(states)
    run.eval_job = eval_jobs[-1]  # the train curve's evaluation is compiled last
    run.rate = run.config.learning_rate  # resumed_state wrote the config's rate in
    step_job.result()
    if not compiled_before:  # the wait for the step's compile (the evaluation's goes on meanwhile)
        run.stack.compile_s = time.perf_counter() - tic
    return run


def train_epoch(run: _Run, pacing: Pacing, stop: threading.Event, chunk_seconds: float) -> bool:
    """Train the rest of the current epoch chunk by chunk, until it ends, every model has stopped
    (diverged) or ``stop`` is set; whether the epoch ended."""
    epoch, offset = divmod(run.steps, run.per_epoch)
    plans = run.place(np.stack([
        subset_plan(epoch_plan(c.seed, epoch, len(run.indices), run.stack.program.noise), run.indices,
                    run.dataset.num_train)
        for _, c in run.members
    ]))  # fmt: skip
    first_step = epoch * run.per_epoch  # the run's step at batch 0 of this epoch's plan
    while offset < run.per_epoch and run.alive.any() and not stop.is_set():
        done = train_chunk(run, plans, offset, first_step, pacing, stop, chunk_seconds)
        if done is None:
            break
        offset += done
    return offset == run.per_epoch


def train_chunk(
    run: _Run,
    plans: jax.Array,
    offset: int,
    first_step: int,
    pacing: Pacing,
    stop: threading.Event,
    chunk_seconds: float,
) -> int | None:
    """One compiled call of about ``chunk_seconds``: the steps done, or None when ``stop`` was set while
    the job waited for its turn. A model whose loss diverged keeps its steps before the bad one."""
    with pacing.turn():
        if stop.is_set():  # asked while this job waited for its turn (or was paused)
            return None
        run.states, run.rate = next_rate(pacing, run.states, run.rate, run.steps, run.changes)
        wanted = pacing.allowed_steps(chunk_steps(run.seconds_per_step, run.per_epoch - offset, chunk_seconds))
        counts = np.where(run.alive, wanted, 0)
        limits = [loss_limit(h) for h in run.histories]
        tic = time.perf_counter()
        new_states, losses, done = run.stack.steps(
            not run.alive.all(), run.states, plans, offset, counts, limits, first_step
        )
        losses, done = np.asarray(losses), int(done)
        toc = time.perf_counter() - tic
    pacing.ran(done)
    run.elapsed += toc
    kept = _steps_kept(run, losses, np.minimum(counts, done))
    if (kept < np.minimum(counts, done)).any():
        # Replay the chunk: a diverged model stops before its bad step, the others redo their steps.
        new_states = run.states
        if kept.any():
            new_states, _, _ = run.stack.steps(
                run.count > 1, run.states, plans, offset, kept, np.full(run.count, np.inf), first_step
            )
    run.states = new_states
    for m in np.flatnonzero(run.alive):
        run.histories[m].step_losses.extend(float(x) for x in losses[m, : kept[m]])
    run.alive &= np.array([s == Status.FINISHED for s in run.status])
    run.steps += done
    run.seconds_per_step = smoothed_step_time(run.seconds_per_step, toc / max(done, 1))
    run.report(Phase.TRAINING, [losses[m, : kept[m]] for m in range(run.count)], eta=run.eta(),
               variables=run.states.variables)  # fmt: skip
    return done


def _steps_kept(run: _Run, losses: np.ndarray, ran: np.ndarray) -> np.ndarray:
    """The steps of this chunk each model keeps: all it ran, or those before its loss diverged
    (that model is then marked DIVERGED with the reason)."""
    kept = ran.copy()
    for m in np.flatnonzero(run.alive):
        bad, first = first_bad_step(run.histories[m], losses[m, : kept[m]])
        if bad is not None:
            kept[m] = max(bad - 1, 0)
            run.status[m] = Status.DIVERGED
            kept_steps = run.histories[m].steps + kept[m]
            run.reasons[m] = divergence_reason(
                losses[m, bad], first, run.steps + bad + 1, kept_steps, run.members[m][1]
            )
    return kept


def evaluate_epoch(run: _Run, pacing: Pacing) -> None:
    """Evaluate every model still training on the test images and the train curve's images, and add
    the epoch's metrics to its history."""
    run.report(Phase.EVALUATING, eta=run.eta())
    run.eval_job.result()  # compiled in the background while the first epoch trained
    with pacing.turn():
        tic = time.perf_counter()
        run.sums, run.sums_at = run.stack.evaluate(run.states.variables), [h.steps for h in run.histories]
        on_train = run.stack.evaluate(run.states.variables, on_train=True)
    metrics: list[EpochMetrics | None] = [None] * run.count
    for m in np.flatnonzero(run.alive):
        named = run.task.metrics({k: v[m] for k, v in run.sums.items()}, run.stack.data.num_test)
        fit = run.task.metrics({k: v[m] for k, v in on_train.items()}, run.stack.train_eval.count)
        metrics[m] = _epoch_metrics(run.histories[m], named, fit, run.per_epoch, run.elapsed)
        run.histories[m].epochs.append(metrics[m])
    run.eval_seconds = time.perf_counter() - tic
    run.evaluated += 1
    run.report(Phase.TRAINING, metrics=metrics, eta=run.eta(), state=run.states)


def assemble_results(run: _Run) -> list[TrainResult]:
    """One TrainResult per model: its final train state, history, status and test metrics."""
    run.eval_job.result()
    if run.sums is None or run.sums_at != [h.steps for h in run.histories]:
        run.sums = run.stack.evaluate(run.states.variables)  # the final parameters of a stopped or diverged model
    # sliced on the host: slicing on the device compiles a program per leaf shape, ~0.4 s per new model shape
    host = jax.device_get(run.states)
    results = [_result(run, m, take(host, m)) for m in range(run.count)]
    run.report(Phase.DONE, eta=0.0)
    return results


def _result(run: _Run, m: int, state: ModelState) -> TrainResult:
    spec, config = run.members[m]
    if run.rate != config.learning_rate:  # changed while it trained: a resume goes on at the last rate
        config = replace(config, learning_rate=run.rate)
    history = run.histories[m]
    if run.status[m] == Status.FINISHED and history.steps < run.total_steps:
        run.status[m] = Status.STOPPED
        run.reasons[m] = reasons.STOPPED_BY_REQUEST.format(steps=history.steps, total=run.total_steps)
    state = jax.device_put(state, jax.local_devices()[0])
    layout = run.stack.program.layout
    return TrainResult(
        spec=spec, config=config, dataset=run.dataset.name, params=state.params, opt_state=state.opt_state,
        batch_stats=state.batch_stats, history=history, status=run.status[m], reason=run.reasons[m],
        test_metrics=run.task.metrics({k: v[m] for k, v in run.sums.items()}, run.stack.data.num_test),
        compile_s=run.stack.compile_s, train_s=run.elapsed, samples_per_s=run.samples_per_s(history.steps),
        extra={"devices": layout.devices, "split": layout.split,
               "train_images": len(run.indices), "train_eval_images": run.stack.train_eval.count,
               "platform": jax.devices()[0].platform,
               **({"trained_with_seeds": [c.seed for _, c in run.members]} if run.count > 1 else {}),
               **({"learning_rate_changes": run.changes} if run.changes else {})},
    )  # fmt: skip


def train(
    spec: ModelSpec,
    config: TrainConfig,
    dataset: Dataset,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
    resume: TrainResult | None = None,
    chunk_seconds: float = 0.2,
    pacing: Pacing | None = None,
) -> TrainResult:
    """Train one model: ``train_stack`` with a stack of one."""
    return train_stack([(spec, config)], dataset, on_progress=on_progress, stop=stop,
                       resume=None if resume is None else [resume], chunk_seconds=chunk_seconds,
                       pacing=pacing)[0]  # fmt: skip


def _epoch_metrics(
    history: History, named: dict[str, float], fit: dict[str, float], per_epoch: int, elapsed: float
) -> EpochMetrics:
    epoch = history.steps // per_epoch
    epoch_losses = history.step_losses[(epoch - 1) * per_epoch : epoch * per_epoch]
    return EpochMetrics(
        epoch=epoch,
        step=history.steps,
        train_loss=float(np.mean(epoch_losses)),
        test_loss=named["loss"],
        test_accuracy=named.get("accuracy"),
        elapsed_s=elapsed,
        train_eval_loss=fit["loss"],
        train_eval_accuracy=fit.get("accuracy"),
    )


def _check_resumable(previous: Sequence[TrainResult], members: Sequence[Member]) -> None:
    if len(previous) != len(members):
        raise ConfigError("resume", N_("give one earlier result per model to resume"))
    for result, (spec, config) in zip(previous, members, strict=True):
        if result.spec != spec:
            raise ConfigError("resume", N_("a run can only be resumed with the same model"))
        if result.config.batch_size != config.batch_size or result.config.optimizer != config.optimizer:
            raise ConfigError("resume", N_("resume with the same optimizer and batch size as the original run"))
        if result.config.train_fraction != config.train_fraction:
            raise ConfigError("resume", N_("resume on the same share of the training images as the original run"))
        if result.opt_state is None:
            raise ConfigError("resume", N_("this run has no optimizer state saved, so it cannot be resumed"))
    if len({result.steps for result in previous}) > 1:
        raise ConfigError("resume", N_("the models of a stack resume from the same step"))
