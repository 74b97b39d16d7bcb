"""The variables tree as treescope draws it, ready for an iframe of the Variables page."""

from __future__ import annotations

import treescope
from treescope.external import jax_support

#: arrays up to this many numbers get their mean/std/zeros summary (treescope's CPU default, 100,000, leaves
#: out every real kernel: a 784 x 512 one is 401,408 numbers and would say "too large to summarize")
SUMMARY_LIMIT = 20_000_000


def treescope_html(variables, height: int, compressed: bool = True) -> str:
    """treescope's HTML with value summaries for every array, in a box that scrolls instead of overflowing.

    ``compressed=False`` keeps the HTML readable (tests); the page sends the smaller compressed form."""
    with jax_support.summarization_threshold.set_scoped({"default": SUMMARY_LIMIT}):
        inner = treescope.render_to_html(variables, compressed=compressed)
    return f'<div style="height: {height - 10}px; overflow: auto; box-sizing: border-box;">{inner}</div>'
