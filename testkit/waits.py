"""Waiting for another thread in tests: the wait ends when the awaited thing happens, and the deadline
only guards against a hang. It is long (600 s: a machine ten times slower than a loaded CI runner
still passes), so a slow machine never fails a test that waits; a stuck one fails with what it waited for."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

#: Seconds before a wait counts as hung. Nothing may depend on it being shorter.
HANG_S = 600.0
#: How often a condition without an event to wait on is looked at again.
LOOK_EVERY_S = 0.01


def wait_for(awaited: threading.Event | Callable[[], object], what: str, timeout: float = HANG_S) -> None:
    """Return as soon as ``awaited`` (an Event, or a function that becomes true) is set or true; raise
    AssertionError naming ``what`` if that has not happened after ``timeout`` seconds."""
    if isinstance(awaited, threading.Event):
        if not awaited.wait(timeout):
            raise AssertionError(f"waited {timeout:g} s for {what}; it did not happen")
        return
    deadline = time.monotonic() + timeout
    while not awaited():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}; it did not happen")
        time.sleep(LOOK_EVERY_S)


def joined(job, what: str = "the job to end", timeout: float = HANG_S) -> None:
    """Wait for a background job (``join(timeout) -> bool``) or thread to end; raise naming ``what`` if it hangs."""
    ended = job.join(timeout)
    if ended is None:  # a threading.Thread's join returns None
        ended = not job.is_alive()
    if not ended:
        raise AssertionError(f"waited {timeout:g} s for {what}; it did not happen")
