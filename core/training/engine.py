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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import jax
import numpy as np

from core.data import Dataset
from core.errors import ConfigError
from core.spec import ModelSpec
from core.tasks import task_of
from core.training.config import TrainConfig
from core.training.divergence import divergence_reason, first_bad_step, loss_limit
from core.training.history import EpochMetrics, History
from core.training.overfitting import dataset_indices, subset_plan
from core.training.pacing import FreeRun, Pacing, next_rate
from core.training.programs import (
    MAX_CHUNK_STEPS,
    epoch_plan,
)
from core.training.results import Phase, Progress, Status, TrainResult
from core.training.stack import (
    Member,
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
    stack_ = plan_stack(members, dataset)
    program, data, count = stack_.program, stack_.data, len(members)
    config = members[0][1]
    task = task_of(members[0][0])
    per_epoch = steps_per_epoch(config, dataset.num_train)
    total_steps = per_epoch * config.epochs
    if resume is not None:
        _check_resumable(resume, members)
        histories = [r.history.copy() for r in resume]
        elapsed = max(r.train_s for r in resume)
    else:
        histories = [History() for _ in members]
        elapsed = 0.0
    steps = histories[0].steps  # every model still training has done this many
    start_steps, start_elapsed = steps, elapsed
    status, reasons = [Status.FINISHED] * count, [""] * count
    alive = np.ones(count, bool)
    seconds_per_step: float | None = None
    eval_seconds = 0.0
    evaluated = steps // per_epoch  # epochs whose evaluation is done
    sums: dict[str, np.ndarray] | None = None  # the last evaluation of every model
    sums_at: list[int] = []  # the step of each model at that evaluation

    def report(phase: Phase, losses=None, metrics=(), eta: float | None = None, variables=None, state=None) -> None:
        if on_progress is not None:
            on_progress(Progress(
                phase=phase, step=steps, total_steps=total_steps, epochs=config.epochs,
                new_losses=tuple(tuple(float(x) for x in seq) for seq in losses) if losses else ((),) * count,
                samples_per_s=(steps - start_steps) * config.batch_size / max(elapsed - start_elapsed, 1e-9),
                elapsed_s=elapsed, eta_s=eta, compile_s=stack_.compile_s, epoch_metrics=tuple(metrics),
                variables=variables, state=state,
            ))  # fmt: skip

    def eta() -> float:
        return (total_steps - steps) * (seconds_per_step or 0.0) + (config.epochs - evaluated) * eval_seconds

    report(Phase.COMPILING)
    tic = time.perf_counter()
    # The step compiles in a thread while the starting values are computed (flax's init compiles
    # here), then the evaluation compiles in that thread while training runs: it is first needed
    # an epoch later. Three compiles at once on two cores made the first step ~0.3 s later.
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="compile")
    step_job, *eval_jobs = stack_.compile(state_shapes(stack_, members), pool)
    pool.shutdown(wait=False)
    if resume is not None:
        states = stack([resumed_state(r, c) for r, (_, c) in zip(resume, members, strict=True)])
    else:
        states = stack([fresh_model_state(spec, c) for spec, c in members])
    states = jax.device_put(states, program.layout.per_model)
    eval_job = eval_jobs[-1]  # the train curve's evaluation is compiled last
    rate, changes = config.learning_rate, []  # resumed_state wrote the config's rate in
    if step_job.result()[1] or (eval_job.done() and eval_job.result()[1]) or not eval_job.done():
        stack_.compile_s = time.perf_counter() - tic

    def place(plans: np.ndarray) -> jax.Array:
        return jax.device_put(plans, program.layout.per_model)

    indices = dataset_indices(dataset, config.train_fraction)
    while steps < total_steps and alive.any() and not stop.is_set():
        epoch, offset = divmod(steps, per_epoch)
        plans = place(np.stack([subset_plan(epoch_plan(c.seed, epoch, len(indices), program.noise), indices,
                                            dataset.num_train) for _, c in members]))  # fmt: skip
        first_step = epoch * per_epoch  # the run's step at batch 0 of this epoch's plan
        while offset < per_epoch and alive.any() and not stop.is_set():
            with pacing.turn():
                if stop.is_set():  # asked while this job waited for its turn (or was paused)
                    break
                states, rate = next_rate(pacing, states, rate, steps, changes)
                wanted = pacing.allowed_steps(chunk_steps(seconds_per_step, per_epoch - offset, chunk_seconds))
                counts = np.where(alive, wanted, 0)
                limits = [loss_limit(h) for h in histories]
                tic = time.perf_counter()
                new_states, losses, done = stack_.steps(
                    not alive.all(), states, plans, offset, counts, limits, first_step
                )
                losses, done = np.asarray(losses), int(done)
                toc = time.perf_counter() - tic
            pacing.ran(done)
            elapsed += toc
            kept = np.minimum(counts, done)  # the steps of this chunk each model keeps
            for m in np.flatnonzero(alive):
                bad, first = first_bad_step(histories[m], losses[m, : kept[m]])
                if bad is not None:
                    kept[m] = max(bad - 1, 0)
                    status[m] = Status.DIVERGED
                    kept_steps = histories[m].steps + kept[m]
                    reasons[m] = divergence_reason(losses[m, bad], first, steps + bad + 1, kept_steps, members[m][1])
            if (kept < np.minimum(counts, done)).any():
                # Replay the chunk: a diverged model stops before its bad step, the others redo their steps.
                new_states = states
                if kept.any():
                    new_states, _, _ = stack_.steps(
                        count > 1, states, plans, offset, kept, np.full(count, np.inf), first_step
                    )
            states = new_states
            for m in np.flatnonzero(alive):
                histories[m].step_losses.extend(float(x) for x in losses[m, : kept[m]])
            alive &= np.array([s == Status.FINISHED for s in status])
            offset += done
            steps += done
            seconds_per_step = smoothed_step_time(seconds_per_step, toc / max(done, 1))
            report(Phase.TRAINING, [losses[m, : kept[m]] for m in range(count)], eta=eta(), variables=states.variables)
        if offset == per_epoch and alive.any():
            report(Phase.EVALUATING, eta=eta())
            eval_job.result()  # compiled in the background while the first epoch trained
            with pacing.turn():
                tic = time.perf_counter()
                sums, sums_at = stack_.evaluate(states.variables), [h.steps for h in histories]
                on_train = stack_.evaluate(states.variables, on_train=True)
            metrics: list[EpochMetrics | None] = [None] * count
            for m in np.flatnonzero(alive):
                named = task.metrics({k: v[m] for k, v in sums.items()}, data.num_test)
                fit = task.metrics({k: v[m] for k, v in on_train.items()}, stack_.train_eval.count)
                metrics[m] = _epoch_metrics(histories[m], named, fit, per_epoch, elapsed)
                histories[m].epochs.append(metrics[m])
            eval_seconds = time.perf_counter() - tic
            evaluated += 1
            report(Phase.TRAINING, metrics=metrics, eta=eta(), state=states)
    eval_job.result()
    if sums is None or sums_at != [h.steps for h in histories]:
        sums = stack_.evaluate(states.variables)  # the final parameters of a stopped or diverged model
    results = []
    # sliced on the host: slicing on the device compiles a program per leaf shape, ~0.4 s per new model shape
    host = jax.device_get(states)
    for m, (spec, member_config) in enumerate(members):
        if rate != member_config.learning_rate:  # changed while it trained: a resume goes on at the last rate
            member_config = replace(member_config, learning_rate=rate)
        if status[m] == Status.FINISHED and histories[m].steps < total_steps:
            status[m] = Status.STOPPED
            reasons[m] = f"stopped by request after {histories[m].steps:,} of {total_steps:,} steps"
        state = jax.device_put(take(host, m), jax.local_devices()[0])
        results.append(TrainResult(
            spec=spec, config=member_config, dataset=dataset.name, params=state.params, opt_state=state.opt_state,
            batch_stats=state.batch_stats,
            history=histories[m], status=status[m], reason=reasons[m],
            test_metrics=task.metrics({k: v[m] for k, v in sums.items()}, data.num_test),
            compile_s=stack_.compile_s, train_s=elapsed,
            samples_per_s=(histories[m].steps - start_steps) * config.batch_size / max(elapsed - start_elapsed, 1e-9),
            extra={"devices": program.layout.devices, "split": program.layout.split,
                   "train_images": len(indices), "train_eval_images": stack_.train_eval.count,
                   "platform": jax.devices()[0].platform,
                   **({"trained_with_seeds": [c.seed for _, c in members]} if count > 1 else {}),
                   **({"learning_rate_changes": changes} if changes else {})},
        ))  # fmt: skip
    report(Phase.DONE, eta=0.0)
    return results


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
        raise ConfigError("resume", "give one earlier result per model to resume")
    for result, (spec, config) in zip(previous, members, strict=True):
        if result.spec != spec:
            raise ConfigError("resume", "a run can only be resumed with the same model")
        if result.config.batch_size != config.batch_size or result.config.optimizer != config.optimizer:
            raise ConfigError("resume", "resume with the same optimizer and batch size as the original run")
        if result.config.train_fraction != config.train_fraction:
            raise ConfigError("resume", "resume on the same share of the training images as the original run")
        if result.opt_state is None:
            raise ConfigError("resume", "this run has no optimizer state saved, so it cannot be resumed")
    if len({result.steps for result in previous}) > 1:
        raise ConfigError("resume", "the models of a stack resume from the same step")
