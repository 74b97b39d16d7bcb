"""Saved runs: every finished, stopped or diverged run is written to a runs folder, so nothing
trained is lost when a tab closes or the server restarts.

Each run is two files written atomically (write to a temporary file, then rename): the
checkpoint ``<id>.msgpack`` (core.runs.checkpoint) and a small ``<id>.json`` summary that makes
listing hundreds of runs cheap. The folder is ``$FLAX_DASHBOARD_RUNS_DIR`` or ``./runs``.

A training of the dashboard is also saved while it trains (``RunningSave``): at the end of an
epoch, at most once a minute, under the id its final save then replaces, marked *in progress*;
after a kill the run is listed as interrupted and can be continued from its last save.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import CheckpointError
from core.files import write_atomic
from core.i18n import N_
from core.runs import checkpoint
from core.runs import owner as run_owner
from core.training import TrainResult

ENV_VAR = "FLAX_DASHBOARD_RUNS_DIR"
_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{8}$")
#: A training's checkpoint is rewritten at the end of an epoch once this many seconds have passed since the last
SAVE_INTERVAL_S = 60.0
#: ids of the runs a ``RunningSave`` of this process is writing: still training, not interrupted
_training_here: set[str] = set()


def runs_dir(folder: str | Path | None = None) -> Path:
    return Path(folder or os.environ.get(ENV_VAR) or "runs").expanduser()


@dataclass(frozen=True)
class SavedRun:
    """A run on disk: its id (file stem) and the summary written next to it."""

    run_id: str
    folder: Path
    summary: dict[str, Any]
    #: what ``check_summary`` found wrong in the file (those fields read as None); empty for a sound one
    damage: tuple[str, ...] = ()

    @property
    def checkpoint_path(self) -> Path:
        return self.folder / f"{self.run_id}.msgpack"

    @property
    def created(self) -> float:
        """When it was saved (seconds since 1970); 0 when the summary's value is not a usable time."""
        value = self.summary.get("created")
        return float(value) if _plain_number(value) else 0.0

    def load(self) -> TrainResult:
        return checkpoint.load(self.checkpoint_path)

    @property
    def continuable(self) -> bool:
        """Whether its file holds an optimizer state to continue from (a width sweep's model has none;
        saves older than this key always had one)."""
        return self.summary.get("continuable") is not False

    @property
    def in_progress(self) -> bool:
        """Saved while it trained (``RunningSave``): its training goes on in this process, or was interrupted."""
        return self.summary.get("in_progress") is True

    @property
    def owner(self) -> dict[str, Any] | None:
        """The server process that saved it while it trained (``core.runs.owner``); None in older saves."""
        return self.summary.get("owner")

    @property
    def training_elsewhere(self) -> bool:
        """Saved while it trains in another server process sharing the runs folder, one still alive (on
        another host: one that saved it lately, see ``core.runs.owner``)."""
        owner = self.owner
        if not self.in_progress or self.run_id in _training_here or owner is None:
            return False
        return owner != run_owner.this_process() and run_owner.alive(owner, self.created)

    @property
    def interrupted(self) -> bool:
        """Saved while it trained and training neither here nor in another live server process: the server
        stopped (a kill, a crash) before its final save. Loading it and continuing goes on from its last save.
        A save older than the owner field (no owner) is interrupted unless it trains here."""
        return self.in_progress and self.run_id not in _training_here and not self.training_elsewhere


def summarize(result: TrainResult) -> dict[str, Any]:
    last = result.final_metrics
    return {
        "model": result.spec.describe(),
        "kind": result.spec.kind,
        "parameters": result.spec.parameter_count,
        "dataset": result.dataset,
        "status": result.status,
        "reason": result.reason,
        "optimizer": result.config.optimizer,
        "learning_rate": result.config.learning_rate,
        "batch_size": result.config.batch_size,
        "epochs_planned": result.config.epochs,
        "epochs_done": len(result.history.epochs),
        "steps": result.steps,
        "continuable": result.opt_state is not None,
        "test_accuracy": last.test_accuracy if last else None,
        "test_loss": last.test_loss if last else None,
        "train_s": result.train_s,
        "created": time.time(),
    }


def new_run_id() -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"


def save_run(
    result: TrainResult, folder: str | Path | None = None, run_id: str | None = None, in_progress: bool = False
) -> SavedRun:
    """Write a run (checkpoint first, then its summary: a listed run always has its checkpoint), under
    ``run_id`` (replacing what was saved under it) or a new id; ``in_progress`` marks a save made while it trains."""
    folder = runs_dir(folder)
    folder.mkdir(parents=True, exist_ok=True)
    run_id = run_id or new_run_id()
    checkpoint.save(folder / f"{run_id}.msgpack", result)
    summary = summarize(result) | ({"in_progress": True, "owner": run_owner.this_process()} if in_progress else {})
    write_atomic(folder / f"{run_id}.json", json.dumps(summary, indent=1).encode())
    return SavedRun(run_id, folder, summary)


class RunningSave:
    """A training's checkpoint in the runs folder, rewritten while it trains, so that a killed server
    loses at most the last epoch or minute of it.

    The job's thread asks ``due()`` at the end of each epoch and, when it answers True, ``offer``s the
    run so far (its arrays already copied to the host); a writer thread saves the latest offer
    atomically, so the training waits for no disk. ``close`` waits for a write under way and drops
    any offer left; ``autosave`` then writes the final run under the same ``run_id``, replacing it.
    """

    def __init__(self, folder: str | Path | None = None, interval_s: float = SAVE_INTERVAL_S) -> None:
        self.folder = runs_dir(folder)
        self.run_id = new_run_id()
        self.interval_s = interval_s
        self.saved: SavedRun | None = None  # the last save that worked
        self.error: str | None = None  # why the last save failed
        self._last_offer: float | None = None
        self._pending: TrainResult | None = None
        self._writing = False
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._write, name=f"save-{self.run_id}", daemon=True)
        _training_here.add(self.run_id)

    def due(self) -> bool:
        """Whether the run so far should be offered now: first at the end of its first epoch, then once
        ``interval_s`` have passed since the last offer."""
        return self._last_offer is None or time.monotonic() - self._last_offer >= self.interval_s

    def offer(self, result: TrainResult) -> None:
        """Save ``result`` (marked in progress) soon, in the writer thread; a newer offer replaces an unwritten one."""
        self._last_offer = time.monotonic()
        with self._cond:
            if self._closed:
                return
            self._pending = result
            if not self._thread.is_alive():
                self._thread.start()
            self._cond.notify_all()

    def wait_written(self, timeout: float | None = None) -> bool:
        """Wait until every offer so far is written (or failed); False if ``timeout`` passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending is None and not self._writing, timeout)

    def close(self) -> None:
        """Stop saving: a write under way ends first, an unwritten offer is dropped."""
        with self._cond:
            self._closed, self._pending = True, None
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join()
        _training_here.discard(self.run_id)

    def disown(self) -> None:
        """After its training failed: the last save's summary no longer names this process, so every server
        process sharing the folder lists it as interrupted (not as training here), while this one lives on."""
        if self.saved is None:
            return
        summary = {key: value for key, value in self.saved.summary.items() if key != "owner"}
        try:
            write_atomic(self.folder / f"{self.run_id}.json", json.dumps(summary, indent=1).encode())
        except OSError:  # the folder went read-only: it reads as training here until this process ends
            return
        self.saved = dataclasses.replace(self.saved, summary=summary)

    def _write(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._closed)
                if self._pending is None:
                    return
                result, self._pending, self._writing = self._pending, None, True
            try:
                saved, error = save_run(result, self.folder, self.run_id, in_progress=True), None
            except OSError as err:  # a full disk: training goes on, the final save tries again
                saved, error = None, f"could not save the run to {self.folder}: {err.strerror or err}"
            with self._cond:
                self.saved, self.error = saved or self.saved, error
                self._writing = False
                self._cond.notify_all()


MAX_COUNT = 2**53  # counts beyond this are not ones this tool wrote (and overflow int64 columns)
TEMPORARY = re.compile(r"^\..+\.tmp$")  # core.files.write_atomic's names
TEMPORARY_AGE_S = 600  # a save in progress writes its file in seconds: older ones were left by a kill


def _plain_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) or math.isfinite(value)  # an int of 400 digits is finite, and no float


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < MAX_COUNT


@dataclass(frozen=True)
class FieldType:
    """What one field of a summary holds, in words for a damage note, and the test a value must pass."""

    words: str
    accepts: Callable[[Any], bool]
    nullable: bool = False  # this tool writes null there (a score not measured, no reason)


TEXT = FieldType("text", lambda value: isinstance(value, str))
NUMBER = FieldType("a finite number", lambda value: _plain_number(value) and abs(value) < MAX_COUNT)
SCORE = dataclasses.replace(NUMBER, nullable=True)
COUNT = FieldType("a whole number from 0", _count)
FLAG = FieldType("true or false", lambda value: isinstance(value, bool))
#: Every field ``summarize`` writes and the type a listed run may hold there; the one place a summary read
#: from disk is checked. A field missing is no damage (older saves lack some); one of another type is.
SUMMARY_FIELDS: dict[str, FieldType] = {
    "model": TEXT,
    "kind": TEXT,
    "parameters": COUNT,
    "dataset": TEXT,
    "status": TEXT,
    "reason": dataclasses.replace(TEXT, nullable=True),
    "optimizer": TEXT,
    "learning_rate": NUMBER,
    "batch_size": COUNT,
    "epochs_planned": COUNT,
    "epochs_done": COUNT,
    "steps": COUNT,
    "continuable": FLAG,
    "test_accuracy": SCORE,
    "test_loss": SCORE,
    "train_s": NUMBER,
    "created": NUMBER,
    "in_progress": FLAG,
    "owner": FieldType("an object of host (text), pid and started (whole numbers)", run_owner.well_formed),
}


def json_type_words(value: Any) -> str:
    """What a JSON value is, in words: never the value itself when it is text from outside."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, (int, float)):
        try:
            return f"the number {value:.6g}"
        except OverflowError:  # an integer beyond any float
            return f"a number of {len(str(value))} digits"
    return {str: "text", list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


def check_summary(summary: Any) -> tuple[dict[str, Any], tuple[str, ...]]:
    """A summary read from disk -> (the fields that hold what ``SUMMARY_FIELDS`` says, text cut to 200
    characters, every other known field None; the damage found, one sentence a field). Unknown fields are
    dropped; a summary that is no JSON object is all damage."""
    if not isinstance(summary, dict):
        return dict.fromkeys(SUMMARY_FIELDS), (f"the summary is {json_type_words(summary)}, not an object",)
    clean: dict[str, Any] = {}
    damage = []
    for key, field in SUMMARY_FIELDS.items():
        value = summary.get(key)
        if field.accepts(value):
            clean[key] = value[:200] if isinstance(value, str) else value
            continue
        clean[key] = None
        if key in summary and not (value is None and field.nullable):
            damage.append(f"{key} should be {field.words}, found {json_type_words(value)}")
    return clean, tuple(damage)


def remove_leftover_temporaries(folder: str | Path | None = None, older_than_s: float = TEMPORARY_AGE_S) -> int:
    """Delete the temporary files a killed save left in the runs folder; returns how many.
    Only files older than ``older_than_s`` go, so another process saving right now is not disturbed."""
    folder = runs_dir(folder)
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    cutoff = time.time() - older_than_s
    for entry in entries:
        try:
            if TEMPORARY.match(entry.name) and entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
        except OSError:
            continue
    return removed


def list_runs(folder: str | Path | None = None) -> list[SavedRun]:
    """Saved runs, newest first; files that are not a complete run (or no JSON) are skipped, a summary with
    fields of the wrong type is listed with its ``damage``."""
    folder = runs_dir(folder)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob("*.json"):
        if not _ID.match(path.stem) or not (folder / f"{path.stem}.msgpack").is_file():
            continue
        try:
            summary, damage = check_summary(json.loads(path.read_text()))
        except (OSError, ValueError, RecursionError):
            continue
        found.append(SavedRun(path.stem, folder, summary, damage))
    return sorted(found, key=lambda run: run.created, reverse=True)


def find_run(run_id: str, folder: str | Path | None = None) -> SavedRun:
    if not _ID.match(run_id or ""):
        raise CheckpointError(N_("{run_id!r} is not a saved run id"), run_id=run_id)
    for run in list_runs(folder):
        if run.run_id == run_id:
            return run
    raise CheckpointError(N_("no saved run {run_id} in {runs_dir}"), run_id=run_id, runs_dir=runs_dir(folder))


def autosave(job: Any, folder: str | Path | None = None) -> None:
    """``TrainingJob.on_done`` hook: save the job's result and note where (or why not) on the job.

    A job saved while it trained (its ``checkpoints``, a ``RunningSave``) is saved under the same id,
    in the same folder: the finished run replaces the one in progress."""
    job.saved_run, job.save_error = None, None
    running: RunningSave | None = getattr(job, "checkpoints", None)
    run_id = None
    if running is not None:
        running.close()
        run_id, folder = running.run_id, folder or running.folder
    if job.result is None:  # failed: what was saved while it trained stays, listed as interrupted
        if running is not None:
            running.disown()
        return
    try:
        job.saved_run = save_run(job.result, folder, run_id)
    except OSError as err:  # disk full, read-only folder: the run stays usable in memory
        job.save_error = f"could not save the run to {runs_dir(folder)}: {err.strerror or err}"
        return
    # Saved: the optimizer state (two thirds of an adam run's memory) is read back from the file
    # only to continue or download the run (``core.runs.memory.KeptModel.full_result``); the run it
    # continued from is let go.
    job.result = dataclasses.replace(job.result, opt_state=None)
    if hasattr(job, "resume"):
        job.resume = None
