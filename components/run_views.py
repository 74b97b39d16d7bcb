"""Words and numbers about training runs, shared by the sidebar and the Train page."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from components.figures import Curve
from components.i18n import _, ngettext
from components.state import Run
from components.words import option_text, plain, status_words
from core.data import Dataset
from core.data.dataset import what_each_image_is
from core.runs.jobs import JobSnapshot
from core.runs.memory import Share
from core.training import Status
from core.training.history import EpochMetrics
from core.training.overfitting import subset_size, train_eval_count


def duration(seconds: float | None) -> str:
    """``75.3`` -> ``"1 min 15 s"``; None -> ``"?"``."""
    if seconds is None or not np.isfinite(seconds):
        return "?"
    seconds = max(0.0, float(seconds))
    if seconds < 10:
        return _("{seconds:.1f} s").format(seconds=seconds)
    if seconds < 60:
        return _("{seconds:.0f} s").format(seconds=seconds)
    minutes, rest = divmod(round(seconds), 60)
    return _("{minutes} min {seconds:02d} s").format(minutes=minutes, seconds=rest)


def status_line(snap: JobSnapshot) -> str:
    return _("Paused") if snap.paused else status_words(snap.status)


def time_left(seconds: float) -> str:
    """``"about 1 min 15 s left"``."""
    return _("about {time} left").format(time=duration(seconds))


def progress_text(snap: JobSnapshot) -> str:
    """One line a newcomer can read: where the run is and how long is left."""
    epoch = min(snap.epochs, snap.step * snap.epochs // max(snap.total_steps, 1) + 1)
    parts = [
        _("{status}: step {step:,} of {total:,}").format(
            status=status_line(snap), step=snap.step, total=snap.total_steps
        )
    ]
    if snap.active and snap.status != Status.QUEUED:
        parts.append(_("epoch {epoch} of {epochs}").format(epoch=epoch, epochs=snap.epochs))
        if snap.samples_per_s:
            parts.append(_("{speed:,.0f} images/s").format(speed=snap.samples_per_s))
        if snap.eta_s is not None:
            parts.append(time_left(snap.eta_s))
    return " · ".join(parts)


def sidebar_progress_text(snap: JobSnapshot) -> str:
    """The sidebar's shorter line: the epoch, not the step. The sidebar and the Train page refresh at
    different moments, so two step counts on one screen would disagree; an epoch lasts many refreshes."""
    if not snap.active or snap.status == "queued":
        return progress_text(snap)
    epoch = min(snap.epochs, snap.step * snap.epochs // max(snap.total_steps, 1) + 1)
    parts = [_("{status}: epoch {epoch} of {epochs}").format(status=status_line(snap), epoch=epoch, epochs=snap.epochs)]
    if snap.eta_s is not None:
        parts.append(time_left(snap.eta_s))
    return " · ".join(parts)


def final_score(run: Run) -> str:
    """The run's last test score in words, or an empty string before the first epoch ends."""
    record = run.record
    metrics = record.history.epochs if record else (run.snapshot().epoch_metrics if run.job else ())
    if not metrics:
        return ""
    last = metrics[-1]
    if last.test_accuracy is not None:
        return _("{share:.1%} of test images right").format(share=last.test_accuracy)
    return _("test reconstruction error {error:.4f}").format(error=last.test_loss)


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
        name=_("run {run}").format(run=run.run_id),
        step_losses=losses,
        epoch_steps=[e.step for e in epochs],
        test_losses=[e.test_loss for e in epochs],
        test_accuracies=[e.test_accuracy for e in epochs],
        rate_changes=changes,
    )


def run_names(state, ids: Sequence[int]) -> dict[int, str]:
    """``{2: "run 2: MLP 784-512-256-10 · adam lr 0.001 · ..."}`` for a choice of runs, worded while the page is
    drawn (a choice's format function may run outside the visitor's session)."""
    return {i: option_text(_("run {run}: {label}").format(run=i, label=state.run(i).label), 160) for i in ids}


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
    return sentences(measured_images_words(run, dataset), gap_words(run))


def sentences(*texts: str) -> str:
    """Sentences one after another, as the visitor's language writes them (a space between English ones,
    none between Japanese ones); empty ones left out."""
    shown = [text for text in texts if text]
    joined = shown[0] if shown else ""
    for text in shown[1:]:
        joined = _("{first} {second}").format(first=joined, second=text)
    return joined


def measured_images_words(run: Run, dataset: Dataset | None) -> str:
    """Which training images the train curve is measured on, and what the figure shows."""
    config, result = run.config, run.record
    images, words = _("the training images the model learns from"), ""
    what = what_each_image_is(dataset.class_names, _) if dataset is not None else _("each class")
    if dataset is not None and dataset.name == run.dataset:
        fraction = config.train_fraction
        count, used = (
            train_eval_count(dataset.num_train, dataset.num_test, fraction),
            subset_size(dataset.num_train, fraction),
        )
        images = (
            _("all {used:,} training images the model learns from").format(used=used)
            if count == used
            else _("a fixed {count:,} of the {used:,} training images the model learns from").format(
                count=count, used=used
            )
        )
        words = _("Training on {used:,} of {total:,} images ({share:.0%}).").format(
            used=used, total=dataset.num_train, share=used / dataset.num_train
        )
    elif result is not None and "train_eval_images" in result.extra:
        images = _("{count:,} of the {total:,} training images").format(
            count=result.extra["train_eval_images"], total=result.extra["train_images"]
        )
    return sentences(
        words,
        _(
            "Solid: the model on {images} (measured after every epoch, without shifts or noise, a fixed set "
            "to keep it quick); dashed: on the test images it never learns from. The shaded band is the gap: "
            "how much worse it does on new images. A band that widens while training goes on is overfitting "
            "(memorising the training images instead of learning what makes {what})."
        ).format(images=images, what=plain(what, 200)),
    )


def gap_words(run: Run) -> str:
    """The last measured gap between training and test images, in numbers ("" before one is measured)."""
    measured = [e for e in epoch_metrics(run) if e.train_eval_loss is not None]
    if not measured:
        return ""
    last = measured[-1]
    if last.accuracy_gap is not None:
        return _(
            "After epoch {epoch}: {train:.1%} of training images right against {test:.1%} of test images, "
            "a gap of {gap:.1f} percentage points."
        ).format(epoch=last.epoch, train=last.train_eval_accuracy, test=last.test_accuracy, gap=last.accuracy_gap * 100)
    return _("After epoch {epoch}: loss {train:.4f} on training images against {test:.4f} on test images.").format(
        epoch=last.epoch, train=last.train_eval_loss, test=last.test_loss
    )


def megabytes(count: int) -> str:
    """``2_143_272`` -> ``"2.1 MB"``; ``256_000_000`` -> ``"256 MB"``."""
    value = count / 1e6
    return f"{value:,.1f} MB" if value < 10 else f"{value:,.0f} MB"


def memory_words(share: Share) -> str:
    """How much of this visitor's memory budget their finished models take, and what happens over it."""
    return _(
        "Finished models kept in this server's memory: {held} of the {budget} each visitor may keep. Over that, "
        "the runs you used longest ago leave memory and are read back from the runs folder when you open them again."
    ).format(held=megabytes(share.held_bytes), budget=megabytes(share.budget_bytes))


def over_budget_words(share: Share) -> str | None:
    """What a visitor over budget with runs saved nowhere else should know (those cannot leave memory); else None."""
    if not share.over_budget or not share.unsaved_runs:
        return None
    return ngettext(
        "Your runs take {held} of this server's memory, more than the {budget} each visitor may keep, and "
        "{count} run ({unsaved}) could not be saved to the runs folder. A run that is not saved cannot leave "
        "memory: it stays until you close this tab. Download a checkpoint of each run you want to keep.",
        "Your runs take {held} of this server's memory, more than the {budget} each visitor may keep, and "
        "{count} runs ({unsaved}) could not be saved to the runs folder. A run that is not saved cannot leave "
        "memory: it stays until you close this tab. Download a checkpoint of each run you want to keep.",
        share.unsaved_runs,
    ).format(
        held=megabytes(share.held_bytes), budget=megabytes(share.budget_bytes), count=share.unsaved_runs,
        unsaved=megabytes(share.unsaved_bytes),
    )  # fmt: skip
