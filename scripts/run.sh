#!/usr/bin/env bash
# Set up the dashboard in a local virtual environment and start it on http://127.0.0.1:8501
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -r requirements.txt
exec .venv/bin/streamlit run app.py --runner.postScriptGC false "$@"
