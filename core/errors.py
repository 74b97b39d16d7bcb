"""The project's own error types: every message is written for the person using the tool.

A message is a template marked for the translation catalogue, its values given apart, so that a
page can show it in the visitor's language (``components.i18n.error_text``)::

    raise DataError(N_("No folder named {name}."), name=name)

``str(error)`` is the English text (the command line prints it on one line).
"""

from __future__ import annotations

from collections.abc import Callable

from core.i18n import Phrase, Term


def _same(text: str) -> str:
    return text


def _translated(value: object, gettext: Callable[[str], str]) -> object:
    """A value put into a message: a quoted core error or a product's own word in ``gettext``'s language;
    anything else (a number, a file's name) as it is."""
    if isinstance(value, CoreError | Phrase):
        return value.text(gettext)
    return gettext(value) if isinstance(value, Term) else value


class CoreError(Exception):
    """Base class: a problem a person can act on (bad input, missing data, bad file).

    Pages show ``error.text(_)`` and the command line prints ``str(error)`` on one line, so a
    message names what was wrong, the value that was given and what is accepted.
    """

    def __init__(self, message: str = "", /, **fields: object):
        self.template = message
        self.fields = fields
        super().__init__(self.text())

    def text(self, gettext: Callable[[str], str] = _same) -> str:
        """The message in the language of ``gettext`` (English without one); a value that is itself a
        core error (the cause quoted in a message) is in that language too."""
        template = gettext(self.template) if self.template else self.template
        if not self.fields:
            return template
        fields = {name: _translated(value, gettext) for name, value in self.fields.items()}
        return template.format(**fields)

    def reason_text(self, gettext: Callable[[str], str] = _same) -> str:
        """What was wrong, without the name of the field it was in (where a page's own label says it)."""
        return self.text(gettext)


class _FieldError(CoreError, ValueError):
    def __init__(self, field: str, message: str, /, **fields: object):
        self.field = field
        self.reason = message.format(**fields) if fields else message
        super().__init__(message, **fields)

    def text(self, gettext: Callable[[str], str] = _same) -> str:
        return f"{self.field}: {super().text(gettext)}"

    def reason_text(self, gettext: Callable[[str], str] = _same) -> str:
        """``reason`` (the message without the field's name) in the language of ``gettext``."""
        return super().text(gettext)

    def reason_error(self) -> CoreError:
        """The reason alone as an error, to quote in another message (translated with it)."""
        return CoreError(self.template, **self.fields)


class SpecError(_FieldError):
    """An invalid model description; ``field`` names the offending field (e.g. ``layers[1].width``)."""


class ConfigError(_FieldError):
    """Invalid training settings (learning rate, batch size, epochs, ...)."""


class DataError(CoreError):
    """A dataset could not be found, downloaded or read."""


class CheckpointError(CoreError):
    """A file is not a checkpoint this tool wrote, or it does not match its own model spec."""


class ExportError(CoreError):
    """A model could not be exported (a layer the converter cannot handle), or its export failed the check."""
