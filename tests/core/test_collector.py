import gc
import subprocess
import sys
import textwrap
import threading
import weakref

from core.collector import BoundedCollector
from testkit.waits import HANG_S


class Node:
    def __init__(self) -> None:
        self.other = self  # a reference cycle: only the cycle collector frees it


def test_the_collector_frees_garbage_cycles_on_its_own():
    freed = threading.Event()
    was_enabled = gc.isenabled()
    gc.disable()  # only the collector may free the cycle
    collector = BoundedCollector(interval_s=0.05).start()
    try:
        cycle = Node()
        weakref.finalize(cycle, freed.set)
        del cycle
        assert freed.wait(HANG_S)
        assert collector.collections >= 1
    finally:
        collector.stop()
        if was_enabled:
            gc.enable()
    assert not collector.thread.is_alive()


def test_the_collector_is_a_daemon_and_the_server_setup_freezes_start_up_once():
    # in a process of its own: freezing is for a whole process, and the process must end with it running
    script = textwrap.dedent(
        """
        import gc
        from core.collector import freeze_and_collect_at_bounded_rate
        collector = freeze_and_collect_at_bounded_rate(0.01)
        print(collector.thread.daemon, collector.thread.is_alive(), gc.get_freeze_count() > 1000,
              freeze_and_collect_at_bounded_rate() is collector)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=HANG_S)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True", "True", "True"]
