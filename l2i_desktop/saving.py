"""Saving a bundle from the window's wizard: one line naming the path and the reason when
the disk refuses (read-only, full), and the bundle kept in memory to be saved elsewhere.

``save_bundle_to(bundle, path, task)`` has the signature of a ``TaskRunner`` job.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from engine.bundles.bundle import save_bundle
from engine.runtime.errors import L2IError

log = logging.getLogger(__name__)


def os_reason(exc: BaseException) -> str:
    """``No space left on device`` rather than ``[Errno 28] ...: '/tmp/.x.abc'``."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__


def save_bundle_to(bundle: Any, path: Path, task: Any = None) -> Path:
    try:
        return save_bundle(bundle, path)
    except L2IError:
        raise  # already one line naming the path
    except (OSError, RuntimeError) as exc:  # safetensors and zipfile on a full disk
        log.warning("cannot save the bundle to %s", path, exc_info=True)
        raise L2IError(f"cannot write {path}: {os_reason(exc)}; the bundle is kept: "
                       "save it elsewhere") from None
