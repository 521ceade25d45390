"""Errors a user can see. Each carries a one-line message that names the way out.

The CLI catches :class:`PanoError` in one place and prints ``pano: error: <message>``
on stderr with exit code 2: never a traceback.
"""

from __future__ import annotations

import click


class PanoError(click.ClickException):
    """Base class of every user-facing pano error (exit code 2)."""

    exit_code = 2

    def format_message(self) -> str:  # one line, always
        return " ".join(str(self.message).split())

    def show(self, file=None) -> None:  # noqa: ANN001 - click's signature
        """``pano: error: <message>``, one line on stderr (click's own would say ``Error:``)."""
        click.echo(f"pano: error: {self.format_message()}", file=file, err=file is None)


class InputError(PanoError):
    """The input file is missing, unreadable, or not something pano can process."""


class ModelError(PanoError):
    """A model or its weights cannot be found or loaded (safely)."""


class OutputError(PanoError):
    """The output cannot be written (exists, folder missing or read-only, ...)."""


class DeviceError(PanoError):
    """The requested device or precision is not available."""
