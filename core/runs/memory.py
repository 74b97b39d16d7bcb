"""How much memory the models visitors keep may take, and which to let go over that budget.

A finished run's parameters (and BatchNorm statistics) stay in its visitor's session so that
every page can use them; a 784-4096-4096-10 MLP has 80 MB of them. One ledger per server
process counts them, per visitor (``$FLAX_DASHBOARD_VISITOR_MB``, default 256) and for the
whole process (``$FLAX_DASHBOARD_SERVER_MB``, default 2048). Over a budget, the least recently
used models that are saved in runs/ let go of their arrays, oldest first, and read them back
from their file when a page needs them. The models a visitor's pages show now, and runs saved
nowhere else, are never let go. The ledger holds visitors weakly: a closed tab's session, once
garbage collected, frees its share.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import threading
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import jax
import numpy as np

from core import reasons
from core.errors import CheckpointError
from core.i18n import N_
from core.training import TrainResult

if TYPE_CHECKING:
    from core.runs.store import SavedRun

VISITOR_ENV = "FLAX_DASHBOARD_VISITOR_MB"
SERVER_ENV = "FLAX_DASHBOARD_SERVER_MB"
DEFAULT_VISITOR_MB = 256.0
DEFAULT_SERVER_MB = 2048.0
MB = 1_000_000


def _megabytes(environ: Mapping[str, str], name: str, default: float) -> float:
    """``environ[name]`` as a number of megabytes; text, a negative or a non-finite value gives ``default``."""
    try:
        value = float(environ.get(name, default))
    except ValueError:
        return default
    return value if math.isfinite(value) and value >= 0 else default


@dataclass(frozen=True)
class Budget:
    """Bytes of model arrays one visitor, and the whole server process, may keep in memory."""

    visitor_bytes: int
    server_bytes: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Budget:
        visitor = _megabytes(environ, VISITOR_ENV, DEFAULT_VISITOR_MB)
        server = _megabytes(environ, SERVER_ENV, DEFAULT_SERVER_MB)
        return cls(round(visitor * MB), round(server * MB))


def tree_nbytes(tree: Any) -> int:
    """Bytes of every leaf of a pytree (``None`` and empty containers count nothing)."""
    leaves = jax.tree_util.tree_leaves(tree)
    return sum(int(leaf.nbytes) if hasattr(leaf, "nbytes") else np.asarray(leaf).nbytes for leaf in leaves)


class KeptModel:
    """A finished run's model as its visitor keeps it: counted by a ledger and, when it is saved in
    runs/, let go over budget and read back from its file on the next use.

    ``record`` is the run without its arrays (settings, curves, scores: what lists and charts draw).
    A saved run keeps no optimizer state in memory (it is read back with ``full_result``); a run
    saved nowhere keeps everything, counted, and is never let go."""

    def __init__(self, result: TrainResult, saved: SavedRun | None, ledger: MemoryLedger) -> None:
        kept = result if saved is None or result.opt_state is None else dataclasses.replace(result, opt_state=None)
        self.record = dataclasses.replace(result, params=None, opt_state=None, batch_stats={})
        #: whether it can be trained on (a width sweep's models keep no optimizer state, nor do their saves)
        self.can_continue = result.opt_state is not None or (saved is not None and saved.continuable)
        self.saved = saved
        self.nbytes = tree_nbytes((kept.params, kept.batch_stats, kept.opt_state))
        self.last_used = ledger.tick()
        self._result: TrainResult | None = kept
        #: why its arrays could not be read back (its file in runs/ deleted or damaged meanwhile); None if fine
        self.lost: str | None = None
        self._ledger = ledger
        self._lock = threading.Lock()

    @property
    def held(self) -> bool:
        """Whether its arrays are in memory now."""
        return self._result is not None

    def result(self) -> TrainResult:
        """The run with its parameters: from memory, or read back from its saved file (then counted
        again, which may let another model go). Each call counts as a use."""
        with self._lock:
            result, read_back = self._result, self._result is None
            if read_back:
                result = self._result = dataclasses.replace(self._read_back(), opt_state=None)
            self.last_used = self._ledger.tick()
        if read_back:
            self._ledger.settle()
        return result

    def _read_back(self) -> TrainResult:
        """Its saved file's run; a file gone or damaged meanwhile marks the model ``lost`` (and raises)."""
        try:
            return self.saved.load()  # type: ignore[union-attr]  # only a saved model is ever let go
        except CheckpointError as err:
            # in words for the page, without the server's paths; the error says which file and why
            self.lost = reasons.MODEL_LOST
            raise CheckpointError(
                N_("this run's model was moved out of memory (over the memory budget) and cannot be read back: {err}"),
                err=err,
            ) from None

    def full_result(self) -> TrainResult:
        """The run with its optimizer state too (to continue or download it): from its saved file, or from memory."""
        return self.saved.load() if self.saved is not None else self.result()

    def let_go(self) -> bool:
        """Drop the arrays from memory if they can be read back; whether they were dropped now."""
        with self._lock:
            if self._result is None or self.saved is None:
                return False
            self._result = None
            return True


class Visitor(Protocol):
    """What the ledger asks a visitor's session (``components.state.AppState``)."""

    def kept_models(self) -> Iterable[KeptModel]:
        """Every model of this visitor's finished runs, held or let go."""

    def models_in_use(self) -> Iterable[KeptModel]:
        """The models never to let go now: the ones its pages show."""


@dataclass(frozen=True)
class Share:
    """One visitor's part of the ledger: what it holds, what of that can never be let go, its budget."""

    held_bytes: int
    unsaved_bytes: int
    unsaved_runs: int
    budget_bytes: int

    @property
    def over_budget(self) -> bool:
        return self.held_bytes > self.budget_bytes


class MemoryLedger:
    """The server's count of the models its visitors keep (thread-safe), and what to let go over budget.

    ``budget`` None reads ``Budget.from_env()`` at every count, so a changed setting applies at once."""

    def __init__(self, budget: Budget | None = None) -> None:
        self._budget = budget
        self._visitors: weakref.WeakSet[Visitor] = weakref.WeakSet()
        self._ticks = itertools.count(1)
        self._lock = threading.Lock()

    @property
    def budget(self) -> Budget:
        return self._budget or Budget.from_env()

    def tick(self) -> int:
        """A number larger than every one before: the order of uses, for least recently used first."""
        return next(self._ticks)

    def watch(self, visitor: Visitor) -> None:
        """Count this visitor's models from now on, for as long as the visitor exists."""
        with self._lock:
            self._visitors.add(visitor)

    def held_bytes(self, visitor: Visitor | None = None) -> int:
        """Bytes held in memory now by ``visitor``, or by every visitor."""
        visitors = [visitor] if visitor is not None else self._watched()
        return sum(model.nbytes for v in visitors for model in v.kept_models() if model.held)

    def share(self, visitor: Visitor) -> Share:
        held = [model for model in visitor.kept_models() if model.held]
        unsaved = [model for model in held if model.saved is None]
        return Share(
            held_bytes=sum(m.nbytes for m in held),
            unsaved_bytes=sum(m.nbytes for m in unsaved),
            unsaved_runs=len(unsaved),
            budget_bytes=self.budget.visitor_bytes,
        )

    def settle(self) -> list[KeptModel]:
        """Bring every visitor within its budget, then the server within its own, letting go of the least
        recently used saved models not in use; returns the models let go."""
        budget = self.budget
        let_go: list[KeptModel] = []
        with self._lock:
            everyone: list[KeptModel] = []
            in_use: set[KeptModel] = set()
            for visitor in list(self._visitors):
                models = [model for model in visitor.kept_models() if model.held]
                spare = set(visitor.models_in_use())
                let_go += _trim(models, spare, budget.visitor_bytes)
                everyone += models
                in_use |= spare
            let_go += _trim(everyone, in_use, budget.server_bytes)
        return let_go

    def _watched(self) -> list[Visitor]:
        with self._lock:
            return list(self._visitors)


def _trim(models: list[KeptModel], spare: set[KeptModel], limit: int) -> list[KeptModel]:
    """Let go of the least recently used saved models outside ``spare`` until ``models`` hold at most ``limit``."""
    total = sum(model.nbytes for model in models if model.held)
    let_go = []
    for model in sorted((m for m in models if m not in spare), key=lambda m: m.last_used):
        if total <= limit:
            break
        if model.let_go():
            total -= model.nbytes
            let_go.append(model)
    return let_go


#: the ledger of this server process, for every visitor
LEDGER = MemoryLedger()
