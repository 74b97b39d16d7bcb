"""The CI rule that a skipped test fails the run unless it is on the allow-list."""

import pytest

from tests.skip_policy import ALLOWED_SKIPS, unlisted

pytest_plugins = ["pytester"]

SKIPPING = """
import pytest
def test_runs(): pass
def test_skips(): pytest.skip("not installed")
"""


def test_only_unlisted_skips_are_reported():
    listed = next(iter(ALLOWED_SKIPS)) + "::test_x"
    assert unlisted([listed, "tests/core/test_train.py::test_y"]) == ["tests/core/test_train.py::test_y"]


def test_a_skip_fails_the_run_when_fail_on_skip_is_set(pytester, monkeypatch):
    pytester.makepyfile(test_skipping=SKIPPING)
    monkeypatch.setenv("FAIL_ON_SKIP", "1")
    result = pytester.runpytest_inprocess("-p", "tests.skip_policy")
    result.assert_outcomes(passed=1, skipped=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*not on the allow-list*", "test_skipping.py::test_skips"])


def test_a_skip_is_allowed_without_fail_on_skip(pytester, monkeypatch):
    pytester.makepyfile(test_skipping=SKIPPING)
    monkeypatch.delenv("FAIL_ON_SKIP", raising=False)
    result = pytester.runpytest_inprocess("-p", "tests.skip_policy")
    assert result.ret == pytest.ExitCode.OK
