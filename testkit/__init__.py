"""Helpers shared by the tests, the benchmarks and the scripts: driving the app in an AppTest session
(``testkit.support``) or in Chromium (``testkit.browser_support``), comparing and sizing pytrees
(``testkit.trees``) and waiting on another thread without wall-clock thresholds (``testkit.waits``).

The tests, ``benchmarks/`` and ``scripts/`` import from here; nothing here imports ``tests``, and the
app itself (``core``, ``components``, ``pages``) never imports ``testkit``
(``tests/core/test_boundary.py`` checks both)."""
