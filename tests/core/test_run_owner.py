"""Two server processes share one runs folder (behind nginx): a run still training in one is listed by the
other as training there, not as interrupted; once that process is gone, it is interrupted."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.runs import owner, store
from core.spec import ModelSpec
from core.training import TrainConfig, train
from testkit.waits import HANG_S

ROOT = Path(__file__).resolve().parents[2]
#: another server process: saves a run while it "trains" (an epoch's result offered once), then stays alive
TRAINER = """
import sys, time
from core.runs import checkpoint, store
saves = store.RunningSave(sys.argv[1], interval_s=0)
saves.offer(checkpoint.load(sys.argv[2]))
saves.wait_written()
print(saves.run_id, flush=True)
time.sleep(600)  # killed here, still training as far as anyone can tell
"""


@pytest.fixture(scope="module")
def one_epoch(small):
    return train(ModelSpec.mlp((8,)), TrainConfig(epochs=3).with_epochs(1), small)


def test_a_run_training_in_another_live_process_is_not_interrupted_until_that_process_dies(tmp_path, one_epoch):
    from core.runs import checkpoint

    source = tmp_path / "epoch1.msgpack"
    checkpoint.save(source, one_epoch)
    folder = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-c", TRAINER, str(folder), str(source)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT)})  # fmt: skip
    try:
        assert select.select([proc.stdout], [], [], HANG_S)[0], "the other process never saved"
        run_id = proc.stdout.readline().strip()
        [during] = store.list_runs(folder)
        assert during.run_id == run_id and during.in_progress
        assert during.summary["owner"]["pid"] == proc.pid
        assert during.summary["owner"]["host"] == socket.gethostname()
        assert during.training_elsewhere and not during.interrupted
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # kill -9: no final save, no clean-up
        proc.wait(timeout=HANG_S)
    [after] = store.list_runs(folder)
    assert after.run_id == run_id and after.in_progress
    assert after.interrupted and not after.training_elsewhere


def _listed(folder: Path, summary: dict) -> store.SavedRun:
    run_id = "20260101-000000-deadbeef"
    (folder / f"{run_id}.json").write_text(json.dumps(summary))
    (folder / f"{run_id}.msgpack").write_bytes(b"")  # listing reads only the summary
    (run,) = store.list_runs(folder)
    return run


@pytest.fixture
def in_progress(one_epoch) -> dict:
    return store.summarize(one_epoch) | {"in_progress": True}


def test_a_summary_without_an_owner_reads_as_interrupted_as_before(tmp_path, in_progress):
    run = _listed(tmp_path, in_progress)
    assert run.interrupted and not run.training_elsewhere and run.damage == ()


def test_a_reused_pid_is_no_owner(tmp_path, in_progress):
    """This test's own pid, alive, but started at another time: the owner that saved it is gone."""
    me = owner.this_process()
    if me["started"] is None:
        pytest.skip("no /proc: a process's start time is not known here")
    run = _listed(tmp_path, in_progress | {"owner": me | {"started": me["started"] + 1}})
    assert run.interrupted and not run.training_elsewhere


def test_a_run_owned_on_another_host_is_training_there_until_its_save_is_stale(tmp_path, in_progress):
    there = {"host": "another-host.invalid", "pid": 4242, "started": 1234}
    fresh = _listed(tmp_path, in_progress | {"owner": there, "created": time.time() - store.SAVE_INTERVAL_S})
    assert fresh.training_elsewhere and not fresh.interrupted
    stale = _listed(tmp_path, in_progress | {"owner": there, "created": time.time() - owner.STALE_AFTER_S - 60})
    assert stale.interrupted and not stale.training_elsewhere


@pytest.mark.parametrize(
    "malformed",
    [{"host": "h", "pid": 0, "started": 1}, {"host": "h", "pid": -1, "started": None}, {"host": 3, "pid": 5},
     {"pid": 5, "started": 1}, {"host": "h", "pid": True, "started": 1}, {"host": "h", "pid": 5, "started": 1.5}],
    ids=["pid 0", "negative pid", "host a number", "no host", "pid true", "start a fraction"],
)  # fmt: skip
def test_a_malformed_owner_is_damage_and_no_owner(tmp_path, in_progress, malformed):
    run = _listed(tmp_path, in_progress | {"owner": malformed})
    assert run.damage == ("owner should be an object of host (text), pid and started (whole numbers), found an object",)
    assert run.summary["owner"] is None and not run.training_elsewhere


def test_a_failed_training_disowns_its_last_save(tmp_path, one_epoch):
    saves = store.RunningSave(tmp_path, interval_s=0)
    saves.offer(one_epoch)
    assert saves.wait_written(HANG_S)
    saves.close()
    [before] = store.list_runs(tmp_path)
    assert before.owner == owner.this_process() and before.interrupted  # no longer training here
    saves.disown()
    [after] = store.list_runs(tmp_path)
    assert after.owner is None and after.interrupted and after.in_progress
