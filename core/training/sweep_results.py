"""The results of a sweep: each trained model (``SweepRun``), the models it keeps, and one summary row
per value over its seeds (``WidthSummary``)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from core.data import Dataset
from core.layers import width_of
from core.spec import ModelSpec
from core.tasks import task_of
from core.training.results import Status, TrainResult
from core.training.stack import steps_per_epoch
from core.training.sweep_settings import WIDTH


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
