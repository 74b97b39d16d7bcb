"""Fixtures of the core tests."""

from __future__ import annotations

import pytest

from core.runs.jobs import SLOTS


def _slots(limit: int):
    before = SLOTS.limit
    SLOTS.set_limit(limit)
    yield
    SLOTS.set_limit(before)


@pytest.fixture
def one_slot():
    """Only one training may run at a time while the test runs."""
    yield from _slots(1)


@pytest.fixture
def two_slots():
    """Two trainings may run at once while the test runs."""
    yield from _slots(2)
