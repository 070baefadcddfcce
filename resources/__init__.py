"""Data files shipped with L2I Desktop: the default model bundle, example clips, icons."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_BUNDLE = HERE / "default.l2i"
EXAMPLES = HERE / "examples"


def default_bundle_path() -> Path | None:
    """The bundled ESC-10 model, or None while this version ships none."""
    return DEFAULT_BUNDLE if DEFAULT_BUNDLE.is_file() else None


def examples() -> list[tuple[str, Path]]:
    """(label, path) of the shipped example clips, e.g. ("Dog bark (1-100032-A)", ...),
    sorted by label. Held-out ESC-10 clips; attribution in examples/ATTRIBUTION.md."""
    out = []
    for path in sorted(EXAMPLES.glob("*.ogg")):
        slug, _, clip = path.stem.partition("-")
        out.append((f"{slug.replace('_', ' ').capitalize()} ({clip})", path))
    return sorted(out)


def help_picture() -> Path | None:
    """The window's picture with its parts numbered (Help > How to read this window)."""
    path = HERE / "help" / "window.png"
    return path if path.is_file() else None
