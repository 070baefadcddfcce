"""What ``l2i`` says beyond its one-line messages: ``--verbose`` logging on stderr, and
the log file that keeps the traceback of a bug (the terminal gets one line)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import shlex
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import platformdirs

LOG_LIMIT = 1 << 20  # past this size the log moves to l2i.log.1 (one older log is kept)


class _Stderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (a redirect, a test's capture)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


@contextmanager
def verbose_logging(verbosity: int) -> Iterator[None]:
    """stdlib logging to stderr while a command runs: WARNING and above by default,
    INFO with -v, DEBUG with -vv. Undone afterwards (``main`` may run in a process
    that logs elsewhere: a test, the wizard's child)."""
    level = (logging.WARNING, logging.INFO)[verbosity] if verbosity < 2 else logging.DEBUG
    handler = _Stderr()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    before = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(before)


def log_path() -> Path:
    """``$XDG_STATE_HOME/l2i-desktop/l2i.log`` (by default under ``~/.local/state``),
    beside the desktop app's own log."""
    return Path(platformdirs.user_state_dir("l2i-desktop")) / "l2i.log"


def write_traceback(exc: BaseException, argv: list[str]) -> Path | None:
    """Append the command and ``exc``'s traceback to the log; its path, or None when it
    cannot be written. The folder is private (0700) and the file 0600; a link in the
    file's place is refused, not followed."""
    try:
        path = log_path()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if path.is_file() and not path.is_symlink() and path.stat().st_size > LOG_LIMIT:
            os.replace(path, path.with_name(path.name + ".1"))
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
                     | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8", errors="replace") as f:
            stamp = dt.datetime.now().astimezone().isoformat(timespec="seconds")
            f.write(f"--- {stamp} l2i {shlex.join(argv)}\n")
            f.write("".join(traceback.format_exception(exc)))
    except (OSError, RuntimeError):  # RuntimeError: no home folder to find
        return None
    return path
