"""A summary in the runs folder with fields of the wrong JSON type (a hand edit, another tool, a disk
error) is listed on the Train page as damaged with the reason, and no page shows an error box."""

from __future__ import annotations

import json

import pytest

from core.runs import store
from core.spec import ModelSpec
from core.training import TrainConfig, train

PAGES = ("build", "train", "results", "explore", "variables", "inside", "draw", "sweep")
DAMAGE = {  # the three, and one of each JSON type in the fields the table formats
    "issue": {"test_accuracy": "high", "model": {"a": [1]}, "status": ["x"]},
    "text": dict.fromkeys(("test_loss", "epochs_done", "in_progress", "created"), "x"),
    "objects": {key: {"a": 1} for key in ("dataset", "epochs_planned", "reason", "continuable")},
    "numbers": {"model": 3, "status": 1e308, "epochs_done": 10**400, "test_loss": float("inf"), "in_progress": 1},
    "nulls": dict.fromkeys(("model", "status", "epochs_done", "epochs_planned", "in_progress", "created"), None),
}


@pytest.fixture(scope="module")
def summary(small) -> dict:
    return store.summarize(train(ModelSpec.mlp((8,)), TrainConfig(epochs=1), small))


def _saved_runs_table(app):
    return next(d.value for d in app.dataframe if "test accuracy" in d.value.columns)


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_the_train_page_lists_a_damaged_summary_and_every_page_opens(app, tmp_path, monkeypatch, summary, damage):
    monkeypatch.setenv(store.ENV_VAR, str(tmp_path))
    run_id = "20260101-000000-deadbeef"
    (tmp_path / f"{run_id}.json").write_text(json.dumps(summary | DAMAGE[damage]))
    (tmp_path / f"{run_id}.msgpack").write_bytes(b"not a checkpoint")
    for page in PAGES:
        app.switch_page(f"pages/{page}.py").run()
        assert not app.exception, page
    app.switch_page("pages/train.py").run()
    (status,) = _saved_runs_table(app)["status"]
    assert status.startswith("Damaged summary (") and all(f"{field} should be" in status for field in DAMAGE[damage])
    app.button(key="train.load_saved").click().run()  # its checkpoint is no model: refused in words
    assert not app.exception
    assert any("is not a checkpoint of this tool" in e.value for e in app.error)
