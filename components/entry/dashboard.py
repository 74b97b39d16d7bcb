"""The script every visitor's run executes (``app.py`` serves it as its ``st.App``).

It lives in a folder of its own, away from ``pages/``: Streamlit runs the first script run of
a process through its legacy ``pages/`` discovery whenever a ``pages/`` folder sits beside the
main script, and that run shows a menu of raw file names (app, build, draw, ...) until
``st.navigation`` replaces it. No ``pages/`` folder here, so no visitor ever sees that menu.
"""

from components.frame import run_app

run_app()
