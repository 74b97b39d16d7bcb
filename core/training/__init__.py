"""Training: settings, the one engine, sweeps, and what they report.

- ``config.py``: ``TrainConfig``, the validated settings of a run.
- ``optimizer.py``: the optax transform, from the learning rate a person types to the update.
- ``programs.py``: the compiled programs (a chunk of steps for a stack of models; evaluation).
- ``devices.py``: the data on the device(s), and how several devices share the work.
- ``stack.py``: one stack's compiled programs and data (``plan_stack``, ``Stack``), and ``warm_up``.
- ``engine.py``: ``train_stack`` (N models of one shape together) and ``train`` (N = 1).
- ``pacing.py``: the engine's hook for background jobs (turns, chunk sizes, a new learning rate);
  ``FreeRun`` when nothing paces it.
- ``divergence.py``: when a run counts as diverged, and how that is said.
- ``overfitting.py``: the overfitting lab's maths (a part of the images, input noise, the L2 penalty).
- ``results.py``: ``Progress``, ``TrainResult``, the run statuses; ``history.py``: losses and metrics.
- ``sweep.py`` / ``estimate.py``: width sweeps on top of the engine, and how long they take; ``sweep_plan.py``
  what a sweep trains, ``sweep_results.py`` its trained models and summaries, ``sweep_settings.py`` what it varies.
"""

from core.training.config import MAX_BATCH_SIZE, MAX_EPOCHS, OPTIMIZERS, TrainConfig
from core.training.engine import train, train_stack
from core.training.results import Phase, Progress, Status, TrainResult
from core.training.stack import fit_batch_size, steps_per_epoch, warm_up

__all__ = [
    "MAX_BATCH_SIZE",
    "MAX_EPOCHS",
    "OPTIMIZERS",
    "Phase",
    "Progress",
    "Status",
    "TrainConfig",
    "TrainResult",
    "fit_batch_size",
    "steps_per_epoch",
    "train",
    "train_stack",
    "warm_up",
]
