"""Fixtures of the core tests."""

from __future__ import annotations

import pytest

from core.runs.jobs import SLOTS


@pytest.fixture
def one_slot():
    """Only one training may run at a time while the test runs."""
    limit = SLOTS.limit
    SLOTS.set_limit(1)
    yield
    SLOTS.set_limit(limit)
