"""Plain words for things the pages name: ordinals and layers."""

from __future__ import annotations

import re

from core.spec import AutoEncoderSpec, MLPSpec, ModelSpec
from core.training import Status
from core.training.sweep import ALL_LAYERS

# Every ASCII punctuation mark can be backslash-escaped in CommonMark; escaping them all also disarms
# Streamlit's own directives (``:red[...]``, ``:material/x:``) and raw HTML.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&\"'=^%@/])")
ECHO_LIMIT = 80


def plain(text: object, limit: int = ECHO_LIMIT) -> str:
    """A stranger's text (a link value, an uploaded file's name or contents) made safe to put in markdown:
    on one line, at most ``limit`` characters (then an ellipsis), every markdown character escaped."""
    flat = " ".join(str(text).split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat)


ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")


def ordinal(n: int) -> str:
    """1 -> "first", 11 -> "11th"."""
    return ORDINALS[n - 1] if 1 <= n <= len(ORDINALS) else f"{n}th"


def layer_description(spec: ModelSpec, layer: int | str) -> str:
    """``"the first hidden layer (512 units)"``, ``"the code layer (16 units)"`` or ``"all hidden layers"``:
    words rather than a number, which would read differently counted from 0 or from 1."""
    if layer == ALL_LAYERS:
        return "all hidden layers" + (" (the code keeps its size)" if spec.code_index is not None else "")
    chosen = spec.layers[layer]
    if not chosen.is_dense:
        return f"layer {layer + 1} ({chosen.describe()})"
    decoder = isinstance(spec, AutoEncoderSpec) and layer >= len(spec.encoder)
    before = spec.decoder[: layer - len(spec.encoder)] if decoder else spec.layers[:layer]
    place = ordinal(1 + sum(one.is_dense for one in before))  # counted among the Dense layers
    if isinstance(spec, MLPSpec):
        name = f"the {place} hidden layer"
    elif layer == spec.code_index:
        name = "the code layer"
    elif layer < len(spec.encoder):
        name = f"the {place} encoder layer"
    else:
        name = f"the {place} decoder layer"
    return f"{name} ({chosen.width:,} units)"


def status_words(status: str, models: str = "the model so far") -> str:
    """A run's (or a sweep's) status in words; ``models`` names what a stop keeps."""
    words = {
        Status.QUEUED: "Waiting for a free training slot",
        Status.COMPILING: "Preparing: compiling the training step",
        Status.RUNNING: "Training",
        Status.EVALUATING: "Testing on held-out images",
        Status.FINISHED: "Finished",
        Status.STOPPED: f"Stopped ({models} {'is' if models.endswith('so far') else 'are'} kept)",
        Status.DIVERGED: "Stopped: the loss blew up",
        Status.FAILED: "Failed",
    }
    return words.get(status, "Loaded from a file")


def saved_run_status(summary: dict, interrupted: bool) -> str:
    """A saved run's status in words; a run saved while it trained says whether it still trains here."""
    if summary.get("in_progress"):
        epoch = f"epoch {summary.get('epochs_done')} of {summary.get('epochs_planned')}"
        if interrupted:
            return f"Interrupted after {epoch} (the server stopped): load it and continue training"
        return f"Training (saved after {epoch})"
    return status_words(summary.get("status"))
