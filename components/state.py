"""Per-visitor state: one typed object in ``st.session_state``, the only place pages keep data.

Everything a page needs to remember (the model being edited, training settings, runs)
lives in ``AppState``. Widget keys are namespaced by page (``"train.learning_rate"``) and
only read where the widget is drawn.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from core import models
from core.costs import describe_change
from core.errors import CheckpointError
from core.onnx_export import OnnxExport
from core.presets import PRESETS
from core.runs.jobs import JobSnapshot, TrainingJob
from core.runs.memory import LEDGER, KeptModel, MemoryLedger, Share
from core.runs.store import SavedRun
from core.runs.sweep_job import SweepJob
from core.spec import ModelSpec
from core.training import TrainConfig, TrainResult
from core.training.estimate import SweepEstimate
from core.training.sweep_plan import SweepPlan

_STATE_KEY = "flax_dashboard.state"
#: server-wide identity of a run, for caches shared by every visitor (a visitor sees run numbers 1, 2, ...)
_cache_ids = itertools.count(1)

DEFAULT_SPECS = {
    "mlp": PRESETS["MNIST classifier (default)"][1],
    "autoencoder": PRESETS["MNIST autoencoder (default)"][1],
}


@dataclass
class Run:
    """A training run of this visitor: live (a job), then finished (its model in ``kept``); or loaded."""

    run_id: int
    label: str
    dataset: str
    job: TrainingJob | None = None
    #: the finished model, counted by the server's memory ledger (its arrays may be in runs/ only)
    kept: KeptModel | None = None
    created: float = field(default_factory=time.time)
    #: unique in the server process (``run_id`` is only unique within one visitor's runs)
    cache_id: int = field(default_factory=lambda: next(_cache_ids))

    @property
    def record(self) -> TrainResult | None:
        """The finished run without its arrays (settings, curves, scores), for lists and charts: never
        reads anything back from disk. None while it trains."""
        job_result = self.job.result if self.job else None  # read before ``kept``: ``keep_finished`` sets it first
        return self.kept.record if self.kept is not None else job_result

    @property
    def result(self) -> TrainResult | None:
        """The finished run with its parameters, read back from runs/ if they were let go of (a use); None
        when that read back failed (``lost``)."""
        job_result = self.job.result if self.job else None  # read before ``kept``: ``keep_finished`` sets it first
        if self.kept is None:
            return job_result
        try:
            return self.kept.result()
        except CheckpointError:
            return None

    @property
    def can_continue(self) -> bool:
        """Whether "Continue training" can go on from it: a finished run with its optimizer state."""
        if self.kept is not None:
            return self.kept.can_continue and not self.lost
        return self.job is not None and self.job.result is not None and self.job.result.opt_state is not None

    @property
    def lost(self) -> str | None:
        """Why this run's model is gone (out of memory, and its file in runs/ deleted since); None if it is not."""
        return self.kept.lost if self.kept is not None else None

    @property
    def finished(self) -> bool:
        """A trained model to use: ended, and not ``lost``."""
        return self.record is not None and not self.lost

    def full_result(self) -> TrainResult:
        """The finished run with its optimizer state, to continue or download it (from runs/ when saved)."""
        if self.kept is not None:
            return self.kept.full_result()
        return self.job.result  # type: ignore[union-attr,return-value]  # the moment before ``keep_finished``

    def latest_variables(self):
        """The model as it is now: the job's latest report while it trains, the finished model's after."""
        if self.job is not None and not self.finished:
            return self.job.latest_variables()
        result = self.result
        return result.variables if result is not None else None

    @property
    def spec(self) -> ModelSpec:
        return self.job.spec if self.job else self.kept.record.spec  # type: ignore[union-attr]

    @property
    def config(self) -> TrainConfig:
        return self.job.config if self.job else self.kept.record.config  # type: ignore[union-attr]

    def snapshot(self) -> JobSnapshot | None:
        return self.job.snapshot() if self.job else None

    @property
    def status(self) -> str:
        if self.job is not None:
            return self.job.snapshot().status
        return self.kept.record.status if self.kept else "unknown"

    @property
    def active(self) -> bool:
        return self.job is not None and self.job.snapshot().active


@dataclass
class BuildPageState:
    """The Build page's layer editor: its widgets' generation and its last refusal."""

    #: bumped whenever the spec is replaced from outside the layer editor (preset, run, upload)
    editor_version: int = 0
    #: why the last add/remove/move in the layer editor was refused
    editor_error: str | None = None
    #: keep "Type the widths instead" open after applying from it
    text_editor_open: bool = False


@dataclass
class ResultsPageState:
    #: seed of the random test images shown on the Results page
    seed: int = 0


@dataclass
class VariablesPageState:
    #: the open tab, kept when the visitor leaves the page and comes back
    tab: str | None = None


@dataclass
class UploadsState:
    """What the uploaders refused, per uploader ("train.upload", "train.image_zip")."""

    #: how many of its uploads were refused. Part of the widget's key, so that a refusal draws a fresh,
    #: empty uploader and the refused file leaves the page
    refused_uploads: dict[str, int] = field(default_factory=dict)
    #: why its last upload was refused and the message's icon, shown beside the fresh uploader until the
    #: next upload
    upload_refusals: dict[str, tuple[str, str]] = field(default_factory=dict)


@dataclass
class TrainPageState:
    """What only the Train page keeps for a visitor: its data folders, the uploads it has handled
    and whether the model is watched as it learns."""

    #: the IDX folder typed on this computer
    idx_folder: str = ""
    #: the folder this visitor's last image zip was unpacked into, and that upload's id
    image_folder: str = ""
    uploaded_zip_id: str | None = None
    #: the last checkpoint upload handled (an upload stays in its widget across reruns)
    uploaded_file_id: str | None = None
    #: the live views of the model learning (answers, latent map, weights)
    watch_training: bool = True
    #: the last run prepared as ONNX (its ``cache_id``) and its checked export, or why it has none
    onnx: tuple[int, OnnxExport | str] | None = None


@dataclass
class SweepPageState:
    """A visitor's width sweep: the job (running or done), estimates per plan, and runs made current."""

    job: SweepJob | None = None
    #: (plan, dataset name) -> estimate; timing again for the same plan would only repeat the work
    estimates: dict[tuple[SweepPlan, str], SweepEstimate] = field(default_factory=dict)
    #: (sweep job id, width, seed) -> the visitor's Run made from that model, so it is added once
    added: dict[tuple[int, int, int], int] = field(default_factory=dict)
    #: the last chart selection acted on (a selection stays in its widget across reruns)
    handled_selection: tuple = ()

    @property
    def active(self) -> bool:
        return self.job is not None and self.job.snapshot().active


@dataclass
class SwitchState:
    """The Inside page's switched-off units, for one trained model (switching to another model turns them on)."""

    #: the model they were switched off in: ("run", cache id)
    model: tuple | None = None
    #: {layer path: the units switched off}
    off: dict[str, frozenset[int]] = field(default_factory=dict)
    #: the layers whose "Which units matter" ranking / pruning curve the visitor asked for: (kind, path)
    shown: set[tuple[str, str]] = field(default_factory=set)
    #: part of the unit grid's widget key: a new, unselected grid after each click (a selection stays in its
    #: widget, and a second click on the same unit must toggle it again)
    version: int = 0

    def for_model(self, model: tuple) -> SwitchState:
        """Itself, emptied first when ``model`` is not the model its units were switched off in."""
        if model != self.model:
            self.model, self.off, self.shown = model, {}, set()
            self.version += 1
        return self

    def toggle(self, path: str, unit: int) -> None:
        units = self.off.get(path, frozenset())
        self.off[path] = units - {unit} if unit in units else units | {unit}
        if not self.off[path]:
            del self.off[path]
        self.version += 1

    def all_on(self) -> None:
        self.off = {}
        self.version += 1

    @property
    def count(self) -> int:
        return sum(len(units) for units in self.off.values())


@dataclass(eq=False)  # hashed by identity: the memory ledger holds it in a WeakSet
class AppState:
    """What one visitor is doing: the models being edited, settings, and their runs."""

    specs: dict[str, ModelSpec] = field(default_factory=lambda: dict(DEFAULT_SPECS))
    kind: str = "mlp"
    dataset_name: str = "sample"
    config: TrainConfig = field(default_factory=TrainConfig)
    runs: list[Run] = field(default_factory=list)
    selected_run_id: int | None = None
    #: the Build page's layer editor
    build: BuildPageState = field(default_factory=BuildPageState)
    #: the Results page's choice of test images
    results: ResultsPageState = field(default_factory=ResultsPageState)
    #: the Variables page's open tab
    variables: VariablesPageState = field(default_factory=VariablesPageState)
    #: what the uploaders (Build, Train) have refused
    uploads: UploadsState = field(default_factory=UploadsState)
    #: presenter / beginner mode: fewer controls, bigger charts, more words
    presenter: bool = False
    #: the last edit of the model in words ("layer 2: 128 -> 256 units adds ...") and the model before it
    last_change: str = ""
    previous_spec: ModelSpec | None = None
    #: pages this visitor has opened (for the guided Build -> Train -> See path)
    visited: set[str] = field(default_factory=set)
    #: a message to show once at the top of the next page (e.g. a shared link that was not valid)
    notice: str | None = None
    #: whether the settings of the page URL have been applied to this session yet
    link_applied: bool = False
    #: the Train page's data folders, handled uploads and live-view switch
    train: TrainPageState = field(default_factory=TrainPageState)
    #: the Width sweep page's job and estimates
    sweep: SweepPageState = field(default_factory=SweepPageState)
    #: the last digit drawn on the Draw page, prepared like MNIST (28, 28, 1) in 0..1, for the Inside page
    drawing: np.ndarray | None = None
    #: the Inside page's input: a test image's number (chosen there or opened from Results) ...
    inside_image: int | None = None
    #: ... or the drawing: "test" or "drawing", whichever the visitor chose last on any page
    inside_source: str = "test"
    #: the Inside page's chosen layer (from 1) and unit, kept while the visitor is on other pages
    inside_unit_layer: int = 1
    inside_unit: int = 0
    #: the Inside page's switched-off units
    switches: SwitchState = field(default_factory=SwitchState)
    #: counts this visitor's finished models against the memory budget (the server's, or a test's)
    memory: MemoryLedger = field(default_factory=lambda: LEDGER, repr=False)

    def __post_init__(self) -> None:
        self.memory.watch(self)

    # ----- the model being edited ----------------------------------------------------
    @property
    def spec(self) -> ModelSpec:
        return self.specs[self.kind]

    def set_spec(self, spec: ModelSpec, *, from_editor: bool = False) -> None:
        old = self.spec
        if spec != old:
            self.previous_spec = old
            self.last_change = describe_change(old, spec)
        self.specs[spec.kind] = spec
        self.kind = spec.kind
        models.prepare_init(spec)  # the Variables page's model.init compiles while the person edits
        if not from_editor:
            self.build.editor_version += 1

    # ----- uploads -------------------------------------------------------------------
    def uploader_key(self, uploader: str) -> str:
        """The widget key of ``uploader`` now: a new one after each refused upload."""
        return f"{uploader}.{self.uploads.refused_uploads.get(uploader, 0)}"

    # ----- runs ----------------------------------------------------------------------
    def add_run(
        self,
        label: str,
        dataset: str,
        job: TrainingJob | None = None,
        loaded: TrainResult | None = None,
        saved: SavedRun | None = None,
    ) -> Run:
        """A new run, made the selected one: a job, or a finished model (``saved`` in runs/ as that, if it is)."""
        number = max((r.run_id for r in self.runs), default=0) + 1  # each visitor counts their own runs
        kept = KeptModel(loaded, saved, self.memory) if loaded is not None else None
        run = Run(number, label, dataset, job=job, kept=kept)
        self.runs.append(run)
        self.selected_run_id = run.run_id
        if kept is not None:
            self.memory.settle()
        return run

    def keep_finished(self, run: Run) -> None:
        """Once ``run``'s job has ended (and saved it): its model moves into ``run.kept``, counted against the
        budget, and the job lets go of it and of the run it continued, so the model is held once.
        Called from the job's thread."""
        job = run.job
        if job is None or job.result is None:
            return
        run.kept = KeptModel(job.result, getattr(job, "saved_run", None), self.memory)
        job.result, job.resume = run.kept.record, None
        self.memory.settle()

    def run(self, run_id: int | None) -> Run | None:
        return next((r for r in self.runs if r.run_id == run_id), None)

    @property
    def active_run(self) -> Run | None:
        """The run that is training now (at most one per visitor)."""
        return next((r for r in reversed(self.runs) if r.active), None)

    @property
    def selected_run(self) -> Run | None:
        return self.run(self.selected_run_id)

    def trained_run(self) -> Run | None:
        """The run whose trained model the other pages show: the selected run when it is a trained model of
        the spec being edited, else the latest trained run of that spec (a new run of a trained model is
        selected while it trains, and the model it retrains stays trained meanwhile)."""
        run = self.selected_run
        if run is not None and run.finished and run.spec == self.spec:
            return run
        return self.latest_result_for(self.spec)

    def trained_result(self) -> TrainResult | None:
        run = self.trained_run()
        return run.result if run is not None else None

    def read_back_models_in_use(self) -> list[Run]:
        """Read back the model the pages will show now, before they draw: a run whose model left memory
        and whose file has gone from runs/ since is marked lost (no longer a trained model, so the pages
        fall back to the next one) and returned, for the frame to say so."""
        lost = []
        while (run := self.trained_run()) is not None and run.result is None:
            lost.append(run)
        return lost

    def latest_result_for(self, spec: ModelSpec) -> Run | None:
        return next((r for r in reversed(self.runs) if r.finished and r.spec == spec), None)

    # ----- memory (``core.runs.memory.Visitor``) -------------------------------------
    def kept_models(self) -> list[KeptModel]:
        return [r.kept for r in list(self.runs) if r.kept is not None]

    def models_in_use(self) -> list[KeptModel]:
        """The selected run's model and the one the other pages show (the latest of the spec being edited)."""
        runs = (self.selected_run, self.trained_run())
        return [r.kept for r in runs if r is not None and r.kept is not None]

    def memory_share(self) -> Share:
        return self.memory.share(self)


def get_state() -> AppState:
    """This visitor's state, created on first use."""
    if _STATE_KEY not in st.session_state:
        st.session_state[_STATE_KEY] = AppState()
    return st.session_state[_STATE_KEY]
