"""A run summary in the runs folder written by anything (an older version, a hand edit, another tool):
every field of every JSON type is either kept (the type this tool writes there) or read as None and named
in the run's damage, and the run stays listed."""

from __future__ import annotations

import json

import pytest

from core.runs import owner, store
from core.spec import ModelSpec
from core.training import TrainConfig, train

RUN_ID = "20260101-000000-deadbeef"
TEXT = {"model", "kind", "dataset", "status", "reason", "optimizer"}
COUNT = {"parameters", "batch_size", "epochs_planned", "epochs_done", "steps"}
NUMBER = {"learning_rate", "test_accuracy", "test_loss", "train_s", "created"}
FLAG = {"continuable", "in_progress"}
OWNER = {"owner"}  # an object of host, pid and start: none of VALUES is one (tests/core/test_run_owner.py)
NULLABLE = {"reason", "test_accuracy", "test_loss"}  # this tool writes null there itself
VALUES = {  # one value of each JSON type (and numbers no run of this tool has)
    "text": "high",
    "fraction": 0.5,
    "whole": 7,
    "negative": -1,
    "huge": 10**30,
    "enormous": 10**400,
    "nan": float("nan"),
    "true": True,
    "null": None,
    "list": [1],
    "object": {"a": [1]},
}


def _accepted(field: str, value) -> bool:
    """Whether ``value`` is one this tool could have written in ``field`` (written out by hand here, so the
    test does not check the store against itself)."""
    if value is None:
        return field in NULLABLE
    if isinstance(value, bool):
        return field in FLAG
    if isinstance(value, str):
        return field in TEXT
    if isinstance(value, int) and abs(value) < 2**53:
        return field in NUMBER or (field in COUNT and value >= 0)
    if isinstance(value, float) and abs(value) < 2**53:  # NaN compares False
        return field in NUMBER
    return False


@pytest.fixture(scope="module")
def summary(small) -> dict:
    written = store.summarize(train(ModelSpec.mlp((8,)), TrainConfig(epochs=1), small))
    return written | {"in_progress": True, "owner": owner.this_process()}  # what a save while it trains adds


def _listed(folder, summary) -> store.SavedRun:
    (folder / f"{RUN_ID}.json").write_text(json.dumps(summary))
    (folder / f"{RUN_ID}.msgpack").write_bytes(b"")  # listing reads only the summary
    (run,) = store.list_runs(folder)
    return run


def test_the_fields_checked_are_the_fields_written(summary):
    assert set(store.SUMMARY_FIELDS) == set(summary) == TEXT | COUNT | NUMBER | FLAG | OWNER


@pytest.mark.parametrize("kind", list(VALUES))
@pytest.mark.parametrize("field", sorted(TEXT | COUNT | NUMBER | FLAG | OWNER))
def test_each_json_type_in_each_field_is_kept_or_listed_as_damage(tmp_path, summary, field, kind):
    value = VALUES[kind]
    run = _listed(tmp_path, summary | {field: value})
    others = {key: v for key, v in run.summary.items() if key != field}
    assert others == {key: v for key, v in summary.items() if key != field}
    if _accepted(field, value):
        assert run.damage == ()
        assert run.summary[field] == value
    else:
        (note,) = run.damage
        assert note.startswith(f"{field} should be ")
        assert run.summary[field] is None
    assert isinstance(run.created, float) and isinstance(run.continuable, bool)


def test_a_damage_note_says_what_was_expected_and_what_was_found_never_the_text(tmp_path, summary):
    run = _listed(tmp_path, summary | {"test_accuracy": "[x](http://host)", "status": ["x"], "epochs_done": 1e30})
    assert run.damage == (
        "status should be text, found a list",
        "epochs_done should be a whole number from 0, found the number 1e+30",
        "test_accuracy should be a finite number, found text",
    )


@pytest.mark.parametrize("document", ["high", 3, None, True, [1, 2]], ids=["text", "number", "null", "true", "list"])
def test_a_summary_that_is_no_object_is_listed_as_damaged(tmp_path, document):
    run = _listed(tmp_path, document)
    assert run.damage[0].startswith("the summary is ") and run.damage[0].endswith(", not an object")
    assert set(run.summary) == set(store.SUMMARY_FIELDS) and set(run.summary.values()) == {None}


def test_a_summary_nested_beyond_the_parser_is_skipped(tmp_path):
    (tmp_path / f"{RUN_ID}.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / f"{RUN_ID}.msgpack").write_bytes(b"")
    assert store.list_runs(tmp_path) == []


def test_unknown_fields_are_left_out(tmp_path, summary):
    run = _listed(tmp_path, summary | {"extra": {"a": 1}})
    assert "extra" not in run.summary and run.damage == ()
