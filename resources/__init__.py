"""Data files shipped with L2I Desktop: the default model bundle and icons."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_BUNDLE = HERE / "default.l2i"


def default_bundle_path() -> Path | None:
    """The bundled ESC-10 model, or None while this version ships none."""
    return DEFAULT_BUNDLE if DEFAULT_BUNDLE.is_file() else None
