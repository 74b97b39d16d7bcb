"""Training that keeps a checkpoint on disk after every epoch, so a killed process loses at most one.

``train_saving_each_epoch`` trains one epoch at a time, each a ``core.training.train`` call that
resumes the one before exactly (same seed, same curve: the engine's resume is exact), and
writes the checkpoint atomically after each. Until the last epoch the file says the run was
*stopped* after epoch e of E, which is what a crash leaves, and it can be continued from there.
If the file cannot be written (a full disk, a folder removed meanwhile), the checkpoint goes to
a new folder in the system's temporary folder instead and ``Saved.failure`` says why, so a
finished training is never lost to a failed save. Used by ``python -m core train --save``.
"""

from __future__ import annotations

import dataclasses
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core import reasons
from core.data import Dataset
from core.runs import checkpoint
from core.spec import ModelSpec
from core.training import Progress, Status, TrainConfig, TrainResult, steps_per_epoch, train


@dataclass
class Saved:
    """The run and where its checkpoint is: ``save_to``, or a fallback when ``failure`` says why not."""

    result: TrainResult
    path: Path
    failure: str = ""


class _Saver:
    """Writes to the requested file; after a failure, to a fallback file (retrying the request last)."""

    def __init__(self, save_to: str | Path):
        self.wanted = Path(save_to)
        self.fallback: Path | None = None
        self.failure = ""

    def save(self, result: TrainResult, last: bool = False) -> Path:
        if self.fallback is None or last:
            try:
                path = checkpoint.save(self.wanted, result)
                self.failure = ""
                return path
            except OSError as err:
                self.failure = err.strerror or str(err)
        if self.fallback is None:
            folder = Path(tempfile.mkdtemp(prefix="flax-dashboard-checkpoint-"))
            self.fallback = folder / (self.wanted.name or "model.ckpt")
        return checkpoint.save(self.fallback, result)  # an OSError here: nowhere to write


def train_saving_each_epoch(
    spec: ModelSpec,
    config: TrainConfig,
    dataset: Dataset,
    save_to: str | Path,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
) -> Saved:
    """``train(spec, config, dataset)``, with the checkpoint at ``save_to`` rewritten after every
    epoch (and once more at the end: finished, stopped or diverged). ``on_progress`` sees the
    whole run (its step counts and time left span all epochs). OSError only when neither
    ``save_to`` nor a temporary folder can be written."""
    saver = _Saver(save_to)
    stop = stop or threading.Event()
    per_epoch = steps_per_epoch(config, dataset.num_train)
    total = per_epoch * config.epochs
    result: TrainResult | None = None
    compile_s = 0.0

    def whole_run(p: Progress) -> None:
        if on_progress is None:
            return
        seconds_per_step = p.elapsed_s / p.step if p.step else None
        eta = (total - p.step) * seconds_per_step if seconds_per_step is not None else p.eta_s
        on_progress(dataclasses.replace(p, total_steps=total, epochs=config.epochs, eta_s=eta))

    for epoch in range(1, config.epochs + 1):
        result = train(spec, dataclasses.replace(config, epochs=epoch), dataset,
                       on_progress=whole_run, stop=stop, resume=result)  # fmt: skip
        compile_s += result.compile_s
        if result.status != Status.FINISHED or epoch == config.epochs:
            break
        reason = reasons.SAVED_WHILE_TRAINING.format(epoch=epoch, epochs=config.epochs)
        saver.save(_whole(result, config, Status.STOPPED, reason, compile_s))
    assert result is not None  # config.epochs >= 1
    if result.status == Status.STOPPED:
        reason = reasons.STOPPED_BY_REQUEST.format(steps=result.steps, total=total)
        result = _whole(result, config, Status.STOPPED, reason, compile_s)
    else:
        result = _whole(result, config, result.status, result.reason, compile_s)
    path = saver.save(result, last=True)
    return Saved(result, path, saver.failure)


def _whole(result: TrainResult, config: TrainConfig, status: Status, reason: str, compile_s: float) -> TrainResult:
    """The result of one epoch's call as a result of the whole run: its config, speed and compile time."""
    speed = result.steps * config.batch_size / result.train_s if result.train_s else 0.0
    return dataclasses.replace(result, config=config, status=status, reason=reason, compile_s=compile_s,
                               samples_per_s=speed)  # fmt: skip
