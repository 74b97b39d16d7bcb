"""Entry point: ``streamlit run app.py``. See components/frame.py for the frame it draws."""

from components.frame import run_app

run_app()
