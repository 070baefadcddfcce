"""Runs one plain ``fn(..., task=TaskState)`` at a time on its own thread and turns its
reports, result and errors into Qt signals, delivered on the UI thread.

Signals of a run that was superseded (a newer ``start``, or ``forget``) are dropped on
arrival, so a page never shows an answer to a question it no longer asks."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from engine.runtime.child_task import run_task


class RunSignals(QObject):
    """The signals a runner gives, delivered on the UI thread, and the run id that drops
    what a superseded run still sends."""

    progress = Signal(object)  # engine.runtime.progress.Report
    finished = Signal(object)  # the function's result
    failed = Signal(str)  # one line for the user
    cancelled = Signal()

    # from the worker side, tagged with the run they belong to
    _progress = Signal(int, object)
    _finished = Signal(int, object)
    _failed = Signal(int, str)
    _cancelled = Signal(int)

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._name = name
        self._run_id = 0
        self._progress.connect(lambda i, r: i == self._run_id and self.progress.emit(r))
        self._finished.connect(lambda i, r: i == self._run_id and self.finished.emit(r))
        self._failed.connect(lambda i, m: i == self._run_id and self.failed.emit(m))
        self._cancelled.connect(lambda i: i == self._run_id and self.cancelled.emit())

    def _deliver(self, run_id: int, kind: str, payload: Any) -> None:
        """From the worker side: one of engine.runtime.child_task.run_task's messages."""
        if kind == "cancelled":
            self._cancelled.emit(run_id)
        else:
            {"report": self._progress, "finished": self._finished,
             "failed": self._failed}[kind].emit(run_id, payload)

    def cancel(self) -> None:
        raise NotImplementedError

    def forget(self) -> None:
        """Cancel the current run and drop whatever it still reports."""
        self.cancel()
        self._run_id += 1


class TaskRunner(RunSignals):
    """``wait_for_previous=False`` suits read-only work (a scan, a look at a model): a new
    start no longer waits on the UI thread for the previous run to reach a safe point (a
    model's forward pass can take seconds); that run is cancelled, its answers are
    dropped, and ``stop`` still waits for it."""

    def __init__(self, name: str, parent: QObject | None = None,
                 wait_for_previous: bool = True) -> None:
        super().__init__(name, parent)
        self._thread: threading.Thread | None = None
        self._retired: list[threading.Thread] = []  # superseded runs still finishing
        self._wait_for_previous = wait_for_previous
        self._cancel: threading.Event | None = None  # the current run's

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args, task=...)``; a previous run is cancelled and, unless
        ``wait_for_previous`` is off, joined first."""
        if self._wait_for_previous:
            self.stop()
        else:
            self.cancel()
            self._retired = [t for t in self._retired if t.is_alive()]
            if self.running:
                self._retired.append(self._thread)
        self._run_id += 1
        run_id = self._run_id
        self._cancel = cancel = threading.Event()
        self._thread = threading.Thread(
            target=run_task, name=f"l2i-{self._name}",
            args=(fn, args, lambda kind, payload: self._deliver(run_id, kind, payload), cancel))
        self._thread.start()

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.set()

    def stop(self, timeout: float | None = None) -> None:
        """Cancel and wait for the thread, and for superseded ones still finishing."""
        self.cancel()
        for old in self._retired:
            old.join(timeout)
        self._retired = [t for t in self._retired if t.is_alive()]
        if self._thread is not None:
            self._thread.join(timeout)
            if not self._thread.is_alive():
                self._thread = None
