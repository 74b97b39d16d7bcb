"""The one place that turns raw input (widgets, links, JSON, the command line) into checked values.

Each function returns the value in its proper type or raises the caller's error type
(``SpecError`` or ``ConfigError``) naming the field, the value given and what is accepted. ``what`` is
the product's own name of the value (marked ``N_`` where it is written), shown translated.
Booleans are never numbers here: ``True`` is not a width of 1.
"""

from __future__ import annotations

import math
from typing import Any

from core.errors import ConfigError
from core.i18n import N_, Phrase, Term

FieldError = type[ConfigError]  # SpecError and ConfigError share the (field, message) signature


def word(what: str) -> Term | Phrase:
    """What a message is about, translated with it: a sentence of core's (``Phrase``) as it is, else a ``Term``."""
    return what if isinstance(what, Phrase) else Term(what)


def number(value: Any, field: str, what: str, error: FieldError = ConfigError) -> float:
    """A finite float from a number or numeric text."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise error(field, N_("{what} must be a number, got {value!r}"), what=word(what), value=value)
    try:
        result = float(value.strip() if isinstance(value, str) else value)
    except (ValueError, OverflowError):
        raise error(field, N_("{what} must be a number, got {value!r}"), what=word(what), value=value) from None
    if not math.isfinite(result):
        raise error(field, N_("{what} must be a finite number, got {value!r}"), what=word(what), value=value)
    return result


def whole_number(value: Any, field: str, low: int, high: int, what: str, error: FieldError = ConfigError) -> int:
    """An int in [low, high] from an int, a whole float or numeric text."""
    if isinstance(value, int) and not isinstance(value, bool):
        result = value
    else:
        try:
            as_float = number(value, field, what, error)
        except error:
            raise error(
                field, N_("{what} must be a whole number, got {value!r}"), what=word(what), value=value
            ) from None
        if as_float != int(as_float):
            raise error(field, N_("{what} must be a whole number, got {value!r}"), what=word(what), value=value)
        result = int(as_float)
    if not low <= result <= high:
        raise error(
            field,
            N_("{what} must be between {low:,} and {high:,}, got {result:,}"),
            what=word(what),
            low=low,
            high=high,
            result=result,
        )
    return result


def whole_numbers(text: Any, field: str, what: str, error: FieldError = ConfigError) -> tuple[int, ...]:
    """``"8, 16,32"`` (or a list) -> ``(8, 16, 32)``; empty items are skipped, at least one is needed."""
    items = text.split(",") if isinstance(text, str) else text
    if not isinstance(items, (list, tuple)):
        raise error(
            field, N_("{what} must be whole numbers separated by commas, got {text!r}"), what=word(what), text=text
        )
    numbers = []
    for item in items:
        if isinstance(item, str) and not item.strip():
            continue
        try:
            value = number(item, field, what, error)
        except error:
            raise error(
                field, N_("{what} must be whole numbers separated by commas, got {item!r}"), what=word(what), item=item
            ) from None
        if value != int(value):
            raise error(field, N_("{what} must be whole numbers, got {item!r}"), what=word(what), item=item)
        numbers.append(int(value))
    if not numbers:
        raise error(field, N_("give at least one of the {what}, e.g. 8,16,32"), what=word(what))
    return tuple(numbers)


def choice(value: Any, field: str, options: Any, what: str, error: FieldError = ConfigError) -> str:
    """One of ``options`` (their keys, for a dict)."""
    if not isinstance(value, str) or value not in options:
        raise error(
            field,
            N_("unknown {what} {value!r}; choose {options}"),
            what=word(what),
            value=value,
            options=", ".join(options),
        )
    return value


def flag(value: Any, field: str, what: str, error: FieldError = ConfigError) -> bool:
    """A real boolean (not 0/1, not text)."""
    if not isinstance(value, bool):
        raise error(field, N_("{what} must be true or false, got {value!r}"), what=word(what), value=value)
    return value
