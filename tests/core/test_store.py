import json
import os
import time

import pytest

from core.errors import CheckpointError
from core.runs import store
from core.runs.jobs import TrainingJob
from core.spec import ModelSpec
from core.training import TrainConfig, train
from testkit.trees import assert_leaves_close
from testkit.waits import HANG_S, joined, wait_for


@pytest.fixture(scope="module")
def result(small):
    return train(ModelSpec.mlp((32,)), TrainConfig(epochs=1), small)


def test_saved_runs_are_listed_newest_first_and_load_back(tmp_path, result):
    first = store.save_run(result, tmp_path)
    second = store.save_run(result, tmp_path)
    listed = store.list_runs(tmp_path)
    assert [r.run_id for r in listed] == [second.run_id, first.run_id]
    assert listed[0].summary["model"] == "MLP 784-32-10"
    assert listed[0].summary["test_accuracy"] == result.final_metrics.test_accuracy
    loaded = store.find_run(first.run_id, tmp_path).load()
    assert_leaves_close(loaded.params, result.params)
    assert not list(tmp_path.glob(".*.tmp"))


def test_incomplete_or_foreign_files_are_skipped(tmp_path, result):
    good = store.save_run(result, tmp_path)
    (tmp_path / "notes.json").write_text("{}")
    (tmp_path / "20260101-000000-deadbeef.json").write_text('{"model": "x"}')  # no checkpoint beside it
    (tmp_path / "20260101-000001-deadbeef.json").write_text("not json")
    (tmp_path / "20260101-000001-deadbeef.msgpack").write_bytes(b"")
    assert [r.run_id for r in store.list_runs(tmp_path)] == [good.run_id]
    assert store.list_runs(tmp_path / "missing") == []


def test_find_refuses_path_tricks(tmp_path):
    with pytest.raises(CheckpointError, match="not a saved run id"):
        store.find_run("../../etc/passwd", tmp_path)
    with pytest.raises(CheckpointError, match="no saved run"):
        store.find_run("20260101-000000-deadbeef", tmp_path)


def test_finished_jobs_save_themselves(tmp_path, small):
    job = TrainingJob(ModelSpec.mlp((16,)), TrainConfig(epochs=1), small, on_done=lambda j: store.autosave(j, tmp_path))
    job.start()
    joined(job)
    assert job.saved_run is not None and job.save_error is None
    assert store.list_runs(tmp_path)[0].run_id == job.saved_run.run_id


@pytest.mark.parametrize(
    ("where", "reason"),
    [("runs", "File exists"), ("runs/inner", "Not a directory")],
    ids=["folder-is-a-file", "parent-is-a-file"],
)
def test_a_failed_save_is_reported_and_the_trained_run_kept(tmp_path, small, where, reason):
    """A regular file where the runs folder should be: no folder can be made, even by root (CI runs as root)."""
    (tmp_path / "runs").write_text("a file, not a folder")
    folder = tmp_path / where
    job = TrainingJob(ModelSpec.mlp((16,)), TrainConfig(epochs=1), small, on_done=lambda j: store.autosave(j, folder))
    job.start()
    joined(job)
    assert job.saved_run is None
    assert job.save_error == f"could not save the run to {folder}: {reason}"
    # the visitor still has the run: finished, its 8 steps (1,024 // 128), and it can be saved elsewhere later
    assert job.snapshot().status == "finished" and job.result.steps == 8
    later = store.save_run(job.result, tmp_path / "elsewhere")
    assert_leaves_close(later.load().params, job.result.params)
    assert (tmp_path / "runs").read_text() == "a file, not a folder"


def _damage(run, **values) -> None:
    path = run.folder / f"{run.run_id}.json"
    summary = json.loads(path.read_text())
    summary.update(values)
    path.write_text(json.dumps(summary))


def test_damaged_summaries_are_listed_with_the_damage_left_out(tmp_path, result):
    good = store.save_run(result, tmp_path)
    as_text = store.save_run(result, tmp_path)
    as_null = store.save_run(result, tmp_path)
    _damage(as_text, created="yesterday", epochs_done=10**30, model={"nested": [1]})
    _damage(as_null, created=None, test_accuracy=float("nan"), steps=True)
    listed = {r.run_id: r for r in store.list_runs(tmp_path)}
    assert next(iter(listed)) == good.run_id  # a damaged time sorts as the oldest
    assert listed[as_text.run_id].created == 0.0 and listed[as_null.run_id].created == 0.0
    assert listed[as_text.run_id].summary["epochs_done"] is None
    assert listed[as_text.run_id].summary["model"] is None
    assert listed[as_null.run_id].summary["test_accuracy"] is None and listed[as_null.run_id].summary["steps"] is None
    assert listed[good.run_id].summary["epochs_done"] == 1


def test_temporary_files_left_by_a_killed_save_are_removed(tmp_path, result):
    kept = store.save_run(result, tmp_path)
    old = tmp_path / f".{kept.run_id}.msgpack.k2j3h4.tmp"
    old.write_bytes(b"\0" * 4096)
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    fresh = tmp_path / ".20260101-000000-deadbeef.json.a1b2c3.tmp"  # another process saving right now
    fresh.write_bytes(b"{")
    (tmp_path / "notes.tmp").write_text("not ours")
    assert store.remove_leftover_temporaries(tmp_path) == 1
    assert not old.exists() and fresh.exists() and (tmp_path / "notes.tmp").exists()
    assert [r.run_id for r in store.list_runs(tmp_path)] == [kept.run_id]
    assert store.remove_leftover_temporaries(tmp_path / "missing") == 0


SAVER = """
import sys, time
from pathlib import Path
from core.runs import checkpoint, store

source, folder, go, name, count = sys.argv[1:6]
result = checkpoint.load(source)
while not Path(go).exists():  # both processes start saving at the same moment
    time.sleep(0.005)
for i in range(int(count)):
    result.reason = f"{name} {i}"
    store.save_run(result, folder)
    store.list_runs(folder)  # another visitor's page lists the folder meanwhile
    store.remove_leftover_temporaries(folder)  # as each app process does when it starts
"""


def test_two_app_processes_saving_into_one_runs_folder_never_corrupt_or_lose_a_run(tmp_path, result):
    """Several app processes behind one proxy share ``runs/``: every run each saves is listed and loads back."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    source = tmp_path / "source.msgpack"
    store.checkpoint.save(source, result)
    folder, go, count = tmp_path / "runs", tmp_path / "go", 25
    procs = [
        subprocess.Popen([sys.executable, "-c", SAVER, str(source), str(folder), str(go), name, str(count)],
                         cwd=root, env={**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(root)})
        for name in ("first", "second")
    ]  # fmt: skip
    time.sleep(0.5)
    go.touch()
    assert [proc.wait(timeout=300) for proc in procs] == [0, 0]

    runs = store.list_runs(folder)
    assert sorted(run.summary["reason"] for run in runs) == sorted(
        f"{name} {i}" for name in ("first", "second") for i in range(count)
    )
    for run in runs:
        loaded = run.load()
        assert loaded.reason == run.summary["reason"] and loaded.steps == result.steps
        assert_leaves_close(loaded.params, result.params)
    assert not [p.name for p in folder.iterdir() if p.suffix not in (".json", ".msgpack")]  # no temporaries left


TRAINER = """
import sys, time
from core.data import load_dataset
from core.runs import store
from core.runs.jobs import TrainingJob
from core.spec import ModelSpec
from core.training import TrainConfig

folder = sys.argv[1]
saves = store.RunningSave(folder, interval_s=0)
job = TrainingJob(ModelSpec.mlp((16,)), TrainConfig(epochs=3), load_dataset("sample"), checkpoints=saves,
                  on_done=lambda j: store.autosave(j, folder))
job.controls.step(2 * 35)  # epoch 1 and its test, 35 steps of epoch 2, then it holds before epoch 2's test
job.start()
while not job.controls.holding:
    time.sleep(0.01)
saves.wait_written()
print(saves.run_id, flush=True)
time.sleep(600)  # killed here, in the middle of epoch 2's test
"""


def test_a_server_killed_while_training_leaves_its_last_epoch_listed_as_interrupted_and_continuable(tmp_path, sample):
    import select
    import signal
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    folder = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-c", TRAINER, str(folder)], cwd=root, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(root)})  # fmt: skip
    try:
        assert select.select([proc.stdout], [], [], HANG_S)[0], "the training never saved"
        run_id = proc.stdout.readline().strip()
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # kill -9: no final save, no clean-up
        proc.wait(timeout=HANG_S)

    [saved] = store.list_runs(folder)
    assert saved.run_id == run_id and saved.in_progress and saved.interrupted
    assert saved.summary["status"] == "stopped" and saved.summary["epochs_done"] == 1 and saved.summary["steps"] == 35
    assert saved.summary["reason"] == "saved after epoch 1 of 3 while it trained; it can be continued from there"
    # the parameters and optimizer state after epoch 1: the same as a run of one epoch
    interrupted = saved.load()
    spec, config = ModelSpec.mlp((16,)), TrainConfig(epochs=3)
    one_epoch = train(spec, config.with_epochs(1), sample)
    assert_leaves_close(interrupted.params, one_epoch.params, rtol=1e-6, atol=1e-7)
    assert_leaves_close(interrupted.opt_state, one_epoch.opt_state, rtol=1e-6, atol=1e-7)
    assert interrupted.history.step_losses == pytest.approx(one_epoch.history.step_losses, rel=1e-6)
    # continued, it ends where the run would have ended without the kill
    continued = train(spec, config, sample, resume=interrupted)
    straight = train(spec, config, sample)
    assert continued.steps == straight.steps == 3 * 35
    assert continued.history.step_losses == pytest.approx(straight.history.step_losses, rel=1e-5)
    assert_leaves_close(continued.params, straight.params, rtol=1e-5, atol=1e-6)
    assert sorted(p.suffix for p in folder.iterdir()) == [".json", ".msgpack"]  # no temporary files


def test_a_finished_training_replaces_its_save_in_progress(tmp_path, sample):
    saves = store.RunningSave(tmp_path, interval_s=0)
    job = TrainingJob(ModelSpec.mlp((16,)), TrainConfig(epochs=3), sample, checkpoints=saves,
                      on_done=lambda j: store.autosave(j, tmp_path))  # fmt: skip
    job.controls.step(35 + 1)  # epoch 1, its test and one more step, then it holds
    job.start()
    wait_for(lambda: job.controls.holding, "the job to hold after epoch 1 and one step")
    assert saves.wait_written(HANG_S)
    [during] = store.list_runs(tmp_path)
    assert during.run_id == saves.run_id and during.in_progress and not during.interrupted  # still training here
    assert during.summary["epochs_done"] == 1
    job.controls.resume()
    joined(job)
    [after] = store.list_runs(tmp_path)
    assert after.run_id == saves.run_id == job.saved_run.run_id
    assert not after.in_progress and not after.interrupted
    assert after.summary["status"] == "finished" and after.summary["epochs_done"] == 3
    assert_leaves_close(after.load().params, job.result.params)
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json", ".msgpack"]
