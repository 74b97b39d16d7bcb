"""Keep the dashboard responsive while it trains: run training at a lower CPU priority.

Training saturates every core (XLA's Eigen thread pool), so without this a visitor's page
waits behind it. Lowering the niceness of the training thread and of XLA's compute threads
(the named Eigen pool, and the unnamed threads XLA's CPU client starts, which run the steps too:
every thread of the process that is not a Python thread) lets page scripts go first whenever
they need the CPU, while training still gets all of it when nobody is clicking: throughput is
unchanged on an idle server. Linux only (threads are found in /proc/self/task); elsewhere, or
without permission, it does nothing.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

ENV_VAR = "FLAX_DASHBOARD_TRAINING_NICE"
#: Thread names of XLA's CPU compute pool (``tf_XLAEigen``) and compile workers.
_XLA_THREAD_PREFIXES = ("tf_XLAEigen", "XLAEigen", "llvm-worker")


def training_niceness() -> int:
    try:
        return max(0, min(19, int(os.environ.get(ENV_VAR, "10"))))
    except ValueError:
        return 10


def _threads() -> list[tuple[int, str]]:
    tasks = Path("/proc/self/task")
    found = []
    for entry in tasks.iterdir() if tasks.is_dir() else ():
        try:
            found.append((int(entry.name), (entry / "comm").read_text().strip()))
        except (OSError, ValueError):
            continue
    return found


def native_library_threads() -> set[int]:
    """The threads of this process that Python did not start (XLA's CPU client pools, unnamed on Linux:
    about half of a training's CPU time ran on them at normal priority), never the main thread."""
    python = {thread.native_id for thread in threading.enumerate()}
    return {tid for tid, _ in _threads() if tid not in python and tid != os.getpid()}


def lower_training_priority(niceness: int | None = None) -> int:
    """Renice the calling thread and XLA's compute threads; returns how many threads changed."""
    niceness = training_niceness() if niceness is None else niceness
    if niceness <= 0 or not hasattr(os, "setpriority"):
        return 0
    targets = {threading.get_native_id()}
    targets.update(tid for tid, name in _threads() if name.startswith(_XLA_THREAD_PREFIXES))
    targets.update(native_library_threads())
    changed = 0
    for tid in targets:
        try:
            if os.getpriority(os.PRIO_PROCESS, tid) < niceness:
                os.setpriority(os.PRIO_PROCESS, tid, niceness)
                changed += 1
        except OSError:  # the thread ended, or no permission: nothing to do
            continue
    return changed
