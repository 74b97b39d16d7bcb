"""Helpers for checking a benchmark's JSON report (import as ``tests.benchmarks.reports``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_small(module: str, out: Path) -> tuple[subprocess.CompletedProcess, dict]:
    """Run ``python -m <module> --size small --json <out>`` as CI does: (process, its JSON report)."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", module, "--size", "small", "--json", str(out)],
        capture_output=True, text=True, timeout=600, cwd=ROOT, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc, json.loads(out.read_text())


def numeric_leaves(tree, path: str = ""):
    """(path, value) for every number in a JSON tree, so a zero or negative one can be named."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from numeric_leaves(value, f"{path}.{key}")
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            yield from numeric_leaves(value, f"{path}[{i}]")
    elif isinstance(tree, (int, float)) and not isinstance(tree, bool):
        yield path, tree


def not_positive(report) -> list[tuple[str, float]]:
    """Every number of a report that is zero or negative, with its path (none is expected)."""
    return [(path, value) for path, value in numeric_leaves(report) if value <= 0]
