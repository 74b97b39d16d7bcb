"""The data roots: the only folders a served dashboard reads local data from.

A dashboard served to other computers reads ``idx:`` and ``folder:`` datasets only below its
data roots (``FLAX_DASHBOARD_DATA_ROOTS``). Paths are compared once resolved, so neither ``..``
nor a symbolic link climbs out of a root, and the same holds for every file read inside the
folder: a link to a file elsewhere is not followed. Refusals name what the person typed,
never where a link points on the server.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.errors import DataError
from core.i18n import N_

Roots = tuple[Path, ...]


def resolve_roots(roots: Sequence[str | Path]) -> Roots:
    """The roots as absolute paths without links, for ``inside``."""
    return tuple(Path(root).expanduser().resolve() for root in roots)


def inside(path: Path, roots: Roots) -> bool:
    """Whether ``path``, once resolved (links followed), is one of ``roots`` or below one."""
    try:
        real = path.resolve()
    except (OSError, RuntimeError):  # a loop of links
        return False
    return any(real == root or root in real.parents for root in roots)


def check_inside_roots(path: Path, roots: Roots, shown: str) -> None:
    """DataError unless ``path`` is inside a root; ``shown`` is the folder as the person typed it."""
    if not inside(path, roots):
        allowed = ", ".join(str(root) for root in roots) or "none configured"
        shown = shown if len(shown) <= 80 else shown[:79] + "…"
        raise DataError(
            N_(
                "reading {shown} is not allowed: this dashboard is served to other computers, so "
                "local folders are read only below its data roots ({allowed}; set "
                "FLAX_DASHBOARD_DATA_ROOTS)"
            ),
            shown=shown,
            allowed=allowed,
        )
