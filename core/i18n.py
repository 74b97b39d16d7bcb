"""The dashboard's languages: gettext catalogues (``locales/<lang>/LC_MESSAGES/messages.po``) made
with Babel, the English texts being their message ids.

The ``.po`` file is the only copy kept in git: ``translations`` compiles it with Babel in memory
the first time a language is asked for, so a fresh clone needs no build step. A
``gettext.GNUTranslations`` is only read once made, so one per language serves every visitor.
Which language a visitor reads is theirs (``components/i18n.py`` keeps it in their session).
"""

from __future__ import annotations

import gettext
import io
import string
import threading
from collections.abc import Callable
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES = Path(__file__).resolve().parents[1] / "locales"
DOMAIN = "messages"
#: Each language the dashboard speaks, by its code, named in itself (the sidebar's choice).
LANGUAGES = {"en": "English", "ja": "日本語"}
ENGLISH = "en"
_lock = threading.Lock()


def N_(text: str) -> str:  # gettext's name for "translate later"
    """Mark a text for the catalogue where no visitor is known (core's messages, constants): the page
    shows it through ``_()`` (``components/i18n.py``), a core error through ``error_text``."""
    return text


class Term(str):
    """A word of the product's own (a setting's name, marked with ``N_`` where it is written) put into a
    core error's message: the message shows it in the visitor's language too (``CoreError.text``)."""


class Phrase(str):
    """An English sentence written from a catalogue template (marked with ``N_``), remembering the template
    and its values so that a page can show it in the visitor's language: ``phrase.text(gettext)``. A value
    that is itself a ``Phrase`` or a ``Term`` is translated with it; as a ``str`` it is the English text."""

    template: str
    fields: dict[str, object]

    def __new__(cls, template: str, /, **fields: object) -> Phrase:
        phrase = super().__new__(cls, template.format(**fields) if fields else template)
        phrase.template, phrase.fields = template, fields
        return phrase

    def text(self, gettext: Callable[[str], str] = str) -> str:
        """The sentence in the language of ``gettext`` (English without one)."""
        values = {
            name: value.text(gettext)
            if isinstance(value, Phrase)
            else gettext(value)
            if isinstance(value, Term)
            else value
            for name, value in self.fields.items()
        }
        template = gettext(self.template)
        return template.format(**values) if self.fields else template


def _value_text(value: object, gettext: Callable[[str], str]) -> object:
    if isinstance(value, Phrase):
        return value.text(gettext)
    return gettext(value) if isinstance(value, Term) else value


def catalogue_path(language: str) -> Path:
    return LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def language_of_locale(locale: str | None) -> str:
    """The language to show for a browser's language tag: ``"ja-JP"`` -> ``"ja"``; others English."""
    code = (locale or "").replace("_", "-").split("-")[0].strip().lower()
    return code if code in LANGUAGES else ENGLISH


def _compile(language: str) -> gettext.NullTranslations:
    path = catalogue_path(language)
    if language == ENGLISH or not path.is_file():
        return gettext.NullTranslations()
    with path.open("rb") as file:
        catalog = read_po(file, locale=language, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


@cache
def _translations(language: str) -> gettext.NullTranslations:
    return _compile(language)


def translations(language: str) -> gettext.NullTranslations:
    """The catalogue of ``language``, compiled once per process (English: the ids themselves)."""
    if language not in LANGUAGES:
        language = ENGLISH
    with _lock:  # two first visitors at once compile it once
        return _translations(language)


def placeholders(text: str) -> list[str]:
    """The ``{name:spec}`` fields of a ``str.format`` text, sorted (a translation keeps the same)."""
    fields = []
    for _literal, name, spec, conversion in string.Formatter().parse(text):
        if name is not None:
            fields.append(f"{name}!{conversion or ''}:{spec or ''}")
    return sorted(fields)
