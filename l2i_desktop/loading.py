"""The window's "loading model" state.

The window is shown before torch is imported: the first bundle is loaded on the engine
worker (jobs.open_bundle), where torch is imported with it. Meanwhile the welcome page
says so, the actions that need a model are disabled, and a clip opened in any way
(dropped, File > Open, an example, the command line) is kept and analysed as soon as
the model is ready.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from html import escape
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow

from l2i_desktop.welcome import WelcomePanel

log = logging.getLogger(__name__)

# actions that cannot wait for the model: a recording or live input is analysed as it
# ends or as it comes, and the manifest is the model's
MODEL_ACTIONS = ("record", "live", "manifest")
# a window not shown (tests, scripts) loads its model after UNSHOWN_MS; one shown but not
# painted (minimised, a busy machine) after at most MAX_WAIT_MS
UNSHOWN_MS, MAX_WAIT_MS = 300, 2000


class AfterFirstPaint(QObject):
    """Calls each function given to ``then`` once the window has painted for the first
    time (at once after that): torch's import on the worker holds the GIL for hundreds
    of milliseconds at a time, so it must not start before the window is drawn."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.painted = False
        self._waiting: list[Callable[[], object]] = []
        self._waited_ms = 0
        window.installEventFilter(self)
        QTimer.singleShot(UNSHOWN_MS, self, self._timeout)

    def then(self, fn: Callable[[], object]) -> None:
        if self.painted:
            fn()
        else:
            self._waiting.append(fn)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Paint and not self.painted:
            QTimer.singleShot(0, self, self._release)  # once this paint is done
        return False

    def _timeout(self) -> None:
        self._waited_ms += UNSHOWN_MS
        if self.parent().isVisible() and self._waited_ms < MAX_WAIT_MS:
            QTimer.singleShot(UNSHOWN_MS, self, self._timeout)  # shown: its paint is near
        else:
            self._release()

    def _release(self) -> None:
        if not self.painted:
            self.painted = True
            self.parent().removeEventFilter(self)
            waiting, self._waiting = self._waiting, []
            for fn in waiting:
                fn()


class ModelLoading:
    def __init__(self, window: QMainWindow, welcome: WelcomePanel,
                 status: Callable[[str], None]) -> None:
        self.window = window
        self.welcome = welcome
        self.status = status
        self.bundle: str | None = None  # the name of the bundle being loaded
        self.pending: Path | None = None  # the clip to analyse once a model is ready
        self.first = True  # no model was open when the load began

    @property
    def active(self) -> bool:
        return self.bundle is not None

    def start(self, bundle: str, first: bool) -> None:
        """``first``: no model is open yet, so the welcome page says it is loading (a
        model replacing another keeps serving until the new one is ready)."""
        self.bundle, self.first = bundle, first
        self.status(f"loading model {bundle}...")
        if first:
            self.window.setWindowTitle("L2I Desktop — loading model...")
            self._enable(False)
            self._say()

    def keep(self, path: Path) -> None:
        """A clip opened before any model is ready: analysed when one is."""
        self.pending = Path(path)
        log.info("%s kept until a model is ready", path)
        if self.active:
            self.status(f"{self.pending.name} is analysed as soon as the model is ready")
            self._say()
        else:
            self.status(f"{self.pending.name} waits for a model: Bundle > Open bundle...")

    def take_pending(self) -> Path | None:
        path, self.pending = self.pending, None
        return path

    def finished(self) -> None:
        self.bundle = None
        self._enable(True)

    def failed(self, message: str) -> None:
        """The bundle did not load: say why; a kept clip waits for another bundle. (One
        that was to replace the open model: the window's error line says it.)"""
        self.bundle = None
        self._enable(True)
        if not self.first:
            return
        self.window.setWindowTitle("L2I Desktop")
        waiting = (f" <b>{escape(self.pending.name)}</b> is analysed once one is open."
                   if self.pending is not None else "")
        self.welcome.set_model(f"<b>The model could not be loaded</b>: {escape(message)}"
                               f"<br>Bundle > Open bundle... to choose one.{waiting}")

    def _say(self) -> None:
        then = (f"<b>{escape(self.pending.name)}</b> is next: it is analysed as soon as "
                "the model is ready." if self.pending is not None else
                "You can already open or drop a clip, or pick an example below: it is "
                "analysed as soon as the model is ready.")
        self.welcome.set_model(f"<b>Loading the model</b> ({escape(self.bundle or '')})..."
                               f"<br>{then}", loading=True)

    def _enable(self, on: bool) -> None:
        for name in MODEL_ACTIONS:
            action = self.window.findChild(QAction, name)
            if action is not None:
                action.setEnabled(on)
        self.welcome.record_button.setEnabled(on)
