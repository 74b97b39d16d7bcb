import os
import sys
import threading
from pathlib import Path

import pytest

from core.runs.priority import lower_training_priority, training_niceness

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="thread niceness via /proc is Linux-only")


def test_the_calling_thread_and_xla_threads_get_a_lower_priority(small):
    from core.spec import ModelSpec
    from core.training import TrainConfig, train

    train(ModelSpec.mlp((16,)), TrainConfig(epochs=1), small)  # make XLA start its compute threads
    seen = {}

    def worker():
        lower_training_priority(7)
        seen["me"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen["me"] == 7
    tasks = Path("/proc/self/task")
    xla = [int(t.name) for t in tasks.iterdir() if (t / "comm").read_text().startswith("tf_XLAEigen")]
    assert xla and all(os.getpriority(os.PRIO_PROCESS, tid) >= 7 for tid in xla)
    # the main thread (where page scripts would run) keeps its priority
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < 7


def test_the_threads_xla_starts_unnamed_get_a_lower_priority_too(small):
    """XLA's CPU client runs training steps on threads of its own that carry no name: without them, about
    half of a training's CPU time ran at the page scripts' priority."""
    from core.runs.priority import native_library_threads
    from core.spec import ModelSpec
    from core.training import TrainConfig, train

    train(ModelSpec.mlp((16,)), TrainConfig(epochs=1), small)
    native = native_library_threads()
    names = {tid: (Path("/proc/self/task") / str(tid) / "comm").read_text() for tid in native}
    unnamed = [tid for tid, name in names.items() if not name.startswith(("tf_XLAEigen", "XLAEigen", "llvm-worker"))]
    assert unnamed, "XLA started no threads without a name of its pools"
    seen = {}

    def worker():
        lower_training_priority(8)
        seen["python"] = {t.native_id for t in threading.enumerate()}

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert all(os.getpriority(os.PRIO_PROCESS, tid) >= 8 for tid in unnamed)
    # Python's own threads (page scripts, the server's loop) keep theirs
    others = seen["python"] - {thread.native_id}
    assert others and all(os.getpriority(os.PRIO_PROCESS, tid) < 8 for tid in others)


def test_niceness_setting(monkeypatch):
    monkeypatch.setenv("FLAX_DASHBOARD_TRAINING_NICE", "0")
    assert training_niceness() == 0 and lower_training_priority() == 0
    monkeypatch.setenv("FLAX_DASHBOARD_TRAINING_NICE", "99")
    assert training_niceness() == 19
    monkeypatch.setenv("FLAX_DASHBOARD_TRAINING_NICE", "x")
    assert training_niceness() == 10
