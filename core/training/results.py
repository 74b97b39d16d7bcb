"""What a training reports while it runs (``Progress``) and what it returns (``TrainResult``),
with the one set of run statuses and engine phases."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.spec import ModelSpec
from core.training.config import TrainConfig
from core.training.history import EpochMetrics, History


class Status(StrEnum):
    """Where a run (or a sweep) stands; the values are the words saved in run files."""

    QUEUED = "queued"
    COMPILING = "compiling"
    RUNNING = "running"
    EVALUATING = "evaluating"
    FINISHED = "finished"
    STOPPED = "stopped"
    DIVERGED = "diverged"
    FAILED = "failed"

    @property
    def active(self) -> bool:
        return self in ACTIVE


ACTIVE = frozenset({Status.QUEUED, Status.COMPILING, Status.RUNNING, Status.EVALUATING})
DONE = frozenset({Status.FINISHED, Status.STOPPED, Status.DIVERGED, Status.FAILED})


class Phase(StrEnum):
    """What the engine is doing when it reports."""

    COMPILING = "compiling"
    TRAINING = "training"
    EVALUATING = "evaluating"
    DONE = "done"

    @property
    def status(self) -> Status:
        """The status a job shows during this phase (DONE: still running until the job has its result)."""
        return {Phase.COMPILING: Status.COMPILING, Phase.EVALUATING: Status.EVALUATING}.get(self, Status.RUNNING)


@dataclass(frozen=True)
class Progress:
    """What the engine reports after each chunk of steps (a few times per second); the tuples
    hold one entry per model of the stack."""

    phase: Phase
    step: int  # steps done by the models still training
    total_steps: int
    epochs: int
    new_losses: tuple[tuple[float, ...], ...]  # per model: losses of its steps since the last report
    samples_per_s: float  # of one model
    elapsed_s: float  # training time, compile and evaluation excluded
    eta_s: float | None
    compile_s: float
    epoch_metrics: tuple[EpochMetrics | None, ...] = ()  # per model, after an evaluation
    #: the stack's variables after these steps (``ModelState.variables``, leading model axis; read-only,
    #: for live views)
    variables: Any = None
    #: the stack's whole ``ModelState`` (optimizer state too, leading model axis; read-only) in the report
    #: that ends an epoch, after its evaluation, for checkpoints; None in every other report
    state: Any = None

    @property
    def epoch(self) -> float:
        """Fractional epochs done."""
        return self.step * self.epochs / self.total_steps if self.total_steps else 0.0


@dataclass
class TrainResult:
    """A run's outcome: everything needed to keep using, saving or resuming the model."""

    spec: ModelSpec
    config: TrainConfig
    dataset: str
    params: Any
    opt_state: Any
    history: History
    status: Status
    reason: str = ""
    #: the task's metrics of the final parameters on the test split (empty for a run loaded from a file)
    test_metrics: dict[str, float] = field(default_factory=dict)
    compile_s: float = 0.0
    train_s: float = 0.0
    samples_per_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    #: the running averages of the model's BatchNorm layers (``{}`` for a model without any)
    batch_stats: Any = field(default_factory=dict)

    @property
    def variables(self) -> dict:
        """What ``model.apply`` takes: ``{"params": ...}``, plus ``"batch_stats"`` for a BatchNorm model."""
        return {"params": self.params, **({"batch_stats": self.batch_stats} if self.batch_stats else {})}

    @property
    def steps(self) -> int:
        return self.history.steps

    @property
    def final_metrics(self) -> EpochMetrics | None:
        return self.history.epochs[-1] if self.history.epochs else None
