"""Starting a run from a page: the tab-close grace the operator configured reaches the job."""

from __future__ import annotations

import pytest

from components.session import tab_grace_seconds
from components.state import AppState
from components.training import start_training
from core.data import load_dataset
from core.spec import ModelSpec
from core.training import TrainConfig
from testkit.waits import joined


@pytest.mark.parametrize(("value", "expected"), [("2", 2.0), ("0", 0.5), ("-3", 0.5), ("soon", 15.0), (None, 15.0)])
def test_grace_comes_from_the_environment(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("FLAX_DASHBOARD_TAB_GRACE_S", raising=False)
    else:
        monkeypatch.setenv("FLAX_DASHBOARD_TAB_GRACE_S", value)
    assert tab_grace_seconds() == expected


def test_a_started_run_uses_the_configured_grace(monkeypatch, tmp_path):
    monkeypatch.setenv("FLAX_DASHBOARD_TAB_GRACE_S", "2")
    monkeypatch.setenv("FLAX_DASHBOARD_RUNS_DIR", str(tmp_path))
    state = AppState()
    run = start_training(state, ModelSpec.mlp((8,)), TrainConfig(epochs=1), load_dataset("sample"))
    try:
        assert run.job.grace_s == 2.0
        assert state.selected_run_id == run.run_id
    finally:
        run.job.stop()
        joined(run.job)
