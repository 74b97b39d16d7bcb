"""When a training run counts as diverged, and how that is said to a person."""

from __future__ import annotations

import numpy as np

from core import reasons
from core.training.config import TrainConfig
from core.training.history import History

#: A loss this many times the run's first loss counts as diverged, like a NaN.
DIVERGENCE_FACTOR = 1000.0


def loss_limit(history: History) -> float:
    """A loss above this ends the compiled loop early: DIVERGENCE_FACTOR times the first loss."""
    return DIVERGENCE_FACTOR * history.step_losses[0] if history.steps else np.inf


def first_bad_step(history: History, losses: np.ndarray) -> tuple[int | None, float]:
    """(index in ``losses`` of the first loss that is not finite or over DIVERGENCE_FACTOR times the
    run's first loss, or None; that first loss), for the new ``losses`` of a run with ``history``."""
    first_loss = history.step_losses[0] if history.steps else (losses[0] if losses.size else np.inf)
    bad_mask = ~np.isfinite(losses) | (losses > np.float32(DIVERGENCE_FACTOR * first_loss))
    return (int(np.argmax(bad_mask)) if bad_mask.any() else None), first_loss


def divergence_reason(loss: float, first_loss: float, step: int, kept_steps: int, config: TrainConfig) -> str:
    return reasons.divergence_reason(
        loss, first_loss, DIVERGENCE_FACTOR, step, kept_steps, config.learning_rate, config.optimizer
    )
