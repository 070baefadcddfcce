"""The analysis window as GUI tests open it: settings of the test's own, the model
loaded, a clip analysed and shown."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from l2i_desktop.main_window import MainWindow
from l2i_desktop.settings import Settings


def settings_in(folder: Path) -> Settings:
    """Settings in ``folder``/settings.ini, never the user's."""
    return Settings(QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat))


def open_on_clip(qtbot, bundle: Path, folder: Path, clip: Path, size: tuple[int, int],
                 timeout: int = 60_000) -> MainWindow:
    """A shown window of ``size`` on ``bundle`` (settings in ``folder``) once ``clip`` is
    analysed and its explanation shown; the caller closes it."""
    win = MainWindow(bundle, settings_in(folder))
    qtbot.addWidget(win)
    win.resize(*size)
    win.show()
    qtbot.waitUntil(lambda: win.session.explainer is not None, timeout=timeout)
    win.open_clip(clip)
    qtbot.waitUntil(lambda: win.shown_clip == clip and win.session.rendering is not None,
                    timeout=timeout)
    return win
