"""Width sweeps: train the same model at several widths of one layer (and several seeds each).

A ``SweepPlan`` names the base model, the layer to vary (an index into ``spec.layers``, or
``"all"``), the widths and the seeds; every model gets the same data, epochs, batch size
and optimizer. ``"all"`` scales every hidden layer together: each value is the new width
of the widest of them and the others keep their proportions (rounded, at least 1); an
autoencoder's code layer keeps its size, so only the capacity around it changes.

Widths run one after another. The seeds of one width train together as one stack of the
engine (``train_stack``): each seed gets the initialisation, shuffles and augmentations a
run of its own would get, so the results equal separate runs to float rounding.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from core import validate
from core.data import Dataset
from core.errors import ConfigError, SpecError
from core.spec import MAX_SEED, MAX_WIDTH, MIN_WIDTH, Layer, ModelSpec
from core.tasks import task_of
from core.training.config import TrainConfig
from core.training.engine import steps_per_epoch, train_stack
from core.training.results import Phase, Progress, Status, TrainResult

if TYPE_CHECKING:
    from core.training.estimate import SweepEstimate

ALL_LAYERS = "all"
DEFAULT_WIDTHS: tuple[int, ...] = (8, 16, 32, 64, 128, 256, 512, 1024)
MAX_VALUES = 16
MAX_SEEDS = 10
#: Most parameters (all seeds together) trained in one batched program; more seeds are split.
BATCH_PARAMETER_BUDGET = 20_000_000
#: Assumed compile time of one model's programs before any has been measured in this process.
TYPICAL_COMPILE_S = 2.0


# ----- the plan -------------------------------------------------------------------------------


def scalable_layers(spec: ModelSpec) -> tuple[int, ...]:
    """Indices into ``spec.layers`` that ``"all"`` scales: every Dense layer but an autoencoder's code
    (Dropout and normalisation layers have no width)."""
    code = len(spec.encoder) - 1 if spec.kind == "autoencoder" else None
    return tuple(i for i in spec.dense_indices if i != code)


def spec_with_width(spec: ModelSpec, layer: int | str, width: int) -> ModelSpec:
    """``spec`` with layer ``layer`` (0-based in ``spec.layers``) ``width`` units wide, or with all
    hidden layers scaled so that the widest is ``width`` wide (``layer="all"``)."""
    widths = [one.width for one in spec.layers]
    if layer != ALL_LAYERS and not spec.layers[layer].is_dense:
        raise SpecError("layer", f"layer {layer} is {spec.layers[layer].describe()}, which has no width")
    if layer == ALL_LAYERS:
        scaled = scalable_layers(spec)
        widest = max(widths[i] for i in scaled)
        for i in scaled:
            widths[i] = max(MIN_WIDTH, round(widths[i] * width / widest))
    else:
        widths[layer] = width
    layers = tuple(
        Layer(w, one.activation) if one.is_dense else one for w, one in zip(widths, spec.layers, strict=True)
    )
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
            if not self.spec.layers[layer].is_dense:
                what = self.spec.layers[layer].describe()
                raise ConfigError("layer", f"layer {layer} is {what}, which has no width; pick a Dense layer")
            object.__setattr__(self, "layer", layer)
        elif not scalable_layers(self.spec):
            raise ConfigError("layer", "this autoencoder has no layer besides its code to scale; pick the code layer")
        widths = sorted(set(validate.whole_numbers(self.widths, "values", "widths")))
        seeds = sorted(set(validate.whole_numbers(self.seeds, "seeds", "seeds")))
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
        """``"MLP 784-512-256-10, layer 2 of 2 (256 units) at 8-1,024 units, seeds 0, 1"``."""
        span = f"{self.widths[0]:,}" if len(self.widths) == 1 else f"{self.widths[0]:,}-{self.widths[-1]:,}"
        seeds = ", ".join(str(s) for s in self.seeds)
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
        """The task's score: test accuracy (MLP, higher is better) or reconstruction error (autoencoder)."""
        return self.test_accuracy if task_of(self.spec).score.key == "accuracy" else self.test_mse  # type: ignore[return-value]

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
    """A trained model of a sweep, scored by the engine's evaluation of its final parameters."""
    per_epoch = steps_per_epoch(result.config, dataset.num_train)
    last_epoch = result.history.step_losses[-per_epoch:]
    metrics = result.test_metrics
    return SweepRun(
        width=width,
        seed=result.spec.seed,
        spec=result.spec,
        status=result.status,
        test_loss=metrics["loss"],
        test_accuracy=metrics.get("accuracy"),
        test_mse=metrics.get("mse"),
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
        if run.status == Status.FINISHED:
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
) -> list[SweepRun]:
    """Train every model of ``plan``, width after width; ``on_run`` gets each run as its width finishes.

    ``batched`` trains the seeds of a width together as one stack; otherwise one stack per seed,
    the reference it must match. ``stop`` ends the sweep within a fraction of a
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
            eta = eta_seconds(elapsed, fraction, estimate)
            on_progress(
                SweepProgress(phase, width, index, len(plan.widths), step, total, new_losses, elapsed, eta, fraction)
            )

        trained: list[TrainResult] = []
        groups = seed_groups(spec, plan.seeds) if batched else [(seed,) for seed in plan.seeds]
        for group in groups:
            if stop.is_set():
                break
            offset = len(trained)

            def group_progress(p: Progress, group=group, offset=offset) -> None:
                losses = dict(zip(group, p.new_losses, strict=True))
                progress(p.phase, offset * p.total_steps + p.step * len(group), p.total_steps * len(plan.seeds), losses)

            members = [(spec.replace(seed=seed), replace(plan.config, seed=seed)) for seed in group]
            trained += train_stack(members, dataset, on_progress=group_progress, stop=stop)
        seconds = (time.perf_counter() - width_start) / max(len(trained), 1)
        for result in trained:
            run = sweep_run(width, result, dataset, seconds)
            results.append(run)
            if on_run is not None:
                on_run(run)
    return results


def eta_seconds(elapsed: float, fraction: float, estimate: SweepEstimate | None) -> float | None:
    """Seconds left: the estimate, corrected by how fast the sweep has really gone so far."""
    if fraction >= 1:
        return 0.0
    if estimate is not None and fraction < 0.05:
        return max(0.0, estimate.total_s - elapsed)
    if fraction <= 0:
        return None
    return elapsed / fraction * (1 - fraction)
