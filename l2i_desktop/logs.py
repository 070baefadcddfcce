"""The app's log file: what the window does not show (an audio backend that failed and
was worked around, the trace of a failed job) is kept where a bug report can find it.

``$XDG_STATE_HOME/l2i-desktop/app.log`` (by default ``~/.local/state/l2i-desktop/``),
rotated at about 1 MB with three old files kept, so it never grows without bound.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

import platformdirs

APP = "l2i-desktop"
FILE_NAME = "app.log"
MAX_BYTES = 1 << 20
BACKUPS = 3
# our own packages log at INFO into the file; other libraries only from WARNING on
PACKAGES = ("l2i_desktop", "engine", "trainer")
_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s]: %(message)s"


def log_path() -> Path:
    """Where the log goes (the XDG state folder on Linux; platformdirs' elsewhere)."""
    return Path(platformdirs.user_state_dir(APP)) / FILE_NAME


def start_logging(path: Path | None = None) -> logging.Handler | None:
    """Send log records to the rotating file at ``path`` (default ``log_path()``); once
    per file, however often it is called. None when the file cannot be opened: the app
    then runs without a log file rather than not at all."""
    path = Path(path) if path is not None else log_path()
    root = logging.getLogger()
    for handler in root.handlers:
        if getattr(handler, "baseFilename", None) == os.path.abspath(path):
            return handler
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    except OSError as exc:
        logging.getLogger(__name__).warning("no log file at %s: %s", path, exc)
        return None
    handler.setFormatter(logging.Formatter(_FORMAT))
    root.addHandler(handler)
    for name in PACKAGES:
        if logging.getLogger(name).level == logging.NOTSET:
            logging.getLogger(name).setLevel(logging.INFO)
    return handler
