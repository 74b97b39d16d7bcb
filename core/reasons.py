"""Why a training run ended, or what it waits for, in words a person reads.

A reason is kept as its English text (in the run's result and its saved files, which older versions
wrote too), written from one of the templates below. ``reason_text`` shows it in another language by
finding the template it was written from and putting its values into that template's translation;
a text written from none of them (an older file's own words) is shown as it is.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Callable
from functools import cache

from core.errors import CoreError
from core.i18n import N_, Phrase

STOPPED_BY_REQUEST = N_("stopped by request after {steps:,} of {total:,} steps")
SAVED_AFTER_EPOCH = N_("saved after epoch {epoch} of {epochs} while it trained; it can be continued from there")
SAVED_WHILE_TRAINING = N_("saved after epoch {epoch} of {epochs} while training; it can be continued from there")
MODEL_LOST = N_("its model left memory (over the memory budget) and its file in the runs folder has gone since")
TAB_CLOSED = N_("stopped because the browser tab that started it was closed")
STOPPED_BEFORE_START = N_("stopped before it started")
COMPILING = N_("compiling the training step (first time for this model only)")
GAVE_BACK = N_(
    "waiting: another visitor's training needs a slot; this one goes on where it stopped when a slot is free"
)
WAITING_FOR_SLOT = N_("at most {limit} trainings run at once on this server; this one starts when one ends")
FAILED_UNEXPECTEDLY = N_("training failed unexpectedly: {error}")
SWEEP_COMPILING = N_("compiling the training step for {setting} {value}")
SWEEP_COMPILING_EACH_WIDTH = N_("compiling the training step for {setting} {value} (once per width)")
EXPLODED = N_(
    "the loss exploded to {loss:.3g} (over {factor:,.0f} times its first value, {first:.3g}) at step {step:,}: "
    "the learning rate ({rate:g}) is probably too high for {optimizer}."
)
BECAME_NAN = N_(
    "the loss became NaN (not a number) at step {step:,}: the learning rate ({rate:g}) is probably too high "
    "for {optimizer}."
)
BECAME_INFINITE = N_(
    "the loss became infinite at step {step:,}: the learning rate ({rate:g}) is probably too high for {optimizer}."
)
KEPT_AFTER_STEP = N_("Training stopped; the model keeps its last good parameters, after step {kept:,}.")
KEPT_INITIAL = N_("Training stopped; the model keeps its last good parameters, before training (its initial values).")
#: every template a reason or status message is written from, the longest first (the most literal text)
TEMPLATES = tuple(
    sorted(
        (STOPPED_BY_REQUEST, MODEL_LOST, SAVED_AFTER_EPOCH, SAVED_WHILE_TRAINING, TAB_CLOSED, STOPPED_BEFORE_START,
         COMPILING, GAVE_BACK, WAITING_FOR_SLOT, FAILED_UNEXPECTEDLY, SWEEP_COMPILING_EACH_WIDTH, SWEEP_COMPILING,
         EXPLODED, BECAME_NAN, BECAME_INFINITE, KEPT_AFTER_STEP, KEPT_INITIAL),
        key=len, reverse=True,
    )
)  # fmt: skip

Gettext = Callable[[str], str]


class ErrorMessage(str):
    """A status message that is a core error's English text and remembers the error, so that
    ``reason_text`` shows it in another language."""

    error: CoreError

    def __new__(cls, error: CoreError) -> ErrorMessage:
        message = super().__new__(cls, str(error))
        message.error = error
        return message


@cache
def _pattern(template: str) -> re.Pattern[str]:
    """A value within a sentence holds no sentence's end (". "); one that ends the template, anything."""
    parts, seen = [], set()
    pieces = list(string.Formatter().parse(template))
    for i, (literal, name, _spec, _conversion) in enumerate(pieces):
        parts.append(re.escape(literal))
        if name is not None:
            last = i == len(pieces) - 1
            value = r".+" if last else r"(?:(?!\. ).)+?"
            parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>{value})")
            seen.add(name)
    return re.compile("".join(parts), re.DOTALL)


#: the fields that hold a word of the product's own (a sweep's setting), translated with the message
WORD_FIELDS = frozenset({"setting"})


def _fill(template: str, values: dict[str, str], gettext: Gettext) -> str:
    """``template`` with each field replaced by the text it had in the English message (a number or an
    optimizer's name stays as it was written; a setting's name is translated)."""
    out = []
    for literal, name, _spec, _conversion in string.Formatter().parse(template):
        out.append(literal)
        if name is not None:
            out.append(gettext(values[name]) if name in WORD_FIELDS else values[name])
    return "".join(out)


def reason_text(text: str, gettext: Gettext) -> str:
    """``text`` (a reason or status message) in the language of ``gettext``; as it is when it was
    written from no known template."""
    if isinstance(text, ErrorMessage):
        return text.error.text(gettext)
    if isinstance(text, Phrase):
        return text.text(gettext)
    for template in TEMPLATES:
        match = _pattern(template).fullmatch(text)
        if match:
            return _fill(gettext(template), match.groupdict(), gettext)
    for template in TEMPLATES:  # two sentences, each from a template
        match = _pattern(template).match(text)
        if match and text[match.end() : match.end() + 1] == " ":
            rest = text[match.end() + 1 :]
            translated_rest = reason_text(rest, gettext)
            if translated_rest != rest or gettext(template) == template:
                first = _fill(gettext(template), match.groupdict(), gettext)
                return first + ("" if first.endswith("。") else " ") + translated_rest
    return text


def divergence_reason(loss: float, first_loss: float, factor: float, step: int, kept_steps: int, rate: float,
                      optimizer: str) -> str:  # fmt: skip
    """Why a run that diverged stopped, and what its model keeps."""
    common = {"step": step, "rate": rate, "optimizer": optimizer}
    if math.isfinite(loss):
        what = EXPLODED.format(loss=loss, factor=factor, first=first_loss, **common)
    else:
        what = (BECAME_NAN if math.isnan(loss) else BECAME_INFINITE).format(**common)
    kept = KEPT_AFTER_STEP.format(kept=kept_steps) if kept_steps else KEPT_INITIAL
    return f"{what} {kept}"
