"""Width sweeps: train the same model at several widths of one layer (and several seeds each).

A ``SweepPlan`` names the base model, the layer to vary (an index into ``spec.layers``, or
``"all"``), the widths and the seeds; every model gets the same data, epochs, batch size
and optimiser. ``"all"`` scales every hidden layer together: each value is the new width
of the widest of them and the others keep their proportions (rounded, at least 1); an
autoencoder's code layer keeps its size, so only the capacity around it changes.

Widths run one after another. The seeds of one width are trained together by
``train_seeds``: one compiled program steps a stack of models (``jax.vmap`` over a leading
"model" axis of params and optimiser states), each with the initialisation, shuffles and
augmentations that ``train()`` gives that seed, so the results equal separate runs to float
rounding. On a CPU a batched step costs about what the separate steps cost (the cores are
already busy); what batching saves there is compiling and initialising each seed's model apart.

``estimate_sweep`` times a few real steps of the smallest and largest model on this machine
and extrapolates, so a person sees how long a sweep will take before starting it.
``SweepJob`` runs a sweep in a background thread (one of ``core.runs.SLOTS``), streams each
width's results as they finish and stops within a fraction of a second.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from core.data import Dataset
from core.errors import ConfigError, SpecError
from core.history import History
from core.jax_setup import compilation_cache_dir
from core.runs import ACTIVE, DONE, BackgroundJob
from core.spec import MAX_SEED, MAX_WIDTH, MIN_WIDTH, Layer, ModelSpec
from core.train import (
    MAX_CHUNK_STEPS,
    DeviceData,
    Program,
    TrainConfig,
    TrainResult,
    TrainState,
    chunk_steps,
    compile_once,
    device_data,
    divergence_reason,
    epoch_metrics,
    epoch_order,
    evaluation_sums,
    first_bad_step,
    init_state,
    loss_limit,
    make_optimizer,
    optimizer_step,
    smoothed_step_time,
    steps_per_epoch,
    train,
)

ALL_LAYERS = "all"
DEFAULT_WIDTHS: tuple[int, ...] = (8, 16, 32, 64, 128, 256, 512, 1024)
MAX_VALUES = 16
MAX_SEEDS = 10
#: Most parameters (all seeds together) trained in one batched program; more seeds are split.
BATCH_PARAMETER_BUDGET = 20_000_000
#: Assumed compile time of one model's programs before any has been measured in this process.
TYPICAL_COMPILE_S = 2.0


# ----- the plan -------------------------------------------------------------------------------


def parse_whole_numbers(text: Any, field_name: str, what: str) -> tuple[int, ...]:
    """``"8, 16,32"`` (or a list) -> ``(8, 16, 32)``; anything else raises ConfigError naming the field."""
    items = text.split(",") if isinstance(text, str) else text
    if not isinstance(items, (list, tuple)):
        raise ConfigError(field_name, f"{what} must be whole numbers separated by commas, got {text!r}")
    numbers = []
    for item in items:
        if isinstance(item, str) and not item.strip():
            continue
        try:
            number = float(item.strip() if isinstance(item, str) else item)
        except (TypeError, ValueError):
            raise ConfigError(field_name, f"{what} must be whole numbers separated by commas, got {item!r}") from None
        if isinstance(item, bool) or not np.isfinite(number) or number != int(number):
            raise ConfigError(field_name, f"{what} must be whole numbers, got {item!r}")
        numbers.append(int(number))
    if not numbers:
        raise ConfigError(field_name, f"give at least one of the {what}, e.g. 8,16,32")
    return tuple(numbers)


def scalable_layers(spec: ModelSpec) -> tuple[int, ...]:
    """Indices into ``spec.layers`` that ``"all"`` scales: every layer but an autoencoder's code."""
    code = len(spec.encoder) - 1 if spec.kind == "autoencoder" else None
    return tuple(i for i in range(len(spec.layers)) if i != code)


def _ordinal(n: int) -> str:
    words = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")
    return words[n - 1] if n <= len(words) else f"{n}th"


def layer_description(spec: ModelSpec, layer: int | str) -> str:
    """``"the first hidden layer (512 units)"``, ``"the code layer (16 units)"`` or ``"all hidden layers"``:
    words rather than a number, which would read differently counted from 0 or from 1."""
    if layer == ALL_LAYERS:
        return "all hidden layers" + (" (the code keeps its size)" if spec.kind == "autoencoder" else "")
    width = spec.layers[layer].width
    if spec.kind == "mlp":
        name = f"the {_ordinal(layer + 1)} hidden layer"
    elif layer == len(spec.encoder) - 1:
        name = "the code layer"
    elif layer < len(spec.encoder):
        name = f"the {_ordinal(layer + 1)} encoder layer"
    else:
        name = f"the {_ordinal(layer - len(spec.encoder) + 1)} decoder layer"
    return f"{name} ({width:,} units)"


def spec_with_width(spec: ModelSpec, layer: int | str, width: int) -> ModelSpec:
    """``spec`` with layer ``layer`` (0-based in ``spec.layers``) ``width`` units wide, or with all
    hidden layers scaled so that the widest is ``width`` wide (``layer="all"``)."""
    widths = [one.width for one in spec.layers]
    if layer == ALL_LAYERS:
        scaled = scalable_layers(spec)
        widest = max(widths[i] for i in scaled)
        for i in scaled:
            widths[i] = max(MIN_WIDTH, round(widths[i] * width / widest))
    else:
        widths[layer] = width
    layers = tuple(Layer(w, one.activation) for w, one in zip(widths, spec.layers, strict=True))
    if spec.kind == "mlp":
        return spec.replace(hidden=layers)
    return spec.replace(encoder=layers[: len(spec.encoder)], decoder=layers[len(spec.encoder) :])


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep trains: ``spec`` with ``layer`` at each of ``widths``, once per seed, all with ``config``.

    Widths are sorted and deduplicated (small models first, so the first results come fast);
    errors about them name the field ``values``, the command line's name for the widths to try;
    every model is checked on construction, so an invalid width fails before anything runs.
    ``config.seed`` is ignored: each run uses its seed for initialisation, shuffling and augmentation.
    """

    spec: ModelSpec
    layer: int | str
    widths: tuple[int, ...]
    seeds: tuple[int, ...] = (0,)
    config: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        layers = len(self.spec.layers)
        if self.layer != ALL_LAYERS:
            if isinstance(self.layer, bool) or not isinstance(self.layer, (int, str)):
                raise ConfigError("layer", f"layer must be a layer number or {ALL_LAYERS!r}, got {self.layer!r}")
            try:
                layer = int(self.layer)
            except ValueError:
                raise ConfigError(
                    "layer", f"layer must be a layer number (0 to {layers - 1}) or {ALL_LAYERS!r}, got {self.layer!r}"
                ) from None
            if not 0 <= layer < layers:
                raise ConfigError(
                    "layer", f"this model has {layers} layers, numbered 0 to {layers - 1}; got layer {layer}"
                )
            object.__setattr__(self, "layer", layer)
        elif not scalable_layers(self.spec):
            raise ConfigError("layer", "this autoencoder has no layer besides its code to scale; pick the code layer")
        widths = sorted(set(parse_whole_numbers(self.widths, "values", "widths")))
        seeds = sorted(set(parse_whole_numbers(self.seeds, "seeds", "seeds")))
        if len(widths) > MAX_VALUES:
            raise ConfigError("values", f"at most {MAX_VALUES} widths per sweep, got {len(widths)}")
        if len(seeds) > MAX_SEEDS:
            raise ConfigError("seeds", f"at most {MAX_SEEDS} seeds per width, got {len(seeds)}")
        for width in widths:
            if not MIN_WIDTH <= width <= MAX_WIDTH:
                raise ConfigError("values", f"each width must be between {MIN_WIDTH} and {MAX_WIDTH:,}, got {width:,}")
        for seed in seeds:
            if not 0 <= seed <= MAX_SEED:
                raise ConfigError("seeds", f"each seed must be between 0 and {MAX_SEED:,}, got {seed:,}")
        object.__setattr__(self, "widths", tuple(widths))
        object.__setattr__(self, "seeds", tuple(seeds))
        for width in widths:
            try:
                spec_with_width(self.spec, self.layer, width)
            except SpecError as err:
                raise ConfigError("values", f"width {width:,} gives an invalid model: {err.reason}") from None

    @property
    def specs(self) -> tuple[ModelSpec, ...]:
        """One model per width, in training order."""
        return tuple(spec_with_width(self.spec, self.layer, w) for w in self.widths)

    @property
    def models(self) -> int:
        return len(self.widths) * len(self.seeds)

    def describe(self) -> str:
        """``"MLP 784-512-256-10, layer 1 (512 units) at 8-1,024 units, seeds 0, 1"``."""
        span = f"{self.widths[0]:,}" if len(self.widths) == 1 else f"{self.widths[0]:,}-{self.widths[-1]:,}"
        seeds = ", ".join(str(s) for s in self.seeds)
        return f"{self.spec.describe()}, {layer_description(self.spec, self.layer)} at {span} units, seeds {seeds}"


def seed_groups(spec: ModelSpec, seeds: Sequence[int]) -> list[tuple[int, ...]]:
    """The seeds trained in one batched program each: all of them unless the stack would be too big."""
    per_group = max(1, BATCH_PARAMETER_BUDGET // spec.parameter_count)
    return [tuple(seeds[i : i + per_group]) for i in range(0, len(seeds), per_group)]


# ----- several seeds in one program ------------------------------------------------------------


@dataclass(frozen=True)
class SeedsProgress:
    """What ``train_seeds`` reports after each chunk of steps; ``new_losses[m]`` belongs to the m-th seed."""

    phase: str  # "compiling", "training", "evaluating", "done"
    step: int
    total_steps: int
    new_losses: tuple[tuple[float, ...], ...]
    elapsed_s: float  # training time, compile and evaluation excluded
    compile_s: float


def _steps_for_seeds(program: Program, tx, masked: bool, states, images, labels, orders, start, counts, limits):
    """Up to ``counts`` optimiser steps of every model of a stack, one vmapped step per loop iteration.

    The same update as ``core.train.train_steps`` for each model (its own epoch order ``orders[m]``
    and divergence ``limits[m]``), but under one shared loop counter:
    a while loop whose condition differed per model would be vmapped into a select over every
    parameter and optimiser state at every step (5-8% of the step time of the 784-1024-256-10 MLP
    on a CPU). Unmasked, every model takes ``counts[0]`` steps; ``masked`` lets model m stop
    after ``counts[m]`` steps (after a divergence, at that price). The loop ends after the first
    step whose loss is not finite or over its model's limit. Returns the states, the per-step
    losses (models, MAX_CHUNK_STEPS) and the number of loop iterations run.
    """

    def one_step(state, order, position):
        return optimizer_step(program, tx, images, labels, state, order, position)

    if counts.shape[0] == 1:  # one model: plain matrix products (a batch axis of 1 makes XLA's CPU dots slower)

        def every_model(states, orders, position):
            state, loss = one_step(_take(states, 0), orders[0], position)
            return jax.tree_util.tree_map(lambda leaf: leaf[None], state), loss[None]

    else:
        every_model = jax.vmap(one_step, in_axes=(0, 0, None))

    def body(carry):
        i, states, losses, _ = carry
        new, loss = every_model(states, orders, start + i)
        live = i < counts
        if masked:
            new = jax.tree_util.tree_map(
                lambda n, o: jnp.where(live.reshape(live.shape + (1,) * (n.ndim - 1)), n, o), new, states
            )
        ok = (jnp.isfinite(loss) & (loss <= limits)) | ~live
        return i + 1, new, losses.at[:, i].set(loss), jnp.all(ok)

    def cond(carry):
        i, _, _, ok = carry
        return (i < (jnp.max(counts) if masked else counts[0])) & ok

    init = (jnp.int32(0), states, jnp.zeros((counts.shape[0], MAX_CHUNK_STEPS), jnp.float32), jnp.bool_(True))
    done, states, losses, _ = jax.lax.while_loop(cond, body, init)
    return states, losses, done


def _take(tree: Any, m: int) -> Any:
    return jax.tree_util.tree_map(lambda leaf: leaf[m], tree)


def _stack(trees: Sequence[Any]) -> Any:
    return jax.tree_util.tree_map(lambda *leaves: jnp.stack(leaves), *trees)


def _orders(seeds: Sequence[int], epoch: int, n: int) -> jax.Array:
    """Each seed's epoch order and shifts, exactly as ``train()`` draws them for that seed."""
    return jnp.asarray(np.stack([epoch_order(seed, epoch, n) for seed in seeds]))


def _shape_of(spec: ModelSpec) -> ModelSpec:
    """The spec without its seed: compiled programs depend only on the shape, so seeds share them."""
    return spec.replace(seed=0)


_compile_record_lock = threading.Lock()
_compiled_shapes: set[tuple] = set()
_measured_compile_s: list[float] = []


def _note_compile(key: tuple, seconds: float) -> None:
    with _compile_record_lock:
        _compiled_shapes.add(key)
        if seconds > 0:
            _measured_compile_s.append(seconds)
            del _measured_compile_s[:-8]


def _program_key(spec: ModelSpec, config: TrainConfig, models_per_program: int) -> tuple:
    return (_shape_of(spec), config.optimizer, config.reconstruction_loss, config.augment, config.batch_size,
            models_per_program)  # fmt: skip


@dataclass
class _Stack:
    """Stacked training states of several seeds of one model, and the compiled programs that step them."""

    shape: ModelSpec
    program: Program
    tx: Any
    data: DeviceData
    states: TrainState
    eval_fn: Any
    seeds: list[int]  # each model's epochs are ordered and shifted like train() with that seed
    compile_s: float

    def steps(self, masked: bool, states, orders, start: int, counts, limits):
        """Run ``_steps_for_seeds`` (compiled once per process for each shape and variant)."""
        data = self.data
        args = (states, data.train_images, data.train_labels, orders, jnp.int32(start),
                jnp.asarray(counts, jnp.int32), jnp.asarray(limits, jnp.float32))  # fmt: skip
        step_fn, seconds = compile_once("sweep.train", _steps_for_seeds, (self.program, self.tx, masked), args)
        self.compile_s += seconds
        return step_fn(*args)


def _prepare(spec: ModelSpec, config: TrainConfig, dataset: Dataset, seeds: Sequence[int]) -> _Stack:
    """Initialise one model per seed (as ``train()`` would) and compile the batched step and evaluation."""
    shape = _shape_of(spec)
    # the very initialisation train() uses for each seed
    states = _stack([init_state(spec.replace(seed=seed), replace(config, seed=seed)) for seed in seeds])
    data = device_data(dataset)
    program = Program(shape, config.optimizer, config.reconstruction_loss, config.augment, config.batch_size)
    tx = make_optimizer(config.optimizer)
    count = len(seeds)
    eval_args = (_take(states.params, 0), data.test_images, data.test_labels, data.test_mask)
    eval_fn, seconds = compile_once("eval", evaluation_sums, (shape, config.reconstruction_loss), eval_args)
    stack = _Stack(shape, program, tx, data, states, eval_fn, list(seeds), seconds)
    # compile the step now (not at the first chunk), so that compiling and training are reported apart
    orders = _orders(list(seeds), 0, dataset.num_train)
    jax.block_until_ready(stack.steps(False, states, orders, 0, np.zeros(count), np.full(count, np.inf)))
    _note_compile(_program_key(spec, config, count), stack.compile_s)
    return stack


def train_seeds(
    spec: ModelSpec,
    config: TrainConfig,
    dataset: Dataset,
    seeds: Sequence[int],
    *,
    on_progress: Callable[[SeedsProgress], None] | None = None,
    stop: threading.Event | None = None,
    chunk_seconds: float = 0.2,
) -> list[TrainResult]:
    """Train ``spec`` once per seed, all seeds in one compiled program; one TrainResult per seed.

    Seed ``s`` gets exactly what ``train(spec.replace(seed=s), replace(config, seed=s), dataset)``
    gives it: the same initial parameters, shuffles and augmentations, hence the same losses and
    parameters up to float rounding (a batched matrix product may add in another order). A seed
    whose loss diverges keeps its last good parameters and stops, the others go on; ``stop``
    ends every seed after the current chunk of steps (a fraction of a second).
    """
    stop = stop or threading.Event()
    seeds = tuple(seeds)
    count = len(seeds)
    per_epoch = steps_per_epoch(config, dataset.num_train)
    total_steps = per_epoch * config.epochs
    histories = [History() for _ in seeds]
    status, reasons = ["finished"] * count, [""] * count
    alive = np.ones(count, bool)
    elapsed, compile_s = 0.0, 0.0

    def report(phase: str, new_losses: Sequence[Sequence[float]] | None = None) -> None:
        if on_progress is not None:
            losses = tuple(tuple(float(x) for x in seq) for seq in new_losses) if new_losses else ((),) * count
            done = max(h.steps for h in histories)
            on_progress(SeedsProgress(phase, done, total_steps, losses, elapsed, compile_s))

    report("compiling")
    stack = _prepare(spec, config, dataset, seeds)
    compile_s = stack.compile_s
    data = stack.data
    states = stack.states
    seconds_per_step: float | None = None
    steps = 0  # every seed that is still training has done this many steps
    while steps < total_steps and alive.any() and not stop.is_set():
        epoch, offset = divmod(steps, per_epoch)
        orders = _orders(stack.seeds, epoch, dataset.num_train)
        while offset < per_epoch and alive.any() and not stop.is_set():
            counts = np.where(alive, chunk_steps(seconds_per_step, per_epoch - offset, chunk_seconds), 0)
            limits = [loss_limit(h) for h in histories]
            tic = time.perf_counter()
            # once a seed has stopped (diverged), the others go on in the masked variant of the program
            new_states, losses, done = stack.steps(not alive.all(), states, orders, offset, counts, limits)
            losses, done = np.asarray(losses), int(done)
            toc = time.perf_counter() - tic
            elapsed += toc
            kept = np.minimum(counts, done)  # the steps of this chunk each seed keeps
            diverged = False
            for m in np.flatnonzero(alive):
                mine = losses[m, : kept[m]]
                bad, first = first_bad_step(histories[m], mine)
                if bad is not None:
                    kept[m] = max(bad - 1, 0)
                    status[m], diverged = "diverged", True
                    reasons[m] = divergence_reason(
                        mine[bad], first, steps + bad + 1, _with_steps(histories[m], mine[: kept[m]]),
                        replace(config, seed=seeds[m]),
                    )  # fmt: skip
            if diverged:
                # Replay the chunk: diverged seeds stop before their bad step, the others redo the same steps.
                new_states, _, _ = stack.steps(True, states, orders, offset, kept, np.full(count, np.inf))
            states = new_states
            for m in np.flatnonzero(alive):
                histories[m].step_losses.extend(float(x) for x in losses[m, : kept[m]])
            report("training", [losses[m, : kept[m]] for m in range(count)])
            alive &= np.array([s == "finished" for s in status])
            offset += done
            steps += done
            step_time = toc / done
            seconds_per_step = smoothed_step_time(seconds_per_step, step_time)
        if offset == per_epoch and alive.any():
            report("evaluating")
            for m in np.flatnonzero(alive):
                metrics = epoch_metrics(
                    stack.eval_fn, _take(states.params, m), data, stack.shape, histories[m], per_epoch, elapsed
                )
                histories[m].epochs.append(metrics)
    for m in range(count):
        if status[m] == "finished" and histories[m].steps < total_steps:
            status[m] = "stopped"
            reasons[m] = f"stopped by request after {histories[m].steps:,} of {total_steps:,} steps"
    results = []
    for m, seed in enumerate(seeds):
        trained = histories[m].steps
        results.append(
            TrainResult(
                spec=spec.replace(seed=seed),
                config=replace(config, seed=seed),
                dataset=dataset.name,
                params=_take(states.params, m),
                opt_state=_take(states.opt_state, m),
                history=histories[m],
                status=status[m],
                reason=reasons[m],
                compile_s=stack.compile_s,
                train_s=elapsed,
                samples_per_s=trained * config.batch_size / max(elapsed, 1e-9),
                extra={"trained_with_seeds": list(seeds)},
            )
        )
    report("done")
    return results


def _with_steps(history: History, losses: np.ndarray) -> History:
    """A copy of ``history`` with ``losses`` appended (what the history will be after a replay)."""
    copy = history.copy()
    copy.step_losses.extend(float(x) for x in losses)
    return copy


# ----- results of a sweep ----------------------------------------------------------------------


@dataclass(frozen=True)
class SweepRun:
    """One trained model of a sweep: its width, seed, size and scores, and the full TrainResult."""

    width: int
    seed: int
    spec: ModelSpec
    status: str
    test_loss: float
    test_accuracy: float | None  # MLP: share of test images classified right
    test_mse: float | None  # autoencoder: mean squared error per pixel of the reconstructions
    train_loss: float | None  # mean loss of the last epoch's training batches
    seconds: float  # this run's share of its width's wall time, compile included
    result: TrainResult = field(repr=False, compare=False)

    @property
    def parameter_count(self) -> int:
        return self.spec.parameter_count

    @property
    def score(self) -> float:
        """Test accuracy (MLP, higher is better) or reconstruction error (autoencoder, lower is better)."""
        return self.test_accuracy if self.test_accuracy is not None else self.test_mse  # type: ignore[return-value]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "width": self.width,
            "widths": [layer.width for layer in self.spec.layers],
            "seed": self.seed,
            "params": self.parameter_count,
            "status": self.status,
            "epochs": len(self.result.history.epochs),
            "steps": self.result.steps,
        }
        if self.test_accuracy is not None:
            data["test_accuracy"] = self.test_accuracy
        else:
            data["test_mse"] = self.test_mse
        data.update(test_loss=self.test_loss, train_loss=self.train_loss, seconds=round(self.seconds, 3))
        return data


def sweep_run(width: int, result: TrainResult, dataset: Dataset, seconds: float) -> SweepRun:
    """Score a finished (or stopped) run on the whole test split."""
    data = device_data(dataset)
    shape = _shape_of(result.spec)
    eval_args = (result.params, data.test_images, data.test_labels, data.test_mask)
    eval_fn, _ = compile_once("eval", evaluation_sums, (shape, result.config.reconstruction_loss), eval_args)
    loss_sum, second, _ = eval_fn(*eval_args)
    per_epoch = steps_per_epoch(result.config, dataset.num_train)
    last_epoch = result.history.step_losses[-per_epoch:]
    is_mlp = result.spec.kind == "mlp"
    return SweepRun(
        width=width,
        seed=result.spec.seed,
        spec=result.spec,
        status=result.status,
        test_loss=float(loss_sum) / data.num_test,
        test_accuracy=float(second) / data.num_test if is_mlp else None,
        test_mse=None if is_mlp else float(second) / data.num_test,
        train_loss=float(np.mean(last_epoch)) if last_epoch else None,
        seconds=seconds,
        result=result,
    )


@dataclass(frozen=True)
class WidthSummary:
    """The runs of one width that finished: mean and spread over seeds (sample std, 0 for one seed)."""

    width: int
    parameter_count: int
    seeds: tuple[int, ...]
    score_mean: float
    score_std: float
    train_loss_mean: float
    train_loss_std: float
    seconds: float  # all seeds together


def summarise(sweep_runs: Iterable[SweepRun]) -> list[WidthSummary]:
    """One row per width (in width order) over its finished runs; stopped or diverged runs are left out."""
    by_width: dict[int, list[SweepRun]] = {}
    for run in sweep_runs:
        if run.status == "finished":
            by_width.setdefault(run.width, []).append(run)

    def spread(values: list[float]) -> tuple[float, float]:
        return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0

    rows = []
    for width in sorted(by_width):
        group = by_width[width]
        score, score_std = spread([r.score for r in group])
        loss, loss_std = spread([r.train_loss for r in group if r.train_loss is not None] or [np.nan])
        seeds, seconds = tuple(r.seed for r in group), sum(r.seconds for r in group)
        rows.append(WidthSummary(width, group[0].parameter_count, seeds, score, score_std, loss, loss_std, seconds))
    return rows


# ----- running a sweep ------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepProgress:
    """What ``run_sweep`` reports after each chunk of steps of the width being trained."""

    phase: str  # "compiling", "training", "evaluating", "done"
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
) -> list[SweepRun]:
    """Train every model of ``plan``, width after width; ``on_run`` gets each run as its width finishes.

    ``batched`` trains the seeds of a width together (``train_seeds``); otherwise one after another
    with ``train()``, the reference it must match. ``stop`` ends the sweep within a fraction of a
    second, keeping the runs so far (those of the interrupted width marked "stopped").
    """
    stop = stop or threading.Event()
    steps_per_epoch(plan.config, dataset.num_train)  # a bad batch size fails before anything runs
    start = time.perf_counter()
    weights = list(estimate.per_width_s) if estimate else [1.0] * len(plan.widths)
    results: list[SweepRun] = []
    for index, (width, spec) in enumerate(zip(plan.widths, plan.specs, strict=True)):
        if stop.is_set():
            break
        width_start = time.perf_counter()

        def progress(phase: str, step: int, total: int, new_losses: dict[int, tuple[float, ...]],
                     index: int = index, width: int = width) -> None:  # fmt: skip
            if on_progress is None:
                return
            fraction = (sum(weights[:index]) + weights[index] * step / max(total, 1)) / sum(weights)
            elapsed = time.perf_counter() - start
            eta = _eta(elapsed, fraction, estimate)
            on_progress(
                SweepProgress(phase, width, index, len(plan.widths), step, total, new_losses, elapsed, eta, fraction)
            )

        trained: list[TrainResult] = []
        if batched:
            for group in seed_groups(spec, plan.seeds):
                if stop.is_set():
                    break
                offset = len(trained)

                def seeds_progress(p: SeedsProgress, group=group, offset=offset) -> None:
                    losses = dict(zip(group, p.new_losses, strict=True))
                    step = offset * p.total_steps + p.step * len(group)
                    progress(p.phase, step, p.total_steps * len(plan.seeds), losses)

                trained += train_seeds(spec, plan.config, dataset, group, on_progress=seeds_progress, stop=stop)
        else:
            for seed in plan.seeds:
                if stop.is_set():
                    break
                offset = len(trained)

                def one_progress(p, seed=seed, offset=offset) -> None:
                    step = offset * p.total_steps + p.step
                    progress(p.phase, step, p.total_steps * len(plan.seeds), {seed: p.new_losses})

                config = replace(plan.config, seed=seed)
                trained.append(train(spec.replace(seed=seed), config, dataset, on_progress=one_progress, stop=stop))
        seconds = (time.perf_counter() - width_start) / max(len(trained), 1)
        for result in trained:
            run = sweep_run(width, result, dataset, seconds)
            results.append(run)
            if on_run is not None:
                on_run(run)
    return results


def _eta(elapsed: float, fraction: float, estimate: SweepEstimate | None) -> float | None:
    """Seconds left: the estimate, corrected by how fast the sweep has really gone so far."""
    if fraction >= 1:
        return 0.0
    if estimate is not None and fraction < 0.05:
        return max(0.0, estimate.total_s - elapsed)
    if fraction <= 0:
        return None
    return elapsed / fraction * (1 - fraction)


# ----- how long will it take? -----------------------------------------------------------------


@dataclass(frozen=True)
class SweepEstimate:
    """Expected wall time of a sweep on this machine, from a short timing of real training steps."""

    total_s: float
    per_width_s: tuple[float, ...]
    step_s: tuple[float, ...]  # seconds per training step of each width (all its seeds together)
    compile_s: float  # expected compile time of a width not compiled yet
    timed: str  # what was timed, in words
    timing_s: float  # how long the timing itself took

    def describe(self) -> str:
        return f"timed {self.timed} in {self.timing_s:.1f} s on this machine"


def _linear(points: list[tuple[float, float]]) -> Callable[[float], float]:
    """The line through two (size, seconds) points, never below zero (a constant for one point)."""
    if len(points) == 1 or points[0][0] == points[-1][0]:
        return lambda _size: points[-1][1]
    (x0, y0), (x1, y1) = points[0], points[-1]
    slope = max(0.0, (y1 - y0) / (x1 - x0))
    return lambda size: max(1e-6, y0 + slope * (size - x0))


def estimate_sweep(
    plan: SweepPlan, dataset: Dataset, *, batched: bool = True, timing_seconds: float = 0.3
) -> SweepEstimate:
    """Estimate a sweep's wall time by timing ``timing_seconds`` of real steps of its smallest and
    largest model (after compiling them, which the sweep then reuses) and assuming that a step's
    time and an evaluation's grow linearly with the parameters trained at once."""
    tic = time.perf_counter()
    config = plan.config
    per_epoch = steps_per_epoch(config, dataset.num_train)
    total_steps = per_epoch * config.epochs
    seeds = plan.seeds if batched else plan.seeds[:1]
    specs = plan.specs
    sizes = [spec.parameter_count for spec in specs]
    timed = sorted({int(np.argmin(sizes)), int(np.argmax(sizes))})
    step_points, eval_points, compiles = [], [], []
    data = device_data(dataset)
    for i in timed:
        group = seed_groups(specs[i], seeds)[0]
        stack = _prepare(specs[i], config, dataset, group)
        if stack.compile_s > 0:
            compiles.append(stack.compile_s)
        orders = _orders(stack.seeds, 0, dataset.num_train)
        limits = np.full(len(group), np.inf)

        def run(steps: int, stack=stack, orders=orders, limits=limits) -> float:
            start = time.perf_counter()
            jax.block_until_ready(stack.steps(False, stack.states, orders, 0, np.full(len(limits), steps), limits))
            return time.perf_counter() - start

        run(min(2, per_epoch))  # the first call pays one-off costs
        probe = max(run(min(2, per_epoch)) / min(2, per_epoch), 1e-6)
        steps = int(min(per_epoch, MAX_CHUNK_STEPS, max(2, timing_seconds / probe)))
        size = specs[i].parameter_count * len(group)
        step_points.append((size, run(steps) / steps))
        params = _take(stack.states.params, 0)
        start = time.perf_counter()
        jax.block_until_ready(stack.eval_fn(params, data.test_images, data.test_labels, data.test_mask))
        eval_points.append((specs[i].parameter_count, time.perf_counter() - start))
    step_time, eval_time = _linear(step_points), _linear(eval_points)
    with _compile_record_lock:
        measured = compiles or _measured_compile_s[-2:]
    compile_each = float(np.mean(measured)) if measured else TYPICAL_COMPILE_S
    per_width, step_s = [], []
    for spec in specs:
        groups = seed_groups(spec, plan.seeds) if batched else [(s,) for s in plan.seeds]
        models_per_program = len(groups[0])
        seconds, width_steps = 0.0, 0.0
        for group in groups:
            per_step = step_time(spec.parameter_count * len(group))
            evaluations = (config.epochs + 1) * len(group)  # after each epoch, and the final score
            width_steps += per_step
            seconds += total_steps * per_step + evaluations * eval_time(spec.parameter_count)
        with _compile_record_lock:
            compiled = batched and _program_key(spec, config, models_per_program) in _compiled_shapes
        # train() compiles each seed's model apart, unless the persistent cache serves the later ones
        compiles = 1 if batched or compilation_cache_dir() else len(plan.seeds)
        seconds += 0 if compiled else compile_each * compiles
        per_width.append(seconds)
        step_s.append(width_steps)
    largest, smallest = specs[int(np.argmax(sizes))], specs[int(np.argmin(sizes))]
    what = " and ".join(dict.fromkeys(s.describe() for s in (smallest, largest)))
    return SweepEstimate(
        total_s=float(sum(per_width)),
        per_width_s=tuple(per_width),
        step_s=tuple(step_s),
        compile_s=compile_each,
        timed=f"{what} ({len(seeds)} seed{'s' if len(seeds) > 1 else ''} at once)",
        timing_s=time.perf_counter() - tic,
    )


# ----- in the background ----------------------------------------------------------------------

_sweep_ids = itertools.count(1)


@dataclass(frozen=True)
class SweepSnapshot:
    """A consistent copy of a sweep's state at one moment, safe to draw from."""

    job_id: int
    status: str  # "queued", "compiling", "running", "evaluating", "finished", "stopped", "failed"
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
    """A sweep in a background thread; counts as one training in ``core.SLOTS``."""

    plan: SweepPlan
    dataset: Dataset
    estimate: SweepEstimate | None = None
    batched: bool = True
    on_done: Callable[[SweepJob], None] | None = None
    #: False once the visitor who started the sweep is gone (tab closed), as for ``TrainingJob``
    keep_alive: Callable[[], bool] | None = None
    grace_s: float = 15.0
    job_id: int = field(default_factory=lambda: next(_sweep_ids))

    def __post_init__(self) -> None:
        steps_per_epoch(self.plan.config, self.dataset.num_train)  # a bad batch size fails here, not in the thread
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
                widths=len(self.plan.widths),
                step=p.step if p else 0,
                total_steps=p.total_steps if p else 0,
                live_losses={} if done else {s: np.asarray(v, np.float32) for s, v in self._live.items()},
                elapsed_s=(self._ended or time.perf_counter()) - self._started if self._started else 0.0,
                eta_s=0.0 if done else (p.eta_s if p else (self.estimate.total_s if self.estimate else None)),
                progress=1.0 if self._status == "finished" else (p.fraction if p else 0.0),
            )

    # ----- the worker thread ------------------------------------------------------------
    def _on_progress(self, p: SweepProgress) -> None:
        if p.phase == "training":
            self._renice_once()
        with self._lock:
            if self._progress is None or p.width != self._progress.width:
                self._live = {}
            self._progress = p
            for seed, losses in p.new_losses.items():
                self._live.setdefault(seed, []).extend(losses)
            self._status = {"compiling": "compiling", "evaluating": "evaluating"}.get(p.phase, "running")
            self._message = (
                f"compiling the training step for width {p.width:,} (once per width)" if p.phase == "compiling" else ""
            )

    def _on_run(self, run: SweepRun) -> None:
        with self._lock:
            self._runs.append(run)

    def _work(self) -> None:
        self._started = time.perf_counter()
        try:
            self._set("compiling", "preparing the first width")
            run_sweep(
                self.plan, self.dataset, on_run=self._on_run, on_progress=self._on_progress, stop=self._stop,
                estimate=self.estimate, batched=self.batched,
            )  # fmt: skip
        finally:
            self._ended = time.perf_counter()
        finished = sum(r.status == "finished" for r in self.runs)
        if self._stop.is_set() and (len(self.runs) < self.plan.models or finished < len(self.runs)):
            why = "because the browser tab that started it was closed" if self.abandoned else "by request"
            self._set("stopped", f"stopped {why}; {finished} of {self.plan.models} models fully trained (all kept)")
        else:
            self._set("finished", f"{finished} of {self.plan.models} models trained")
