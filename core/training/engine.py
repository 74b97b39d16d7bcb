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
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from core import models
from core.data import Dataset
from core.errors import ConfigError
from core.spec import ModelSpec
from core.tasks import task_of
from core.training.config import TrainConfig
from core.training.devices import DeviceData, Layout, device_data
from core.training.divergence import divergence_reason, first_bad_step, loss_limit
from core.training.history import EpochMetrics, History
from core.training.optimizer import fresh_state, with_hyperparameters
from core.training.overfitting import TrainEvalData, dataset_indices, subset_plan, subset_size, train_eval_data
from core.training.pacing import FreeRun, Pacing, next_rate
from core.training.programs import (
    MAX_CHUNK_STEPS,
    ModelState,
    Program,
    compile_once,
    epoch_plan,
    evaluation_sums,
    is_compiled,
    plan_rows,
    train_steps,
)
from core.training.results import Phase, Progress, Status, TrainResult

Member = tuple[ModelSpec, TrainConfig]  # one model of a stack: its spec (init seed) and config (data seed)


def steps_per_epoch(config: TrainConfig, num_train: int) -> int:
    """Full batches per epoch over the images ``config.train_fraction`` keeps of ``num_train`` (the
    last partial batch is dropped: every step sees ``batch_size`` images)."""
    used = subset_size(num_train, config.train_fraction)
    if config.batch_size > used:
        part = "" if used == num_train else f" ({config.train_fraction:.0%} of {num_train:,})"
        raise ConfigError(
            "batch_size",
            f"batch size {config.batch_size:,} is larger than the {used:,} training images{part}; use at most {used:,}",
        )
    return used // config.batch_size


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


def take(tree: Any, m: int) -> Any:
    """Model ``m`` of a stacked pytree."""
    return jax.tree_util.tree_map(lambda leaf: leaf[m], tree)


def stack(trees: Sequence[Any]) -> Any:
    """Pytrees of one structure stacked along a new leading model axis (on the host: no compile per shape)."""
    return jax.tree_util.tree_map(lambda *leaves: np.stack([np.asarray(leaf) for leaf in leaves]), *trees)


def fresh_model_state(spec: ModelSpec, config: TrainConfig) -> ModelState:
    """Where training starts: flax's ``model.init`` parameters and batch_stats, and a fresh optimizer state."""
    variables = models.init_variables(spec)
    params = variables["params"]
    return ModelState(params, fresh_state(config, params), variables.get("batch_stats", {}))


def resumed_state(result: TrainResult, config: TrainConfig) -> ModelState:
    """A result's parameters and optimizer state, with ``config``'s hyperparameters written in."""
    return ModelState(result.params, with_hyperparameters(result.opt_state, config), result.batch_stats)


def stack_evaluation_sums(spec: ModelSpec, loss: str, models_: int, variables, images, labels, mask):
    """``programs.evaluation_sums`` of every model of a stack: {name: array with a leading model axis}."""
    evaluate = partial(evaluation_sums, spec, loss)
    if models_ == 1:
        return jax.tree_util.tree_map(lambda x: x[None], evaluate(take(variables, 0), images, labels, mask))
    return jax.vmap(evaluate, in_axes=(0, None, None, None))(variables, images, labels, mask)


def evaluation_program(spec: ModelSpec, loss: str, models_: int) -> tuple:
    """The static part of a stack's evaluation: shared by every config that trains this shape."""
    return (spec.replace(seed=0), loss, models_)


@dataclass
class Stack:
    """The compiled programs of one stack and the data they read: ``steps`` and ``evaluate``."""

    program: Program
    data: DeviceData
    seeds: tuple[int, ...] = ()  # each model's training seed (its dropout keys)
    config: TrainConfig | None = None  # the stack's settings (L2 and noise are data of the step)
    train_eval: TrainEvalData | None = None  # the train curve's images
    compile_s: float = 0.0

    def __post_init__(self) -> None:
        config = self.config or TrainConfig()
        self.knobs = jnp.asarray([config.l2, config.noise], jnp.float32)

    def steps(self, masked: bool, states: ModelState, plans, start: int, counts, limits, first: int = 0):
        """``programs.train_steps`` for this stack (each variant compiled once per process); ``first`` is
        the run's step at batch 0 of ``plans``."""
        seeds = np.zeros(self.program.models, np.int32) if not self.seeds else np.asarray(self.seeds, np.int32)
        args = (states, self.data.train_images, self.data.train_labels, plans, jnp.int32(start),
                jnp.asarray(counts, jnp.int32), jnp.asarray(limits, jnp.float32),
                jax.device_put(seeds, self.program.layout.per_model), jnp.int32(first), self.knobs)  # fmt: skip
        return self._compiled("train", train_steps, (self.program, masked), args)(*args)

    def evaluate(self, variables, on_train: bool = False) -> dict[str, np.ndarray]:
        """The task's evaluation sums of every model (``ModelState.variables`` of a stack) on the test
        set (or, ``on_train``, on the train curve's training images): {name: array with a leading
        model axis}."""
        args = self._eval_args(variables, on_train)
        static = evaluation_program(self.program.spec, self.program.loss, self.program.models)
        sums = self._compiled("eval", stack_evaluation_sums, static, args)(*args)
        return {name: np.asarray(value) for name, value in sums.items()}

    def _eval_args(self, variables, on_train: bool) -> tuple:
        if on_train:
            return (variables, self.train_eval.images, self.train_eval.labels, self.train_eval.mask)
        return (variables, self.data.test_images, self.data.test_labels, self.data.test_mask)

    def _compiled(self, name: str, fn: Callable, static: tuple, args: tuple):
        executable, seconds = compile_once(name, fn, static, args)
        self.compile_s += seconds
        return executable

    def compile(self, states: Any, pool: ThreadPoolExecutor) -> list:
        """Start compiling the unmasked step and the evaluations (test, train curve) from the shapes of
        ``states``; the two evaluations are one program when the test set is one batch."""
        return [pool.submit(compile_once, *program) for program in self._programs(states)]

    def is_compiled(self, states: Any) -> bool:
        """Whether this process has already compiled the stack's step and evaluation."""
        return all(is_compiled(*program) for program in self._programs(states))

    def _programs(self, states: Any) -> tuple[tuple, tuple, tuple]:
        d, n, p = self.data, self.program.models, self.program
        plans = jax.ShapeDtypeStruct((n, plan_rows(p.noise), d.train_labels.shape[0]), jnp.int32,
                                     sharding=p.layout.per_model)  # fmt: skip
        seeds = jax.ShapeDtypeStruct((n,), jnp.int32, sharding=p.layout.per_model)
        step_args = (states, d.train_images, d.train_labels, plans, jnp.int32(0), jnp.zeros(n, jnp.int32),
                     jnp.zeros(n), seeds, jnp.int32(0), self.knobs)  # fmt: skip
        static = evaluation_program(p.spec, p.loss, n)
        return ("train", train_steps, (p, False), step_args), *(
            ("eval", stack_evaluation_sums, static, self._eval_args(states.variables, on_train))
            for on_train in (False, True)
        )


def plan_stack(members: Sequence[Member], dataset: Dataset) -> Stack:
    """Check that ``members`` can train as one stack and describe its programs."""
    if not members:
        raise ConfigError("models", "a stack needs at least one model")
    spec, config = members[0]
    for other_spec, other_config in members[1:]:
        if other_spec.replace(seed=0) != spec.replace(seed=0) or replace(other_config, seed=0) != replace(
            config, seed=0
        ):
            raise ConfigError("models", "the models of a stack share their shape and settings; only seeds differ")
    steps_per_epoch(config, dataset.num_train)
    classes = len(dataset.class_names)
    if spec.for_classes(classes) != spec:
        raise ConfigError(
            "num_classes",
            f"this model has {spec.num_classes} outputs but {dataset.name} has {classes} classes; "
            f"train spec.for_classes({classes})",
        )
    layout = Layout.choose(len(members), config.batch_size)
    program = Program(spec.replace(seed=0), config.optimizer, config.reconstruction_loss, config.augment,
                      config.batch_size, len(members), layout, config.l2 > 0, config.noise > 0)  # fmt: skip
    train_eval = train_eval_data(dataset, config.train_fraction, layout)
    return Stack(program, device_data(dataset, layout), tuple(c.seed for _, c in members), config, train_eval)


def state_shapes(stack_: Stack, members: Sequence[Member]) -> ModelState:
    """Shapes, dtypes and placement of a stack's states, without computing any value."""
    spec, config = members[0]
    model = models.build_model(spec)

    def one(key):
        variables = model.init(key, models.example_batch(spec))
        params = variables["params"]
        return ModelState(params, fresh_state(config, params), variables.get("batch_stats", {}))

    shape = jax.eval_shape(one, jax.random.key(0))
    n, where = stack_.program.models, stack_.program.layout.per_model
    return jax.tree_util.tree_map(lambda s: jax.ShapeDtypeStruct((n, *s.shape), s.dtype, sharding=where), shape)


def warm_up(spec: ModelSpec, config: TrainConfig, dataset: Dataset) -> float:
    """Compile what ``train(spec, config, dataset)`` will need, without training; returns seconds.

    The dashboard does this for its default models when it starts, so a first Start is
    already warm; the programs also land in the persistent compilation cache.
    """
    tic = time.perf_counter()
    members = [(spec, config)]
    stack_ = plan_stack(members, dataset)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="warm-up") as pool:
        jobs = stack_.compile(state_shapes(stack_, members), pool)
        models.init_params(spec)
        for job in jobs:
            job.result()
    return time.perf_counter() - tic


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

    def report(phase: Phase, losses=None, metrics=(), eta: float | None = None, variables=None) -> None:
        if on_progress is not None:
            on_progress(Progress(
                phase=phase, step=steps, total_steps=total_steps, epochs=config.epochs,
                new_losses=tuple(tuple(float(x) for x in seq) for seq in losses) if losses else ((),) * count,
                samples_per_s=(steps - start_steps) * config.batch_size / max(elapsed - start_elapsed, 1e-9),
                elapsed_s=elapsed, eta_s=eta, compile_s=stack_.compile_s, epoch_metrics=tuple(metrics),
                variables=variables,
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
            report(Phase.TRAINING, metrics=metrics, eta=eta())
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
