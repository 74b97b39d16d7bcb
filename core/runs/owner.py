"""Which server process a run saved while it trains belongs to, and whether that process still lives.

Two dashboard processes (behind nginx) may share one runs folder: a run one of them trains is listed by
the other too. Its summary names its owner, ``{"host": ..., "pid": ..., "started": ...}``: the host
name, the process id and the process's start time (clock ticks after boot, from ``/proc/<pid>/stat``;
null where there is no ``/proc``), so a pid reused by a later process is no owner.

On the same host the owner is alive while a process with that pid and start time runs (not a zombie).
On another host its liveness cannot be seen: it counts as training while its last save is younger than
``STALE_AFTER_S``, ten save intervals (a training saves at the end of an epoch once a minute, so only an
epoch longer than ten minutes reads as interrupted on other hosts before it ends).
"""

from __future__ import annotations

import functools
import os
import socket
import time
from pathlib import Path
from typing import Any

MAX_PID = 2**31
#: On another host, a run saved while it trained counts as interrupted once its last save is this old
STALE_AFTER_S = 600.0


def _stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks after boot) of a process, from /proc; None if unreadable."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = text.rsplit(")", 1)[-1].split()  # after the command name, which may hold spaces and ")"
    try:
        return fields[0], int(fields[19])  # fields 3 and 22 of proc(5)
    except (IndexError, ValueError):
        return None


def this_process() -> dict[str, Any]:
    """The owner this process writes into the summaries of the runs it trains (a forked child's own)."""
    return dict(_owner(os.getpid()))


@functools.cache
def _owner(pid: int) -> tuple[tuple[str, Any], ...]:
    stat = _stat(pid)
    return ("host", socket.gethostname()), ("pid", pid), ("started", stat[1] if stat else None)


def _pid_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < MAX_PID


def well_formed(value: Any) -> bool:
    """Whether ``value`` is an owner as ``this_process`` writes it (host text, pid and start whole numbers)."""
    if not isinstance(value, dict) or not isinstance(value.get("host"), str) or not _pid_count(value.get("pid")):
        return False
    started = value.get("started")
    return started is None or (isinstance(started, int) and not isinstance(started, bool) and started >= 0)


def _alive_here(pid: int, started: int | None) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, run by another user
    if this_process()["started"] is None:  # no /proc here: the pid is all there is to go on
        return True
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z" and (started is None or stat[1] == started)


def alive(owner: dict[str, Any], saved_at: float, now: float | None = None) -> bool:
    """Whether the process ``owner`` names may still be training the run it saved at ``saved_at``."""
    if owner["host"] != this_process()["host"]:
        return (time.time() if now is None else now) - saved_at < STALE_AFTER_S
    return _alive_here(owner["pid"], owner.get("started"))
