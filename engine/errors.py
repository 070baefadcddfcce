"""Errors the user can act on: each carries one line that says what is wrong."""


class L2IError(Exception):
    """Base class for every error the engine reports to a user."""


class AudioError(L2IError):
    """An audio file could not be read, or its content is unusable."""


class BundleError(L2IError):
    """A model bundle is missing, malformed, inconsistent or from a newer version."""


class Cancelled(L2IError):
    """A long task was cancelled through its TaskState."""
