"""The project's own error types: every message is written for the person using the tool."""

from __future__ import annotations


class CoreError(Exception):
    """Base class: a problem a person can act on (bad input, missing data, bad file).

    Pages show ``str(error)`` as-is and the command line prints it on one line, so a
    message names what was wrong, the value that was given and what is accepted.
    """


class SpecError(CoreError, ValueError):
    """An invalid model description; ``field`` names the offending field (e.g. ``layers[1].width``)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class ConfigError(CoreError, ValueError):
    """Invalid training settings (learning rate, batch size, epochs, ...)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class DataError(CoreError):
    """A dataset could not be found, downloaded or read."""


class CheckpointError(CoreError):
    """A file is not a checkpoint this tool wrote, or it does not match its own model spec."""


class ExportError(CoreError):
    """A model could not be exported (a layer the converter cannot handle), or its export failed the check."""
