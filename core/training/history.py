"""What a training run records: one loss per step and test metrics after each epoch.

Plain Python data that round-trips through JSON (for checkpoints and saved runs).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np


@dataclass(frozen=True)
class EpochMetrics:
    """Metrics at the end of one epoch. ``test_accuracy`` is None for an autoencoder.

    ``train_eval_*`` measure the model in evaluation mode on (up to ``TRAIN_EVAL_IMAGES`` of) the
    training images it learns from, like the test metrics: the train curve of the overfitting
    lab. None in histories saved before they were recorded."""

    epoch: int  # 1-based
    step: int  # optimiser steps done so far
    train_loss: float  # mean of the epoch's batch losses
    test_loss: float  # cross-entropy (MLP) or reconstruction loss (autoencoder) on the test split
    test_accuracy: float | None
    elapsed_s: float  # training wall time so far, compile excluded
    train_eval_loss: float | None = None
    train_eval_accuracy: float | None = None

    @property
    def loss_gap(self) -> float | None:
        """Test loss minus training-images loss: how much worse the model does on images it never saw."""
        return None if self.train_eval_loss is None else self.test_loss - self.train_eval_loss

    @property
    def accuracy_gap(self) -> float | None:
        """Training-images accuracy minus test accuracy (MLP)."""
        if self.train_eval_accuracy is None or self.test_accuracy is None:
            return None
        return self.train_eval_accuracy - self.test_accuracy


@dataclass
class History:
    """The full record of a run; ``step_losses[k]`` is the loss of the batch at step k+1."""

    step_losses: list[float] = field(default_factory=list)
    epochs: list[EpochMetrics] = field(default_factory=list)

    @property
    def steps(self) -> int:
        return len(self.step_losses)

    def copy(self) -> History:
        return History(list(self.step_losses), list(self.epochs))

    def to_dict(self) -> dict[str, Any]:
        return {"step_losses": [float(x) for x in self.step_losses], "epochs": [asdict(e) for e in self.epochs]}

    @classmethod
    def from_dict(cls, data: Any) -> History:
        """The inverse of ``to_dict``; ValueError naming the first thing that is not what ``to_dict`` writes."""
        if not isinstance(data, dict):
            raise ValueError(f"the history must be a JSON object, got {type(data).__name__}")
        losses, epochs = data.get("step_losses", []), data.get("epochs", [])
        if not isinstance(losses, list) or not all(_is_number(x) for x in losses):
            raise ValueError("the history's step losses must be a list of numbers")
        if not isinstance(epochs, list):
            raise ValueError("the history's epochs must be a list")
        return cls([float(x) for x in losses], [_epoch(e, i) for i, e in enumerate(epochs, start=1)])


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


#: Metrics an older history may lack (or hold as None).
OPTIONAL = ("test_accuracy", "train_eval_loss", "train_eval_accuracy")


def _epoch(data: Any, index: int) -> EpochMetrics:
    names = [f.name for f in fields(EpochMetrics)]
    required = [name for name in names if name not in OPTIONAL[1:]]
    if not isinstance(data, dict) or not set(required) <= set(data) <= set(names):
        raise ValueError(f"epoch {index} of the history must be an object with {', '.join(required)}")
    for name in data:
        value = data[name]
        if not (_is_number(value) or (name in OPTIONAL and value is None)):
            raise ValueError(f"epoch {index} of the history has {name} {str(value)[:40]!r}, not a number")
    for name in ("epoch", "step"):
        if not isinstance(data[name], int) or not 0 <= data[name] < 2**53:
            raise ValueError(f"epoch {index} of the history has {name} {data[name]!r}, not a count")
    return EpochMetrics(**data)


def downsample_curve(values: list[float] | np.ndarray, max_points: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """(steps, losses) with at most ``max_points`` points: each point the mean of a bucket of steps.

    Long runs (100k+ steps) stay smooth to draw while the full history stays in memory.
    Steps are 1-based; each bucket is placed at its last step.
    """
    y = np.asarray(values, dtype=np.float64)
    n = y.size
    if n <= max_points:
        return np.arange(1, n + 1), y
    bucket = math.ceil(n / max_points)
    usable = (n // bucket) * bucket
    means = y[:usable].reshape(-1, bucket).mean(axis=1)
    steps = np.arange(bucket, usable + 1, bucket)
    if usable < n:
        means = np.append(means, y[usable:].mean())
        steps = np.append(steps, n)
    return steps, means
