"""Fair training for many visitors: one compiled chunk at a time, in turn, across every job.

Every training of the process (Train-page runs and sweep stacks) asks ``SCHEDULER`` for a
turn before each compiled chunk of steps (about 0.2 s, ``core.training.engine``) and before
each evaluation, and gives it back when the chunk's losses are on the host. Turns are given
first come, first served, and a job that has just had one queues behind those already
waiting: round robin. So k trainings each get about 1/k of the machine, in chunks, and the
chunk that runs has XLA's whole CPU thread pool instead of k chunks fighting over it.

``JobControls`` is what one job hands to the engine (``engine.Pacing``): its turns, and the
presenter's controls. Pausing is "not asking for a turn"; a Step of N runs N steps, then
pauses; a new learning rate is written into the optimizer state before the next chunk (the
optimizer injects its hyperparameters, so it is new data, not a new program) and the step
where it changed is kept so the curve can mark it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from core.errors import ConfigError
from core.i18n import N_
from core.training.config import checked_learning_rate


class RoundRobin:
    """One turn at a time, round robin over *visitors*, then over each visitor's jobs.

    A job asks with its ``owner`` (the visitor who started it; by default the job itself). The
    owners with jobs waiting take turns in the order they first asked, and an owner's jobs take
    that owner's turns in arrival order: a visitor running a training and a sweep gets the same
    share of the machine as a visitor running one training, not twice as much.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._owners: deque[object] = deque()  # owners with a job waiting, in turn order
        self._waiting: dict[object, deque[object]] = {}  # per owner: its waiting jobs, first come first
        self._holder: object | None = None
        #: turns had, per holder (a test and the benchmark read fairness from it, in chunks)
        self.turns: Counter = Counter()

    def _next(self) -> object | None:
        return self._waiting[self._owners[0]][0] if self._owners else None

    @contextmanager
    def turn(self, who: object, owner: object | None = None) -> Iterator[float]:
        """Wait for this job's turn, hold it for the ``with`` block; yields the seconds waited."""
        owner = who if owner is None else owner
        tic = time.perf_counter()
        with self._cond:
            jobs = self._waiting.setdefault(owner, deque())
            if not jobs:
                self._owners.append(owner)
            jobs.append(who)
            while self._holder is not None or self._next() is not who:
                self._cond.wait()
            self._owners.popleft()
            jobs.popleft()
            if jobs:  # the owner's other jobs wait behind the other owners
                self._owners.append(owner)
            else:
                del self._waiting[owner]
            self._holder = who
        try:
            yield time.perf_counter() - tic
        finally:
            with self._cond:
                self._holder = None
                self.turns[who] += 1
                self._cond.notify_all()

    @property
    def waiting(self) -> int:
        """Jobs waiting for a turn now (the holder not counted)."""
        with self._cond:
            return sum(len(jobs) for jobs in self._waiting.values())


SCHEDULER = RoundRobin()


class JobControls:
    """One job's side of the scheduler, and the presenter's controls: pause, resume, step, learning rate.

    The engine calls ``turn`` around each chunk, ``allowed_steps`` to size it, ``ran`` after it
    and ``learning_rate`` before it (``core.training.engine.Pacing``). Any thread may call
    ``pause``, ``resume``, ``step`` and ``set_learning_rate``.
    """

    def __init__(
        self,
        stop: threading.Event | None = None,
        scheduler: RoundRobin | None = None,
        owner: object = None,
        between_chunks: Callable[[], None] | None = None,
    ) -> None:
        self._stop = stop or threading.Event()
        self._scheduler = scheduler or SCHEDULER
        self.owner = owner  # the visitor whose turns this job shares (None: its own)
        #: called before each turn and while paused, on the job's thread: nothing runs then, so the job
        #: may give its training slot to another visitor there and wait to get it back
        self._between_chunks = between_chunks
        self._cond = threading.Condition()
        self._paused = False
        self._budget: int | None = None  # steps left before pausing again (a Step); None: no limit
        self._rate: float | None = None  # the learning rate asked for; None: the config's
        self._holding = False  # paused, and the engine waits: no chunk runs
        self.changes: list[tuple[int, float]] = []  # (step, new learning rate), as applied by the engine
        #: seconds spent waiting for turns and holding them: the share of the machine this job gets
        self.waited_s = 0.0
        self.held_s = 0.0
        self.turns = 0
        self.steps_run = 0  # compiled steps run (of the whole stack: a step of n seeds trains n models)
        self._share: float | None = None

    # ----- the presenter's side (any thread) ----------------------------------------------
    @property
    def paused(self) -> bool:
        with self._cond:
            return self._paused

    @property
    def holding(self) -> bool:
        """Paused and no chunk running: the engine waits for Resume or Step (the step count stands still)."""
        with self._cond:
            return self._holding

    def pause(self) -> None:
        """Stop asking for turns after the current chunk."""
        with self._cond:
            self._paused, self._budget = True, None

    def resume(self) -> None:
        with self._cond:
            self._paused, self._budget = False, None
            self._cond.notify_all()

    def step(self, steps: int) -> None:
        """Train ``steps`` more steps, then pause."""
        if steps < 1:
            raise ConfigError("steps", N_("step at least 1 step at a time, got {steps:,}"), steps=steps)
        with self._cond:
            self._paused, self._budget = False, int(steps)
            self._cond.notify_all()

    def set_learning_rate(self, rate: float) -> None:
        """Train with ``rate`` from the next chunk on (no restart, no recompile)."""
        rate = checked_learning_rate(rate)
        with self._cond:
            self._rate = rate

    # ----- the engine's side (the job's thread) -------------------------------------------
    @contextmanager
    def turn(self) -> Iterator[None]:
        """Wait while paused (a stop ends the wait), then for this job's turn of the machine."""
        while True:
            if self._between_chunks is not None:
                self._between_chunks()
            with self._cond:
                if not self._paused or self._stop.is_set():
                    self._holding = False
                    break
                self._holding = True
                self._cond.wait(timeout=0.1)
        with self._scheduler.turn(self, self.owner) as waited:
            tic = time.perf_counter()
            try:
                yield
            finally:
                held = time.perf_counter() - tic
                self.waited_s += waited
                self.held_s += held
                self.turns += 1
                if held > 0:
                    ratio = (waited + held) / held
                    self._share = ratio if self._share is None else 0.8 * self._share + 0.2 * ratio

    def allowed_steps(self, wanted: int) -> int:
        with self._cond:
            return wanted if self._budget is None else max(1, min(wanted, self._budget))

    def ran(self, steps: int) -> None:
        with self._cond:
            self.steps_run += steps
            if self._budget is not None:
                self._budget -= steps
                if self._budget <= 0:
                    self._paused, self._budget = True, None

    def learning_rate(self) -> float | None:
        with self._cond:
            return self._rate

    def applied(self, step: int, rate: float) -> None:
        """The engine trains with ``rate`` from ``step`` on."""
        with self._cond:
            self.changes.append((step, rate))

    @property
    def turn_s(self) -> float | None:
        """How long this job's turns last on average (None before its first)."""
        return self.held_s / self.turns if self.turns else None

    @property
    def share(self) -> float:
        """How much longer than alone this job's chunks take lately, waiting for a turn included:
        (waited + held) / held, smoothed over the last turns; 1 alone, about k with k jobs."""
        return self._share or 1.0
