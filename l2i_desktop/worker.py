"""The engine's own thread: the UI thread hands it jobs and never computes.

Jobs of one kind supersede each other: a newer request makes older queued ones moot,
and a running job's result is dropped if something newer was asked meanwhile. Any
exception in a job becomes a ``failed`` signal with one line, never a dead app.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from engine.runtime.errors import Cancelled, failure_message
from engine.runtime.progress import TaskState

# kinds whose newer requests make the listed kinds stale too
_SUPERSEDES = {"analyse": ("analyse", "explain", "render"), "explain": ("explain", "render"),
               "render": ("render",)}


class EngineWorker(QObject):
    finished = Signal(str, int, object)  # kind, request id, result
    failed = Signal(str, int, str)  # kind, request id, message

    def __init__(self) -> None:
        super().__init__()
        self._jobs: queue.Queue = queue.Queue()
        self._latest: dict[str, int] = {}
        self._counter = 0
        self._lock = threading.Lock()
        self._running: tuple[str, int, TaskState] | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="l2i-engine")
        self._thread.start()

    def submit(self, kind: str, fn: Callable[..., Any], *args: Any,
               cancellable: bool = False) -> int:
        """``cancellable``: ``fn`` takes ``task=`` (a TaskState) and checks it, so that a
        newer request of a superseding kind, or stop(), ends it early (a long clip)."""
        with self._lock:
            self._counter += 1
            for k in _SUPERSEDES.get(kind, (kind,)):
                self._latest[k] = self._counter
            self._latest[kind] = self._counter
            rid = self._counter
            running = self._running
            if running is not None and self._latest.get(running[0]) != running[1]:
                running[2].cancel()  # superseded: its result would be dropped anyway
        self._jobs.put((kind, rid, fn, args, cancellable))
        return rid

    def is_current(self, kind: str, rid: int) -> bool:
        with self._lock:
            return self._latest.get(kind) == rid

    def has_waiting_jobs(self) -> bool:
        """True while jobs wait behind the running one: long background work (SLIME)
        checks it to step aside and continue later."""
        return not self._jobs.empty()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            kind, rid, fn, args, cancellable = job
            task = TaskState()
            with self._lock:
                if self._latest.get(kind) != rid:
                    continue
                self._running = (kind, rid, task)
            try:
                result = fn(*args, task=task) if cancellable else fn(*args)
            except Cancelled:
                if self.is_current(kind, rid) and not self._stopping:
                    self.failed.emit(kind, rid, "cancelled")
                continue
            except Exception as exc:  # a bug or no memory must not kill the app: say it
                self.failed.emit(kind, rid, failure_message(exc))
                continue
            finally:
                with self._lock:
                    self._running = None
            if self.is_current(kind, rid):
                self.finished.emit(kind, rid, result)

    def cancel_running(self) -> None:
        """Stop the running job if it can be stopped (it then reports 'cancelled')."""
        with self._lock:
            if self._running is not None:
                self._running[2].cancel()

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            if self._running is not None:
                self._running[2].cancel()  # a long analysis must not hold up closing
        self._jobs.put(None)
        self._thread.join(timeout=10)
