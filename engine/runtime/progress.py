"""A small handle that long-running functions report to and check for cancellation.

Long work is a plain function ``f(..., task: TaskState | None)``. It calls
``task.report(...)`` now and then and ``task.check()`` at safe points; the caller
(a command-line progress bar, a Qt worker, a test) decides what reports mean.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.runtime.errors import Cancelled


@dataclass
class Report:
    stage: str
    done: float
    total: float
    message: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    elapsed_s: float = 0.0

    @property
    def fraction(self) -> float:
        return 0.0 if self.total <= 0 else min(1.0, self.done / self.total)

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the pace of this stage so far, or None before any progress."""
        if self.done <= 0 or self.total <= 0:
            return None
        return self.elapsed_s * (self.total - self.done) / self.done


class TaskState:
    """Progress sink and cancellation flag, safe to share between threads. ``cancel_event``:
    an Event that something else sets to cancel (engine/runtime/child_task.py sets it when the
    parent process asks)."""

    def __init__(self, on_report: Callable[[Report], None] | None = None,
                 cancel_event: threading.Event | None = None) -> None:
        self._cancel = cancel_event if cancel_event is not None else threading.Event()
        self._on_report = on_report
        self._stage_start: dict[str, float] = {}
        self.last: Report | None = None

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        """Raise Cancelled if someone asked this task to stop."""
        if self._cancel.is_set():
            raise Cancelled("cancelled")

    def report(
        self,
        stage: str,
        done: float,
        total: float,
        message: str = "",
        **metrics: float,
    ) -> None:
        start = self._stage_start.setdefault(stage, time.monotonic())
        rep = Report(stage, float(done), float(total), message, dict(metrics),
                     time.monotonic() - start)
        self.last = rep
        if self._on_report is not None:
            self._on_report(rep)
        self.check()


def check(task: TaskState | None) -> None:
    if task is not None:
        task.check()


def report(task: TaskState | None, stage: str, done: float, total: float,
           message: str = "", **metrics: float) -> None:
    if task is not None:
        task.report(stage, done, total, message, **metrics)
