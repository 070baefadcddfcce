"""Runs one plain ``fn(..., task=TaskState)`` at a time on its own thread and turns its
reports, result and errors into Qt signals (delivered on the UI thread)."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from engine.errors import Cancelled, L2IError
from engine.progress import TaskState


class TaskRunner(QObject):
    progress = Signal(object)  # engine.progress.Report
    finished = Signal(object)  # the function's result
    failed = Signal(str)  # one line for the user
    cancelled = Signal()

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._name = name
        self._thread: threading.Thread | None = None
        self.task: TaskState | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args, task=...)``; a previous run is cancelled and joined first."""
        self.stop()
        task = TaskState(self.progress.emit)
        self.task = task

        def run() -> None:
            try:
                result = fn(*args, task=task)
            except Cancelled:
                self.cancelled.emit()
            except L2IError as exc:
                self.failed.emit(str(exc))
            except Exception as exc:  # a bug in a run must reach the user, not kill the app
                traceback.print_exc()
                self.failed.emit(f"{type(exc).__name__}: {exc}")
            else:
                if not task.cancelled:
                    self.finished.emit(result)
                else:
                    self.cancelled.emit()

        self._thread = threading.Thread(target=run, name=f"l2i-{self._name}")
        self._thread.start()

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def stop(self, timeout: float | None = None) -> None:
        """Cancel and wait for the thread (training checks for cancellation every batch)."""
        self.cancel()
        if self._thread is not None:
            self._thread.join(timeout)
            if not self._thread.is_alive():
                self._thread = None
