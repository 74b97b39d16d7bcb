"""Helpers for checking a benchmark's JSON report (import as ``tests.benchmarks.reports``)."""

from __future__ import annotations


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
