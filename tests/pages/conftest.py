"""AppTest fixtures: the real app.py, a fresh session per test, caches cleared between tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from testkit.waits import HANG_S

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _clear_caches():
    st.cache_resource.clear()
    st.cache_data.clear()
    yield


@pytest.fixture
def app() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=HANG_S)
    at.run()
    assert not at.exception
    return at
