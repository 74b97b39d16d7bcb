"""The engine's hook for background jobs: how a training is paced between its compiled chunks.

``train_stack`` asks its ``Pacing`` for a turn around every chunk and evaluation (it may wait:
for other jobs' chunks, or while a presenter paused the run), for the most steps the next
chunk may run (a Step of N), and for the learning rate to train with. ``FreeRun`` is no
pacing at all (scripts, tests, the command line); ``core.runs.scheduler.JobControls`` is the
dashboard's. A new learning rate is data: optax.inject_hyperparams keeps it in the optimizer
state, so ``with_learning_rate`` writes it there (``optimizer.with_hyperparameters``) and the compiled step is reused.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Protocol

from core.training.optimizer import with_hyperparameters
from core.training.programs import ModelState


class Pacing(Protocol):
    """How a background job paces its training between chunks (``core.runs.scheduler.JobControls``)."""

    def turn(self) -> AbstractContextManager: ...  # around each chunk and evaluation: may wait (pause, others' turns)

    def allowed_steps(self, wanted: int) -> int: ...  # at most this many steps in the next chunk (a Step)

    def ran(self, steps: int) -> None: ...

    def learning_rate(self) -> float | None: ...  # the rate to train with from now on; None: the config's

    def applied(self, step: int, rate: float) -> None: ...


class FreeRun:
    """No pacing: every chunk at once, the config's learning rate (a script, a test, the CLI)."""

    def turn(self) -> AbstractContextManager:
        return nullcontext()

    def allowed_steps(self, wanted: int) -> int:
        return wanted

    def ran(self, steps: int) -> None:
        pass

    def learning_rate(self) -> float | None:
        return None

    def applied(self, step: int, rate: float) -> None:
        pass


def with_learning_rate(states: ModelState, rate: float) -> ModelState:
    """``states`` training at ``rate`` from now on: same shapes, dtypes and placement, so the compiled
    step is reused."""
    return states.replace(opt_state=with_hyperparameters(states.opt_state, {"learning_rate": rate}))


def next_rate(
    pacing: Pacing, states: ModelState, rate: float, step: int, changes: list[list[float]]
) -> tuple[ModelState, float]:
    """The states and rate of the next chunk: the rate ``pacing`` asks for, written in when it changed
    (and noted in ``changes`` as [step, rate])."""
    wanted = pacing.learning_rate()
    if wanted is None or wanted == rate:
        return states, rate
    changes.append([step, wanted])
    pacing.applied(step, wanted)
    return with_learning_rate(states, wanted), wanted
