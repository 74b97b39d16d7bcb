"""A visitor's finished runs in the server's memory ledger: held once, let go over budget, read back on use."""

from __future__ import annotations

import pytest

from components.run_views import curve, final_score
from components.state import AppState
from components.training import save_status, start_training
from core.data import Dataset, load_dataset
from core.predict import evaluate
from core.runs.memory import Budget, MemoryLedger
from core.spec import ModelSpec
from core.training import TrainConfig
from testkit.trees import array_bytes
from testkit.waits import joined

SPEC = ModelSpec.mlp((8,))
#: 784 x 8 + 8 + 8 x 10 + 10 = 6,370 float32 parameters
PARAMS_BYTES = 6_370 * 4


@pytest.fixture
def sample(monkeypatch, tmp_path) -> Dataset:
    monkeypatch.setenv("FLAX_DASHBOARD_RUNS_DIR", str(tmp_path))
    return load_dataset("sample")


def _train(state: AppState, dataset: Dataset, seed: int):
    run = start_training(state, SPEC, TrainConfig(epochs=1, seed=seed), dataset)
    joined(run.job, "the training to end")
    return run


def test_a_finished_run_is_held_once_and_counted_in_its_visitors_share(sample):
    state = AppState(memory=MemoryLedger(Budget(10**9, 10**9)))
    run = _train(state, sample, seed=0)
    assert run.kept is not None and run.kept.saved.run_id == run.job.saved_run.run_id
    # the job lets go of the model: the ledger's count is all the memory the run's arrays take
    assert array_bytes(run.job, skip=(Dataset,)) == 0
    assert state.memory.held_bytes(state) == array_bytes(run.result) == PARAMS_BYTES == 25_480
    assert run.result.opt_state is None and run.full_result().opt_state is not None  # read back from runs/


def test_over_budget_old_runs_leave_memory_and_are_listed_and_read_back_unchanged(sample):
    state = AppState(memory=MemoryLedger(Budget(visitor_bytes=PARAMS_BYTES * 3 // 2, server_bytes=10**9)))
    runs = [_train(state, sample, seed) for seed in range(3)]
    assert [r.kept.held for r in runs] == [False, False, True]  # each new run is selected; the older ones leave
    assert state.memory.held_bytes(state) == PARAMS_BYTES
    first = runs[0]
    # the Train page's list and curves draw from what stays in memory, without reading anything back
    assert final_score(first) == f"{first.record.final_metrics.test_accuracy:.1%} of test images right"
    assert len(curve(first).step_losses) == 35
    assert save_status(first) == f"saved as {first.kept.saved.run_id}; out of memory until it is used again"
    assert not first.kept.held
    # opened again: its model answers exactly as it did when its training ended, and the least recently used goes
    state.selected_run_id = first.run_id
    trained = evaluate(SPEC, first.result.variables, sample.test_images, sample.test_labels)
    assert trained.accuracy == first.record.final_metrics.test_accuracy
    assert [r.kept.held for r in runs] == [True, False, False]


def test_the_selected_run_stays_in_memory_over_budget_though_another_was_used_later(sample):
    state = AppState(memory=MemoryLedger(Budget(visitor_bytes=0, server_bytes=10**9)))
    first, second = (_train(state, sample, seed) for seed in range(2))
    assert [first.kept.held, second.kept.held] == [False, True]  # the newest run is selected
    state.selected_run_id = first.run_id  # "Use this model" on the Train page
    assert first.result is not None
    assert [first.kept.held, second.kept.held] == [True, False]
    second.kept.result()  # e.g. its download, read back and counted again: the selected run still stays
    assert [first.kept.held, second.kept.held] == [True, False]
