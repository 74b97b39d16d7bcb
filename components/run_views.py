"""Words and numbers about training runs, shared by the sidebar and the Train page."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from components.figures import Curve
from components.state import Run
from components.words import plain, status_words
from core.data import Dataset
from core.data.dataset import what_each_image_is
from core.runs.jobs import JobSnapshot
from core.runs.memory import Share
from core.training import Status
from core.training.history import EpochMetrics
from core.training.overfitting import describe_subset, describe_train_eval


def duration(seconds: float | None) -> str:
    """``75.3`` -> ``"1 min 15 s"``; None -> ``"?"``."""
    if seconds is None or not np.isfinite(seconds):
        return "?"
    seconds = max(0.0, float(seconds))
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def progress_text(snap: JobSnapshot) -> str:
    """One line a newcomer can read: where the run is and how long is left."""
    epoch = min(snap.epochs, snap.step * snap.epochs // max(snap.total_steps, 1) + 1)
    parts = [f"{'Paused' if snap.paused else status_words(snap.status)}: step {snap.step:,} of {snap.total_steps:,}"]
    if snap.active and snap.status != Status.QUEUED:
        parts.append(f"epoch {epoch} of {snap.epochs}")
        if snap.samples_per_s:
            parts.append(f"{snap.samples_per_s:,.0f} images/s")
        if snap.eta_s is not None:
            parts.append(f"about {duration(snap.eta_s)} left")
    return " · ".join(parts)


def sidebar_progress_text(snap: JobSnapshot) -> str:
    """The sidebar's shorter line: the epoch, not the step. The sidebar and the Train page refresh at
    different moments, so two step counts on one screen would disagree; an epoch lasts many refreshes."""
    if not snap.active or snap.status == "queued":
        return progress_text(snap)
    epoch = min(snap.epochs, snap.step * snap.epochs // max(snap.total_steps, 1) + 1)
    parts = [f"{'Paused' if snap.paused else status_words(snap.status)}: epoch {epoch} of {snap.epochs}"]
    if snap.eta_s is not None:
        parts.append(f"about {duration(snap.eta_s)} left")
    return " · ".join(parts)


def final_score(run: Run) -> str:
    """The run's last test score in words, or an empty string before the first epoch ends."""
    record = run.record
    metrics = record.history.epochs if record else (run.snapshot().epoch_metrics if run.job else ())
    if not metrics:
        return ""
    last = metrics[-1]
    if last.test_accuracy is not None:
        return f"{last.test_accuracy:.1%} of test images right"
    return f"test reconstruction error {last.test_loss:.4f}"


def curve(run: Run) -> Curve:
    """The curves of a run (live or finished) for ``components.figures``."""
    if run.job is not None:
        snap = run.job.snapshot()
        losses, epochs, changes = snap.step_losses, snap.epoch_metrics, snap.learning_rate_changes
    else:
        record = run.record
        history = record.history  # type: ignore[union-attr]
        losses, epochs = np.asarray(history.step_losses, np.float32), tuple(history.epochs)
        changes = tuple((int(step), float(rate)) for step, rate in record.extra.get("learning_rate_changes", ()))  # type: ignore[union-attr]
    return Curve(
        name=f"run {run.run_id}",
        step_losses=losses,
        epoch_steps=[e.step for e in epochs],
        test_losses=[e.test_loss for e in epochs],
        test_accuracies=[e.test_accuracy for e in epochs],
        rate_changes=changes,
    )


def curves_version(runs: Sequence[Run], curves: Sequence[Curve], with_steps: bool) -> tuple:
    """What a figure of these runs' curves shows, to make it again only when that changed: each run's
    ``cache_id`` (unique in the server process) and how many epochs, learning-rate changes and (``with_steps``,
    for a figure of every step) steps its curves have. Curves only grow, so a count names their content."""
    return tuple(
        (run.cache_id, len(c.epoch_steps), len(c.rate_changes), len(c.step_losses) if with_steps else None)
        for run, c in zip(runs, curves, strict=True)
    )


def epoch_metrics(run: Run) -> tuple[EpochMetrics, ...]:
    """The per-epoch metrics of a run, live or finished."""
    if run.job is not None:
        return tuple(run.job.snapshot().epoch_metrics)
    return tuple(run.record.history.epochs) if run.finished else ()  # type: ignore[union-attr]


def generalisation_words(run: Run, dataset: Dataset | None) -> str:
    """What the train-against-test figure shows, with the run's last gap in numbers."""
    config, result = run.config, run.record
    images, words = "the training images the model learns from", ""
    what = plain(what_each_image_is(dataset.class_names), 200) if dataset is not None else "each class"
    if dataset is not None and dataset.name == run.dataset:
        fraction = config.train_fraction
        images = describe_train_eval(dataset.num_train, dataset.num_test, fraction).removeprefix("measured on ")
        words = describe_subset(dataset.num_train, fraction).capitalize() + ". "
    elif result is not None and "train_eval_images" in result.extra:
        images = f"{result.extra['train_eval_images']:,} of the {result.extra['train_images']:,} training images"
    words += (
        f"Solid: the model on {images} (measured after every epoch, without shifts or noise, a fixed set "
        "to keep it quick); dashed: on the test images it never learns from. The shaded band is the gap: "
        "how much worse it does on new images. A band that widens while training goes on is overfitting "
        f"(memorising the training images instead of learning what makes {what})."
    )
    measured = [e for e in epoch_metrics(run) if e.train_eval_loss is not None]
    if measured:
        last = measured[-1]
        if last.accuracy_gap is not None:
            words += (
                f" After epoch {last.epoch}: {last.train_eval_accuracy:.1%} of training images right against "
                f"{last.test_accuracy:.1%} of test images, a gap of {last.accuracy_gap * 100:.1f} percentage points."
            )
        else:
            words += (
                f" After epoch {last.epoch}: loss {last.train_eval_loss:.4f} on training images against "
                f"{last.test_loss:.4f} on test images."
            )
    return words


def megabytes(count: int) -> str:
    """``2_143_272`` -> ``"2.1 MB"``; ``256_000_000`` -> ``"256 MB"``."""
    value = count / 1e6
    return f"{value:,.1f} MB" if value < 10 else f"{value:,.0f} MB"


def memory_words(share: Share) -> str:
    """How much of this visitor's memory budget their finished models take, and what happens over it."""
    return (
        f"Finished models kept in this server's memory: {megabytes(share.held_bytes)} of the "
        f"{megabytes(share.budget_bytes)} each visitor may keep. Over that, the runs you used longest ago "
        "leave memory and are read back from the runs folder when you open them again."
    )


def over_budget_words(share: Share) -> str | None:
    """What a visitor over budget with runs saved nowhere else should know (those cannot leave memory); else None."""
    if not share.over_budget or not share.unsaved_runs:
        return None
    runs = "1 run" if share.unsaved_runs == 1 else f"{share.unsaved_runs} runs"
    return (
        f"Your runs take {megabytes(share.held_bytes)} of this server's memory, more than the "
        f"{megabytes(share.budget_bytes)} each visitor may keep, and {runs} ({megabytes(share.unsaved_bytes)}) "
        "could not be saved to the runs folder. A run that is not saved cannot leave memory: it stays until you "
        "close this tab. Download a checkpoint of each run you want to keep."
    )
