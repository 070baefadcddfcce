"""``l2i-desktop CLIP --bundle B`` in a test: the entry point runs, its window is kept,
and every question it asks is answered ``answer`` and recorded."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication, QMessageBox

from l2i_desktop import main as entry
from l2i_desktop.main_window import MainWindow

TIMEOUT = 60_000


def open_at_start(clip: Path, bundle: Path, qtbot, monkeypatch,
                  answer=QMessageBox.StandardButton.Yes) -> tuple[MainWindow, list[str]]:
    """The window, once it shows ``clip`` explained, and the titles of the questions it
    asked on the way. The caller closes the window."""
    asked, windows = [], []
    monkeypatch.setattr(QMessageBox, "question", lambda parent, title, text, *a:
                        asked.append(title) or answer)
    monkeypatch.setattr(QApplication, "exec", lambda self: 0)
    # the app's log file sets the levels of engine/trainer loggers for the whole process:
    # not here, where later tests of `l2i -vv` share this process
    monkeypatch.setattr(entry, "start_logging", lambda: None)
    real_init = MainWindow.__init__

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        windows.append(self)
    monkeypatch.setattr(MainWindow, "__init__", init)
    assert entry.main([str(clip), "--bundle", str(bundle)]) == 0
    win = windows[0]
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: win.shown_clip == clip, timeout=TIMEOUT)
    return win, asked
