"""What the app remembers between runs, beside the views it belongs to.

Qt writes the settings file through a temporary file renamed over it (QSaveFile), so a
crash leaves the old file or the new one (``tests/test_settings_recovery.py`` kills a
writer mid-sync). A file Qt cannot parse (garbage bytes) is moved aside to
``<name>.corrupt`` and the defaults are used; ``reset_note`` says so once.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from l2i_desktop.model.display import DisplaySettings

log = logging.getLogger(__name__)

MAX_RECENT = 8


class Settings:
    def __init__(self, store: QSettings | None = None) -> None:
        self.store = store or QSettings("l2i-desktop", "L2I Desktop")
        self.reset_note = ""  # one line for the user when the file was unreadable
        self._check()

    def _check(self) -> None:
        self.store.allKeys()  # the file is read (and its status set) on first use
        if self.store.status() != QSettings.Status.FormatError:
            return
        path = Path(self.store.fileName())
        aside = path.with_name(path.name + ".corrupt")
        try:
            os.replace(path, aside)
            kept = f"; the unreadable file is kept as {aside}"
        except OSError as exc:
            log.warning("cannot move the unreadable settings %s aside: %s", path, exc)
            kept = ""
        log.warning("the settings file %s was unreadable: starting from the defaults", path)
        fresh = QSettings(str(path), self.store.format())
        fresh.clear()
        fresh.sync()
        self.store = fresh
        self.reset_note = (f"Your settings could not be read ({path} was damaged): "
                           f"the defaults are used{kept}.")

    def recent_files(self) -> list[Path]:
        value = self.store.value("recent_files", [])
        items = [value] if isinstance(value, str) else list(value or [])
        return [Path(p) for p in items if p]

    def add_recent(self, path: Path) -> None:
        items = [str(path)] + [str(p) for p in self.recent_files() if p != Path(path)]
        self.store.setValue("recent_files", items[:MAX_RECENT])
        self.store.setValue("last_folder", str(Path(path).parent))

    def last_folder(self) -> str:
        return str(self.store.value("last_folder", ""))

    def tau(self) -> float:
        try:
            return min(0.99, max(0.0, float(self.store.value("tau", 0.1))))
        except (TypeError, ValueError):
            return 0.1

    def has_tau(self) -> bool:
        """True when tau comes from a previous session rather than the default."""
        return self.store.contains("tau")

    def set_tau(self, tau: float) -> None:
        self.store.setValue("tau", float(tau))

    def bundle(self) -> Path | None:
        value = self.store.value("bundle", "")
        return Path(value) if value and Path(value).exists() else None

    def set_bundle(self, path: Path) -> None:
        self.store.setValue("bundle", str(path))

    def input_device(self) -> str:
        return str(self.store.value("input_device", ""))

    def set_input_device(self, name: str) -> None:
        self.store.setValue("input_device", name)

    def splitter_sizes(self, name: str) -> list[int]:
        value = self.store.value(f"splitter/{name}", [])
        try:
            return [int(v) for v in ([value] if isinstance(value, str) else value or [])]
        except (TypeError, ValueError):
            return []

    def set_splitter_sizes(self, name: str, sizes: list[int]) -> None:
        self.store.setValue(f"splitter/{name}", [int(v) for v in sizes])

    def display(self) -> DisplaySettings:
        """The spectrogram display last chosen (anything unreadable: the default)."""
        d = DisplaySettings()
        v = self.store.value
        try:
            return DisplaySettings(
                str(v("display/colormap", d.colormap)), str(v("display/scale", d.scale)),
                str(v("display/auto_range", d.auto_range)).lower() in ("true", "1"),
                float(v("display/floor_db", d.floor_db)),
                float(v("display/ceiling_db", d.ceiling_db))).checked()
        except (TypeError, ValueError):
            return d

    def set_display(self, d: DisplaySettings) -> None:
        for name in ("colormap", "scale", "auto_range", "floor_db", "ceiling_db"):
            self.store.setValue(f"display/{name}", getattr(d, name))

    def geometry(self, screen: str) -> QByteArray | None:
        """The window's geometry as it was last closed on ``screen`` (``screen_key``)."""
        value = self.store.value(f"geometry/{_key(screen)}")
        return value if isinstance(value, QByteArray) else None

    def last_screen(self) -> str:
        """The screen the window was last closed on (``screen_key``), or ''."""
        return str(self.store.value("last_screen", ""))

    def window_state(self) -> QByteArray | None:
        value = self.store.value("window_state")
        return value if isinstance(value, QByteArray) else None

    def color_scheme(self) -> str:
        """'light', 'dark', or '' / 'system' (follow the system); see theme.py."""
        return str(self.store.value("color_scheme", ""))

    def save_window(self, screen: str, geometry: QByteArray, state: QByteArray) -> None:
        """Geometry is kept per screen (its name and size): a window closed on a large
        monitor does not reopen at that size on a laptop's screen."""
        self.store.setValue(f"geometry/{_key(screen)}", geometry)
        self.store.setValue("last_screen", screen)
        self.store.setValue("window_state", state)
        self.store.sync()


def _key(screen: str) -> str:
    """A screen's name as one settings key ('/' and '\\' would make groups)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", screen) or "screen"
