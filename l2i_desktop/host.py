"""What a tool (SLIME, corruption, live, timeline, batch report...) may use of the
window, and the one way a tool is plugged in.

A tool module exposes ``install(host) -> tool``; the window lists the tools it installs
(``main_window.TOOLS``) and keeps each under its name in ``window.tools``. A tool finds
its menu by id, puts its panel where the host says, submits jobs to the engine worker
with its own callbacks and follows the session's events; it never sets attributes on
the window, and nothing but the entry point imports the window.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QToolBar, QWidget

from l2i_desktop.model import ClipResult, Session
from l2i_desktop.settings import Settings
from l2i_desktop.time_views import TimeViews
from l2i_desktop.worker import ANALYSE, EngineWorker, Job


class Recordings(Protocol):
    """The window's recording flow (recording_flow.py) as tools see it."""

    unsaved: tuple[Any, int] | None

    def may_drop(self) -> bool: ...
    def analyse(self, wave: Any, rate: int, saved: bool = False) -> None: ...
    def keep_unsaved(self, wave: Any, rate: int) -> None: ...


class Host:
    def __init__(self, window: QMainWindow, session: Session, worker: EngineWorker,
                 settings: Settings, views: TimeViews, menus: dict[str, QMenu],
                 present: Callable[[ClipResult], None],
                 analysis_failed: Callable[[str], None],
                 above_views: Callable[[QWidget], None], recordings: Recordings) -> None:
        self.window = window  # a parent for dialogs and panels, typed as any main window
        self.session = session
        self.worker = worker
        self.settings = settings
        self.views = views
        self.menus = menus
        self.recordings = recordings
        self.player = window.player  # type: ignore[attr-defined] - the one audio output
        self._present = present
        self._analysis_failed = analysis_failed
        self.put_above_views = above_views
        # tools that take some files themselves (the timeline takes long ones)
        self.clip_openers: list[Callable[[Path], bool]] = []
        # the tools installed so far, by name: a tool may use one installed before it
        self.tools: dict[str, Any] = {}

    def show_error(self, message: str) -> None:
        self.window.show_error(message)  # type: ignore[attr-defined]

    def status(self, message: str) -> None:
        self.window.statusBar().showMessage(message)

    def analyse(self, fn: Callable[..., ClipResult], *args: Any,
                then: Callable[[Any], None] | None = None,
                failed: Callable[[str], None] | None = None) -> Job:
        """Analyse on the engine thread (``fn(*args, task=...)`` returns a ClipResult);
        the result is shown like any clip's, then handed to ``then``."""
        def done(clip: ClipResult) -> None:
            self._present(clip)
            if then is not None:
                then(clip)

        def fail(message: str) -> None:
            self._analysis_failed(message)
            if failed is not None:
                failed(message)
        return self.worker.submit(ANALYSE, fn, *args, done=done, failed=fail,
                                  cancellable=True)

    def add_action(self, menu: str, action: QAction, after: str | None = None) -> None:
        """Put ``action`` in the menu ``menu`` (an id: file, edit, view, analyse...),
        after the action whose objectName is ``after`` if given."""
        target = self.menus[menu]
        actions = target.actions()
        names = [a.objectName() for a in actions]
        if after in names and names.index(after) + 1 < len(actions):
            target.insertAction(actions[names.index(after) + 1], action)
        else:
            target.addAction(action)

    def add_dock(self, dock: QDockWidget) -> None:
        self.window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)

    def add_toolbar(self, bar: QToolBar) -> None:
        self.window.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)

    def watch_window(self, event_filter: QObject) -> None:
        """``event_filter`` sees the window's events first (closing, say)."""
        self.window.installEventFilter(event_filter)
