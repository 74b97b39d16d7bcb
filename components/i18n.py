"""Each visitor's language, and the ``_()`` that shows a text in it (catalogues: ``core/i18n.py``).

The language is the visitor's own, kept in their ``st.session_state``: on their first run it comes
from the link (``?lang=ja``) or else from their browser's language (``st.context.locale``), and the
sidebar's "Language / 言語" changes it. Texts are English in the code and the catalogue's ids::

    st.caption(_("{count:,} parameters").format(count=n))
    st.caption(ngettext("{n} layer", "{n} layers", n).format(n=n))

A text that must be written where no visitor is known yet (a module's constant) is marked with
``N_`` so that ``pybabel extract`` finds it, and goes through ``_()`` where it is shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import streamlit as st

from core.errors import CoreError
from core.i18n import ENGLISH, LANGUAGES, language_of_locale, translations
from core.i18n import N_ as N_  # components mark their constants with it too
from core.reasons import reason_text

#: The visitor's language in their session state (not a widget's key, so it outlives any page).
LANGUAGE_KEY = "i18n.language"
#: The link's key for the language; written only when it is not English.
LINK_KEY = "lang"
SELECT_KEY = "sidebar.language"


#: the language of work done for a visitor outside their page's script run (a download made on click)
_speaking: ContextVar[str | None] = ContextVar("speaking", default=None)


def language() -> str:
    """The visitor's language code (``"en"`` until one is chosen)."""
    return _speaking.get() or st.session_state.get(LANGUAGE_KEY, ENGLISH)


@contextmanager
def speaking(code: str) -> Iterator[None]:
    """Texts made inside speak ``code``: for work done outside the visitor's script run, where their
    session is not known (a download button's file, made when it is clicked)."""
    token = _speaking.set(code)
    try:
        yield
    finally:
        _speaking.reset(token)


def _(text: str) -> str:
    """``text`` in the visitor's language (the English text when the catalogue lacks it)."""
    return translations(language()).gettext(text)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The singular or plural text for ``count``, in the visitor's language."""
    return translations(language()).ngettext(singular, plural, count)


def choose_language_once() -> str | None:
    """On a visitor's first run, take their language from the link or else from their browser.

    Returns a message for the page when the link asks for a language that is not offered."""
    if LANGUAGE_KEY in st.session_state:
        return None
    asked = st.query_params.get(LINK_KEY)
    browser = language_of_locale(st.context.locale)
    if asked is None or asked in LANGUAGES:
        st.session_state[LANGUAGE_KEY] = asked or browser
        return None
    st.session_state[LANGUAGE_KEY] = browser
    from components.words import plain  # imports the models: not before the menu is drawn

    return _("This link asks for a language that is not offered ({asked}); showing {language}.").format(
        asked=plain(asked, 20), language=LANGUAGES[browser]
    )


def link_language() -> dict[str, str]:
    """The link's language entry: ``{"lang": "ja"}``, or nothing for English."""
    current = language()
    return {} if current == ENGLISH else {LINK_KEY: current}


def _switch_language() -> None:
    st.session_state[LANGUAGE_KEY] = st.session_state[SELECT_KEY]


def language_select() -> None:
    """The sidebar's language choice; each language is named in itself, so anyone finds theirs."""
    codes = list(LANGUAGES)
    st.selectbox(
        "Language / 言語", codes, index=codes.index(language()), format_func=LANGUAGES.__getitem__,
        key=SELECT_KEY, on_change=_switch_language,
        help="The language of the dashboard's words; a shared link keeps it. / "
        "ダッシュボードの表示言語です。共有リンクにも引き継がれます。",
    )  # fmt: skip


def error_text(error: Exception) -> str:
    """A core error's message in the visitor's language (its English text for any other error)."""
    return error.text(_) if isinstance(error, CoreError) else str(error)


def error_reason(error: Exception) -> str:
    """``error_text`` without the name of the setting it was about (beside that setting's own widget)."""
    return error.reason_text(_) if isinstance(error, CoreError) else str(error)


def message_text(message: str) -> str:
    """A run's status message or reason (``core.reasons``) in the visitor's language."""
    return reason_text(message, _)
