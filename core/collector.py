"""Garbage collection at a bounded rate, for a server whose pages rerun every second.

Streamlit runs a full ``gc.collect(2)`` after every script run (``runner.postScriptGC``): with a
class's pages each rerunning a live fragment once a second, that walked the whole heap (JAX,
flax, plotly and every visitor's state) many times a second while holding the GIL, and the
training threads waited (about half of a two-visitor server's samples in py-spy). The dashboard
turns that option off, freezes what start-up imported (``gc.freeze``: never garbage, never
walked again), and collects here instead, at most once every ``interval_s``, so that cycles
holding large arrays (a finished run's state, a rerun's figures) are still freed soon.
"""

from __future__ import annotations

import gc
import threading

#: seconds between two collections of the server's collector
COLLECT_EVERY_S = 10.0


class BoundedCollector:
    """A daemon thread that runs ``gc.collect()`` every ``interval_s`` seconds until ``stop()``.

    A daemon, so that it never keeps an interpreter (a server, a test run) from ending.
    """

    def __init__(self, interval_s: float = COLLECT_EVERY_S) -> None:
        self.interval_s = interval_s
        self.collections = 0  # how many collections it has run
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="bounded-gc", daemon=True)

    def start(self) -> BoundedCollector:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            gc.collect()
            self.collections += 1


_lock = threading.Lock()
_server_collector: list[BoundedCollector] = []


def freeze_and_collect_at_bounded_rate(interval_s: float = COLLECT_EVERY_S) -> BoundedCollector:
    """Once per process, after start-up's imports: collect what start-up left, freeze the rest
    (``gc.freeze``), and start the process's ``BoundedCollector``. Later calls return that one."""
    with _lock:
        if not _server_collector:
            gc.collect()
            gc.freeze()
            _server_collector.append(BoundedCollector(interval_s).start())
        return _server_collector[0]
