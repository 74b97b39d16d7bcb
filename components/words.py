"""Plain words for things the pages name (ordinals, layers, statuses), and the one way to show text that did
not come from the product (``plain`` for markdown, ``option_text``, ``figure_text``)."""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

from babel.numbers import format_compact_decimal

from components.i18n import N_, _, language
from components.server_paths import hide_server_paths
from core.spec import AutoEncoderSpec, MLPSpec, ModelSpec
from core.training import Status
from core.training.sweep import ALL_LAYERS

if TYPE_CHECKING:
    from core.runs.store import SavedRun

# Every ASCII punctuation mark can be backslash-escaped in CommonMark; escaping them all also disarms
# Streamlit's own directives (``:red[...]``, ``:material/x:``) and raw HTML.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&\"'=^%@/])")
# GitHub-flavoured markdown turns a bare ``http://``, ``www.`` or ``name@host`` into a link *after* the
# escapes are read, and Streamlit's emoji and icon shortcodes (``:smile:``) are found the same way: an
# invisible word joiner after every ``@``, inside ``www.`` and after a ``:`` that a word or ``//`` follows
# leaves none of them to find (and none where a colon ends a phrase, so copied text reads as shown).
_AUTOLINK_PARTS = re.compile(r"(?<=@)|(?<=:)(?=\S)|(?<=www)(?=\.)", re.IGNORECASE)
_WORD_JOINER = "\u2060"
ECHO_LIMIT = 80


def _one_line(text: object, limit: int) -> str:
    """Server folders named by their role (when served to others), on one line, at most ``limit`` characters."""
    flat = " ".join(hide_server_paths(str(text)).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def plain(text: object, limit: int = ECHO_LIMIT) -> str:
    """Text that did not come from the product (a link value, a file, folder or class name, a checkpoint's
    fields, a run label, an error quoting any of these) made safe to put in Streamlit markdown (``st.info``,
    ``st.caption``, labels, ``help``): shown as typed, never a link, an image, HTML or formatting; on one
    line, at most ``limit`` characters (then an ellipsis)."""
    joined = _AUTOLINK_PARTS.sub(_WORD_JOINER, _one_line(text, limit))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", joined)


def option_text(text: object, limit: int = ECHO_LIMIT) -> str:
    """The same text for a widget that shows its options as typed (``st.selectbox``, ``st.multiselect``;
    not ``st.radio``, whose options are markdown): on one line, at most ``limit`` characters."""
    return _one_line(text, limit)


def figure_text(text: object, limit: int = 40) -> str:
    """The same text for a plotly figure (axis ticks, legend, hover), whose labels read a little HTML
    (``<b>``, ``<a href>``): shown as typed, on one line, at most ``limit`` characters."""
    return html.escape(_one_line(text, limit))


#: activation names that are also words, shown in the visitor's language (the others are names: relu, tanh)
ACTIVATION_WORDS = {"linear": N_("linear")}


def activation_name(name: str) -> str:
    """An activation as a page or chart shows it: its name, or a word for "linear" (no activation)."""
    return _(ACTIVATION_WORDS[name]) if name in ACTIVATION_WORDS else name


ORDINALS = (
    N_("first"), N_("second"), N_("third"), N_("fourth"), N_("fifth"),
    N_("sixth"), N_("seventh"), N_("eighth"), N_("ninth"), N_("tenth"),
)  # fmt: skip


def ordinal(n: int) -> str:
    """1 -> "first", 11 -> "11th" (in the visitor's language)."""
    return _(ORDINALS[n - 1]) if 1 <= n <= len(ORDINALS) else _("{n}th").format(n=n)


def layer_description(spec: ModelSpec, layer: int | str) -> str:
    """``"the first hidden layer (512 units)"``, ``"the code layer (16 units)"`` or ``"all hidden layers"``:
    words rather than a number, which would read differently counted from 0 or from 1."""
    if layer == ALL_LAYERS:
        if spec.code_index is not None:
            return _("all hidden layers (the code keeps its size)")
        return _("all hidden layers")
    chosen = spec.layers[layer]
    if not chosen.is_dense:
        return _("layer {number} ({layer})").format(number=layer + 1, layer=chosen.describe())
    decoder = isinstance(spec, AutoEncoderSpec) and layer >= len(spec.encoder)
    before = spec.decoder[: layer - len(spec.encoder)] if decoder else spec.layers[:layer]
    place = ordinal(1 + sum(one.is_dense for one in before))  # counted among the Dense layers
    if isinstance(spec, MLPSpec):
        name = _("the {place} hidden layer").format(place=place)
    elif layer == spec.code_index:
        name = _("the code layer")
    elif layer < len(spec.encoder):
        name = _("the {place} encoder layer").format(place=place)
    else:
        name = _("the {place} decoder layer").format(place=place)
    return _("{name} ({units:,} units)").format(name=name, units=chosen.width)


#: what a run that no job of this server trained (a checkpoint or a saved run opened) is
LOADED = N_("Loaded from a file")

STATUS_WORDS = {
    Status.QUEUED: N_("Waiting for a free training slot"),
    Status.COMPILING: N_("Preparing: compiling the training step"),
    Status.RUNNING: N_("Training"),
    Status.EVALUATING: N_("Testing on held-out images"),
    Status.FINISHED: N_("Finished"),
    Status.DIVERGED: N_("Stopped: the loss blew up"),
    Status.FAILED: N_("Failed"),
}
ONE_MODEL = "the model so far"


def status_words(status: str, models: str = ONE_MODEL) -> str:
    """A run's (or a sweep's) status in words; ``models`` names what a stop keeps (several: "the models
    trained so far")."""
    if status == Status.STOPPED:
        if models == ONE_MODEL:
            return _("Stopped (the model so far is kept)")
        return _("Stopped ({models} are kept)").format(models=_(models))
    return _(STATUS_WORDS.get(status, LOADED))


def saved_run_status(run: SavedRun) -> str:
    """A saved run's status in words; a run saved while it trained says whether it still trains here, in
    another server process sharing the runs folder (which one, on which computer) or was interrupted; a
    summary with fields of the wrong type says which (the checkpoint beside it is checked when loaded)."""
    summary = run.summary
    if run.damage:
        return _("Damaged summary ({damage})").format(damage="; ".join(run.damage))
    if summary.get("in_progress"):
        done, planned = summary.get("epochs_done"), summary.get("epochs_planned")
        if run.training_elsewhere:
            owner = run.owner or {}
            return _(
                "Training in another server process (process {pid} on {host}), saved after epoch {done} of {planned}"
            ).format(pid=owner.get("pid"), host=option_text(owner.get("host"), 100), done=done, planned=planned)
        if run.interrupted:
            return _(
                "Interrupted after epoch {done} of {planned} (the server stopped): load it and continue training"
            ).format(done=done, planned=planned)
        return _("Training (saved after epoch {done} of {planned})").format(done=done, planned=planned)
    return status_words(summary.get("status"))


def count_words(n: float) -> str:
    """A big count as people say it in the visitor's language, from Babel's locale data (CLDR): 1,100,000 is
    "1.1 million" in English and "110万" in Japanese."""
    return format_compact_decimal(n, format_type="long", locale=language(), fraction_digits=1)
