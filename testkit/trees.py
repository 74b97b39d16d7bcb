"""Comparing pytrees leaf by leaf in tests, and sizing them for the memory benchmark (import as
``testkit.trees``)."""

from __future__ import annotations

import functools

import jax
import numpy as np


def assert_leaves_close(a, b, rtol: float = 0.0, atol: float = 0.0, same_dtype: bool = False) -> None:
    """The leaves of two pytrees, pairwise: as many, same shapes, values within ``rtol``/``atol``
    (exactly equal with the defaults), and the same dtypes when ``same_dtype``."""
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        x, y = np.asarray(x), np.asarray(y)
        if same_dtype:
            assert x.dtype == y.dtype, (x.dtype, y.dtype)
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


def array_bytes(root, skip: tuple[type, ...] = (), follow: tuple[str, ...] = ("core",)) -> int:
    """Bytes of every distinct numpy or JAX array reachable from ``root`` through containers,
    ``functools.partial`` and the objects of the project's packages in ``follow`` (``core``; add
    ``components`` to walk a visitor's session), leaving out instances of ``skip``."""
    seen: set[int] = set()
    total = 0
    todo = [root]
    while todo:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, skip):
            continue
        seen.add(id(obj))
        if isinstance(obj, (np.ndarray, jax.Array)):
            total += obj.nbytes
        elif isinstance(obj, dict):
            todo += obj.values()
        elif isinstance(obj, (list, tuple, set, frozenset)):
            todo += obj
        elif isinstance(obj, functools.partial):
            todo += [*obj.args, *obj.keywords.values()]
        elif type(obj).__module__.split(".")[0] in follow and hasattr(obj, "__dict__"):
            todo += vars(obj).values()
    return total
