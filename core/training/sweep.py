"""Sweeps: train the same model at several values of one setting (and several seeds each).

The setting is one of ``SETTINGS``: the width of a layer (the width sweep), the share of
the training images, or the L2 penalty; each entry says how a value changes the model or
its training settings, so a new one (e.g. a dropout rate) is one more entry.

A width sweep's ``SweepPlan`` names the base model, the layer to vary (an index into
``spec.layers``, or ``"all"``), the widths and the seeds; every model gets the same data,
epochs, batch size and optimizer. ``"all"`` scales every hidden layer together: each value is the new width
of the widest of them and the others keep their proportions (rounded, at least 1); an
autoencoder's code layer keeps its size, so only the capacity around it changes.

Values run one after another. The seeds of one value train together as one stack of the
engine (``train_stack``): each seed gets the initialisation, shuffles and augmentations a
run of its own would get, so the results equal separate runs to float rounding.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from core import validate
from core.data import Dataset
from core.errors import ConfigError, SpecError
from core.heap import release_freed_memory
from core.layers import width_of
from core.spec import MAX_SEED, MAX_WIDTH, MIN_WIDTH, ModelSpec
from core.tasks import task_of
from core.training.config import TrainConfig
from core.training.engine import train_stack
from core.training.pacing import Pacing
from core.training.results import Phase, Progress, Status, TrainResult
from core.training.stack import steps_per_epoch
from core.training.sweep_settings import (
    ALL_LAYERS,
    DROPOUT,
    SETTINGS,
    WIDTH,
    SweptSetting,
    numbers,
    scalable_layers,
    spec_with_width,
)
from core.training.sweep_settings import DEFAULT_WIDTHS as DEFAULT_WIDTHS  # the Sweep page's defaults

if TYPE_CHECKING:
    from core.training.estimate import SweepEstimate

MAX_VALUES = 16
MAX_SEEDS = 10
#: Most parameters (all seeds together) trained in one batched program; more seeds are split.
BATCH_PARAMETER_BUDGET = 20_000_000


# ----- the plan -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep trains: ``spec`` and ``config`` with ``setting`` at each of ``values``, once per seed.

    For the width sweep (``setting="width"``) the values are widths of ``layer``. Values are
    sorted and deduplicated (small models first, so the first results come fast); errors about
    them name the field ``values``, the command line's name for the values to try; every model
    and its settings are checked on construction, so an invalid value fails before anything runs.
    ``config.seed`` is ignored: each run uses its seed for initialisation, shuffling and augmentation.
    """

    spec: ModelSpec
    layer: int | str
    values: tuple[float, ...]
    seeds: tuple[int, ...] = (0,)
    config: TrainConfig = field(default_factory=TrainConfig)
    setting: str = WIDTH

    def __post_init__(self) -> None:
        validate.choice(self.setting, "setting", SETTINGS, "setting to sweep")
        if self.setting != WIDTH:
            self._check_values()
            return
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
            if not self.spec.layers[layer].is_dense:
                what = self.spec.layers[layer].describe()
                raise ConfigError("layer", f"layer {layer} is {what}, which has no width; pick a Dense layer")
            object.__setattr__(self, "layer", layer)
        elif not scalable_layers(self.spec):
            raise ConfigError("layer", "this autoencoder has no layer besides its code to scale; pick the code layer")
        widths = sorted(set(validate.whole_numbers(self.values, "values", "widths")))
        self._check_counts(widths, "widths")
        for width in widths:
            if not MIN_WIDTH <= width <= MAX_WIDTH:
                raise ConfigError("values", f"each width must be between {MIN_WIDTH} and {MAX_WIDTH:,}, got {width:,}")
        object.__setattr__(self, "values", tuple(widths))
        for width in widths:
            try:
                spec_with_width(self.spec, self.layer, width)
            except SpecError as err:
                raise ConfigError("values", f"width {width:,} gives an invalid model: {err.reason}") from None

    def _check_counts(self, values: Sequence[float], what: str) -> None:
        seeds = sorted(set(validate.whole_numbers(self.seeds, "seeds", "seeds")))
        if len(values) > MAX_VALUES:
            raise ConfigError("values", f"at most {MAX_VALUES} {what} per sweep, got {len(values)}")
        if len(seeds) > MAX_SEEDS:
            raise ConfigError("seeds", f"at most {MAX_SEEDS} seeds per {what[:-1]}, got {len(seeds)}")
        for seed in seeds:
            if not 0 <= seed <= MAX_SEED:
                raise ConfigError("seeds", f"each seed must be between 0 and {MAX_SEED:,}, got {seed:,}")
        object.__setattr__(self, "seeds", tuple(seeds))

    def _check_values(self) -> None:
        """The values of any other setting: each point is built (TrainConfig or ModelSpec checks the
        value), the sweep's error naming ``values``."""
        swept = SETTINGS[self.setting]
        if swept.key == DROPOUT and not self.spec.has_dropout:
            raise ConfigError("setting", "this model has no Dropout layer to vary; add one on the Build page")
        values = sorted(set(numbers(self.values, swept.label)))
        self._check_counts(values, "values")
        for value in values:
            try:
                swept.point(self.spec, self.config, self.layer, value)
            except (ConfigError, SpecError) as err:
                raise ConfigError("values", err.reason) from None
        object.__setattr__(self, "values", tuple(values))

    def for_classes(self, classes: int) -> SweepPlan:
        """This plan for a dataset of ``classes`` classes (an MLP gets one output per class)."""
        fitted = self.spec.for_classes(classes)
        return self if fitted == self.spec else replace(self, spec=fitted)

    @property
    def swept(self) -> SweptSetting:
        return SETTINGS[self.setting]

    @property
    def widths(self) -> tuple[float, ...]:
        """The values, under the width sweep's name (kept for its callers)."""
        return self.values

    @property
    def points(self) -> tuple[tuple[ModelSpec, TrainConfig], ...]:
        """(model, training settings) of each value, in training order."""
        return tuple(self.swept.point(self.spec, self.config, self.layer, v) for v in self.values)

    @property
    def specs(self) -> tuple[ModelSpec, ...]:
        """One model per value, in training order."""
        return tuple(spec for spec, _ in self.points)

    @property
    def models(self) -> int:
        return len(self.values) * len(self.seeds)

    def describe(self) -> str:
        """``"MLP 784-512-256-10, layer 2 of 2 (256 units) at 8-1,024 units, seeds 0, 1"``, or
        ``"MLP 784-512-256-10, share of the training images at 5%, 20%, 100%, seeds 0"``."""
        seeds = ", ".join(str(s) for s in self.seeds)
        if self.setting != WIDTH:
            values = ", ".join(self.swept.format(v) for v in self.values)
            return f"{self.spec.describe()}, {self.swept.label} at {values}, seeds {seeds}"
        widths = self.values
        span = f"{widths[0]:,}" if len(widths) == 1 else f"{widths[0]:,}-{widths[-1]:,}"
        if self.layer == ALL_LAYERS:
            which = "all hidden layers"
        else:
            which = f"layer {self.layer + 1} of {len(self.spec.layers)} ({self.spec.layers[self.layer].width:,} units)"
        return f"{self.spec.describe()}, {which} at {span} units, seeds {seeds}"


def seed_groups(spec: ModelSpec, seeds: Sequence[int]) -> list[tuple[int, ...]]:
    """The seeds trained in one batched program each: all of them unless the stack would be too big."""
    per_group = max(1, BATCH_PARAMETER_BUDGET // spec.parameter_count)
    return [tuple(seeds[i : i + per_group]) for i in range(0, len(seeds), per_group)]


# ----- results of a sweep ----------------------------------------------------------------------


@dataclass(frozen=True)
class SweepRun:
    """One trained model of a sweep: its value of the swept setting, seed, size and scores, and the
    full TrainResult."""

    value: float  # a width, for the width sweep
    seed: int
    spec: ModelSpec
    status: str
    test_loss: float
    test_accuracy: float | None  # MLP: share of test images classified right
    test_mse: float | None  # autoencoder: mean squared error per pixel of the reconstructions
    train_loss: float | None  # mean loss of the last epoch's training batches
    seconds: float  # this run's share of its value's wall time, compile included
    result: TrainResult = field(repr=False, compare=False)
    setting: str = WIDTH

    @property
    def width(self) -> float:
        """The value, under the width sweep's name."""
        return self.value

    @property
    def gap(self) -> float | None:
        """How much better the model does on its training images than on the test images, after the
        last epoch: accuracy (MLP, share of images) or loss (autoencoder, test minus train)."""
        last = self.result.history.epochs[-1] if self.result.history.epochs else None
        if last is None:
            return None
        return last.accuracy_gap if last.accuracy_gap is not None else last.loss_gap

    @property
    def parameter_count(self) -> int:
        return self.spec.parameter_count

    @property
    def kept(self) -> bool:
        """Whether its trained parameters were kept (``keep_the_best_seed``): it can be used on the other pages."""
        return self.result.params is not None

    @property
    def score(self) -> float:
        """The task's score: test accuracy (MLP, higher is better) or reconstruction error (autoencoder)."""
        return self.test_accuracy if task_of(self.spec).score.key == "accuracy" else self.test_mse  # type: ignore[return-value]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            self.setting: self.value,
            "widths": [width_of(layer) for layer in self.spec.layers],
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
        if self.gap is not None:
            data["gap"] = self.gap
        return data


def sweep_run(value: float, result: TrainResult, dataset: Dataset, seconds: float, setting: str = WIDTH) -> SweepRun:
    """A trained model of a sweep, scored by the engine's evaluation of its final parameters."""
    per_epoch = steps_per_epoch(result.config, dataset.num_train)
    last_epoch = result.history.step_losses[-per_epoch:]
    metrics = result.test_metrics
    return SweepRun(
        value=value,
        seed=result.spec.seed,
        spec=result.spec,
        status=result.status,
        test_loss=metrics["loss"],
        test_accuracy=metrics.get("accuracy"),
        test_mse=metrics.get("mse"),
        train_loss=float(np.mean(last_epoch)) if last_epoch else None,
        seconds=seconds,
        result=result,
        setting=setting,
    )


def keep_the_best_seed(runs: Sequence[SweepRun]) -> list[SweepRun]:
    """The runs of one value as a sweep keeps them: every seed's scores and curves, no optimizer
    state, and the parameters of the best seed only (a finished one first, then by the task's score).

    A sweep compares models: the page offers the best of each value for the other pages, so the other
    seeds' parameters and every optimizer state (two thirds of an adam model) are let go as each
    value ends, instead of staying in the visitor's session for as long as the tab is open.
    """
    if not runs:
        return []
    better = 1.0 if task_of(runs[0].spec).score.higher_is_better else -1.0

    def rank(run: SweepRun) -> tuple[bool, float]:
        score = run.score
        worst = score is None or math.isnan(score)
        return run.status != Status.FINISHED, math.inf if worst else -better * score

    best = min(runs, key=rank)
    dropped = {"params": None, "batch_stats": {}}
    return [
        replace(run, result=replace(run.result, opt_state=None, **({} if run is best else dropped))) for run in runs
    ]


def kept_run(runs: Iterable[SweepRun], value: float) -> SweepRun | None:
    """The model of ``value`` whose parameters were kept (``keep_the_best_seed``), if any."""
    return next((run for run in runs if run.value == value and run.kept), None)


@dataclass(frozen=True)
class WidthSummary:
    """The runs of one value that finished: mean and spread over seeds (sample std, 0 for one seed)."""

    value: float  # a width, for the width sweep
    parameter_count: int
    seeds: tuple[int, ...]
    score_mean: float
    score_std: float
    train_loss_mean: float
    train_loss_std: float
    seconds: float  # all seeds together
    gap_mean: float = float("nan")  # SweepRun.gap
    gap_std: float = float("nan")

    @property
    def width(self) -> float:
        return self.value


def summarise(sweep_runs: Iterable[SweepRun]) -> list[WidthSummary]:
    """One row per value (in order) over its finished runs; stopped or diverged runs are left out."""
    by_width: dict[float, list[SweepRun]] = {}
    for run in sweep_runs:
        if run.status == Status.FINISHED:
            by_width.setdefault(run.value, []).append(run)

    def spread(values: list[float]) -> tuple[float, float]:
        return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0

    rows = []
    for width in sorted(by_width):
        group = by_width[width]
        score, score_std = spread([r.score for r in group])
        loss, loss_std = spread([r.train_loss for r in group if r.train_loss is not None] or [np.nan])
        seeds, seconds = tuple(r.seed for r in group), sum(r.seconds for r in group)
        gap, gap_std = spread([r.gap for r in group if r.gap is not None] or [np.nan])
        rows.append(WidthSummary(width, group[0].parameter_count, seeds, score, score_std, loss, loss_std, seconds,
                                 gap, gap_std))  # fmt: skip
    return rows


# ----- running a sweep ------------------------------------------------------------------------


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
