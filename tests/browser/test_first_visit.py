"""The first visit after the server starts, with an empty compile cache: what menu the visitors see.

Streamlit runs the first script run of a process through its legacy ``pages/`` discovery when a
``pages/`` folder sits beside the script it serves, and that run sends a menu of raw file names
(app, build, draw, ...) until ``st.navigation`` replaces it. ``app.py`` serves
``components/entry/dashboard.py`` instead, from a folder without one. The menus are read from the
websocket, so even a menu replaced before it was drawn is seen. The round is the one of
``python -m benchmarks.first_visit``; its times are printed, never asserted.
"""

import pytest

from benchmarks.first_visit import TARGET_S, TITLES, format_report, measure_round

pytestmark = pytest.mark.browser


def test_no_visitor_ever_sees_a_menu_of_raw_file_names(browser):
    visit = measure_round(browser)
    print(format_report({"target_s": TARGET_S, "rounds": [visit]}))
    assert visit["first_visitor_menus"] == [TITLES]  # the process's first visitor: one menu, the real one
    assert visit["second_visitor_menus"] == [TITLES]
