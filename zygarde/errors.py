"""The one exception type for errors a user can cause and fix, and how a message names the setting to change."""

from __future__ import annotations

_SURFACE = {"name": "form"}


class ZygardeError(Exception):
    """A user-fixable problem: bad file, column, or parameter. The message says what and how to fix it."""


def speak_cli() -> None:
    """Messages name settings as the command line spells them (``--test-size``); the CLI calls this at start.

    Elsewhere (a Prefect UI form, a deployment, a job spec) they name the parameter field (``test_size``).
    """
    _SURFACE["name"] = "cli"


def option(field: str) -> str:
    """How the user who started this run spells parameter ``field``: ``--test-size`` or ``test_size``."""
    if _SURFACE["name"] == "cli":
        return "--" + field.replace("_", "-")
    return field
