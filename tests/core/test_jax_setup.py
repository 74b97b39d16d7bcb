"""The compilation cache is an optimisation: a folder that cannot be used is reported once, never fatal."""

from __future__ import annotations

import logging

import pytest

from core import jax_setup
from tests.core.test_cli import run_main


@pytest.fixture
def blocked(tmp_path):
    """A plain file where a folder is needed: nothing can be created below it."""
    path = tmp_path / "a-file"
    path.write_text("not a folder")
    return path


@pytest.mark.parametrize("how", ["variable", "home"])
def test_an_unusable_cache_folder_warns_once_and_runs_without_it(monkeypatch, caplog, blocked, how):
    before = jax_setup.compilation_cache_dir()
    if how == "variable":
        monkeypatch.setenv(jax_setup.ENV_VAR, str(blocked))
    else:  # HOME unusable (read-only or, as here, not a folder)
        monkeypatch.delenv(jax_setup.ENV_VAR, raising=False)
        monkeypatch.setenv("HOME", str(blocked))
    with caplog.at_level(logging.WARNING, logger="core.jax_setup"):
        assert jax_setup.enable_compilation_cache() is None
        assert jax_setup.enable_compilation_cache() is None
    warnings = [r.getMessage() for r in caplog.records if r.name == "core.jax_setup"]
    assert len(warnings) == 1 and "cannot be used" in warnings[0] and "running without it" in warnings[0]
    assert jax_setup.compilation_cache_dir() == before  # the working cache (if any) is left as it was
    assert not blocked.is_dir()


def test_the_command_line_still_runs_without_the_cache(monkeypatch, capsys, blocked):
    monkeypatch.setenv(jax_setup.ENV_VAR, str(blocked / "jax"))
    code, _, err = run_main(capsys, "evaluate", "--checkpoint", "/nonexistent.msgpack")
    assert code == 2 and "cannot open checkpoint" in err and "Traceback" not in err
