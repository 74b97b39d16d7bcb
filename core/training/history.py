"""What a training run records: one loss per step and test metrics after each epoch.

Plain Python data that round-trips through JSON (for checkpoints and saved runs).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class EpochMetrics:
    """Metrics at the end of one epoch. ``test_accuracy`` is None for an autoencoder."""

    epoch: int  # 1-based
    step: int  # optimiser steps done so far
    train_loss: float  # mean of the epoch's batch losses
    test_loss: float  # cross-entropy (MLP) or reconstruction loss (autoencoder) on the test split
    test_accuracy: float | None
    elapsed_s: float  # training wall time so far, compile excluded


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
    def from_dict(cls, data: dict[str, Any]) -> History:
        losses = [float(x) for x in data.get("step_losses", [])]
        epochs = [EpochMetrics(**e) for e in data.get("epochs", [])]
        return cls(losses, epochs)


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
