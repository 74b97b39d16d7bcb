"""Training slots shared fairly between visitors: one running job per visitor unless there is room.

At most ``limit`` background jobs (trainings and sweeps) run at once; the others wait. When a
slot frees, it goes to the waiting job whose visitor holds the fewest slots now; among equals, to
the visitor served longest ago (never served first), then first come, first served. So a
visitor's second job only gets a slot that no other visitor's job is waiting for, and a visitor
whose job just ended does not go before one who has waited without any.

And when every slot is taken while a visitor who holds none waits, a visitor holding two or more
gives its newest job's slot back at that job's next turn (``give_back``, between two compiled
chunks): the job waits with its state in memory and goes on where it stopped once it gets a slot
again.

A slot is handed to the next job inside ``release`` itself, under the lock, so who gets it never
depends on which waiting thread wakes first.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections import Counter
from dataclasses import dataclass


def default_limit() -> int:
    """``FLAX_DASHBOARD_MAX_TRAININGS`` (at least 1), 4 when unset or not a number."""
    try:
        return max(1, int(os.environ.get("FLAX_DASHBOARD_MAX_TRAININGS", "4")))
    except ValueError:
        return 4


@dataclass(frozen=True)
class _Place:
    owner: object  # the visitor (the job itself when it has none)
    since: int  # when the job first asked: which of a visitor's jobs is its newest


class Slots:
    """A limit on jobs running at once, given out fairly between their owners (see the module)."""

    def __init__(self, limit: int):
        self._limit = max(1, limit)
        self._cond = threading.Condition()
        self._holders: dict[object, _Place] = {}
        self._waiting: dict[object, _Place] = {}  # in the order they began to wait
        self._asked = itertools.count()
        self._served: dict[object, int] = {}  # per owner: when it was last given a slot (a tick of ``_asked``)

    @property
    def limit(self) -> int:
        return self._limit

    def set_limit(self, limit: int) -> None:
        """A new limit; jobs already running keep their slots when it shrinks."""
        with self._cond:
            self._limit = max(1, limit)
            self._admit()

    @property
    def running(self) -> int:
        with self._cond:
            return len(self._holders)

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._waiting)

    def holds(self, job: object) -> bool:
        with self._cond:
            return job in self._holders

    def held_by(self, owner: object) -> int:
        """Slots ``owner``'s jobs hold now."""
        with self._cond:
            return self._counts()[owner]

    # ----- a job's side ---------------------------------------------------------------------
    def ask(self, job: object, owner: object = None) -> None:
        """Queue ``job`` (of visitor ``owner``; None: a job of its own) for a slot; it may get one at once."""
        with self._cond:
            self._waiting[job] = _Place(job if owner is None else owner, next(self._asked))
            self._admit()

    def wait(self, job: object, cancelled: threading.Event) -> bool:
        """Wait until ``job`` holds a slot; False (and out of the queue) if ``cancelled`` is set first."""
        with self._cond:
            while job not in self._holders:
                if cancelled.is_set():
                    self._waiting.pop(job, None)
                    return False
                self._cond.wait(timeout=0.1)
            return True

    def acquire(self, job: object, owner: object, cancelled: threading.Event) -> bool:
        """``ask``, then ``wait``."""
        self.ask(job, owner)
        return self.wait(job, cancelled)

    def release(self, job: object) -> None:
        """``job`` ends: its slot (if it holds one) goes to the fairest waiting job."""
        with self._cond:
            self._waiting.pop(job, None)
            if self._holders.pop(job, None) is not None:
                self._admit()

    def give_back(self, job: object) -> bool:
        """At a boundary between two chunks: True when fairness asks ``job`` for its slot, which then goes
        to a visitor who holds none, and ``job`` waits in the queue (``wait`` for it back); else False."""
        with self._cond:
            if not self._must_give_back(job):
                return False
            self._waiting[job] = self._holders.pop(job)  # still its own first ask: still the newest
            self._admit()
            return True

    # ----- the policy (under the lock) ------------------------------------------------------
    def _counts(self) -> Counter:
        return Counter(place.owner for place in self._holders.values())

    def _admit(self) -> None:
        """Fill free slots: each goes to the waiting job whose owner holds the fewest, then whose owner was
        served longest ago, then first come first."""
        admitted = False
        while self._waiting and len(self._holders) < self._limit:
            counts = self._counts()
            # min keeps the first of equals, and the queue is in arrival order: first come, first served
            job = min(self._waiting, key=lambda j, counts=counts: self._fairness(j, counts))
            place = self._holders[job] = self._waiting.pop(job)
            self._served[place.owner] = next(self._asked)
            admitted = True
        if admitted:
            self._cond.notify_all()

    def _fairness(self, job: object, counts: Counter) -> tuple[int, int]:
        """Smaller goes first: slots its owner holds now, then when its owner was last served (-1: never)."""
        owner = self._waiting[job].owner
        return counts[owner], self._served.get(owner, -1)

    def _must_give_back(self, job: object) -> bool:
        place = self._holders.get(job)
        if place is None or len(self._holders) < self._limit:
            return False
        counts = self._counts()
        if not any(counts[waiting.owner] == 0 for waiting in self._waiting.values()):
            return False
        if counts[place.owner] < 2 or counts[place.owner] < max(counts.values()):
            return False  # a visitor holding more gives back first
        newest = max(p.since for p in self._holders.values() if p.owner == place.owner)
        return place.since == newest


SLOTS = Slots(default_limit())
