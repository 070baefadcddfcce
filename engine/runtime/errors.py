"""Errors the user can act on: each carries one line that says what is wrong."""

from __future__ import annotations

import os
from pathlib import Path


class L2IError(Exception):
    """Base class for every error the engine reports to a user."""


class AudioError(L2IError):
    """An audio file could not be read, or its content is unusable."""


class BundleError(L2IError):
    """A model bundle is missing, malformed, inconsistent or from a newer version."""


class Cancelled(Exception):
    """A long task was cancelled through its TaskState. Not an L2IError: nothing went
    wrong, so no handler of errors may take it for one (and report it as a failure)."""


def failure_message(exc: BaseException) -> str:
    """One line for any failure shown to a user: an L2IError's own text; out of memory
    (MemoryError has no text at all) said plainly with what to try; anything else as
    ``Type: text``, so that a bug is still recognisable in a report. A cancellation that
    reaches here reads as its own text ("cancelled"), as it did as an L2IError."""
    if isinstance(exc, (L2IError, Cancelled)):
        text = str(exc)
    elif isinstance(exc, MemoryError):
        text = ("out of memory: this machine's memory ran out; try a shorter clip, a "
                "smaller batch, or close other programs")
    elif type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower():
        text = ("GPU out of memory: the device's memory ran out; try a smaller batch or "
                "another device (the CPU)")
    else:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return " ".join(text.split()) or type(exc).__name__


def shown(path: str | os.PathLike, full: bool = False) -> str:
    """A file name (or the whole path) fit for a one-line message: control characters
    (a newline in a name) are escaped, so an error about a hostile name is one line."""
    name = str(path) if full else (Path(path).name or str(path))
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)
