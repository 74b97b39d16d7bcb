"""Freed memory back to the system: glibc keeps the heap pages that freed arrays leave in its arenas
(a background thread's arena above all) for the process to reuse, so a sweep that trained 48 models
and freed 47 of them still holds hundreds of MB resident (measured: 728 MB after a 48-model sweep,
457 MB once trimmed, for 28 MB of parameters kept)."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys


@functools.cache
def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return getattr(libc, "malloc_trim", None)  # glibc only (musl has none)


def release_freed_memory() -> bool:
    """Return the heap's free pages to the system (glibc's ``malloc_trim(0)``); whether it could be asked.
    Costs milliseconds: call it after freeing much (a sweep's width), not per step."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
