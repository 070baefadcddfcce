"""The engine's own thread: the UI thread hands it jobs and never computes.

Each job returns its result (or its failure) to the callbacks its submitter gave, on
the UI thread. Jobs run in lanes: a newer job makes older queued ones of its lane (and
of the lanes it supersedes) moot, and a running job's result is dropped if something
newer was asked meanwhile. Any exception in a job becomes one line for its ``failed``
callback, never a dead app.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Signal

from engine.runtime.errors import Cancelled, L2IError, failure_message
from engine.runtime.progress import TaskState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lane:
    """Jobs that supersede each other; ``supersedes``: other lanes a newer job here
    makes stale too (a new clip makes a pending explanation of the old one moot)."""

    name: str
    supersedes: tuple[str, ...] = ()


# a new clip, class or mute/solo makes pending work on the old one moot, its trust too
ANALYSE = Lane("analyse", ("explain", "render", "trust"))
EXPLAIN = Lane("explain", ("render", "trust"))
RENDER = Lane("render", ("trust",))


@dataclass(eq=False)
class Job:
    lane: Lane
    id: int
    done: Callable[[Any], None] | None
    failed: Callable[[str], None] | None
    worker: EngineWorker = field(repr=False)

    def is_current(self) -> bool:
        """False once a newer job of its lane (or a superseding one) was submitted."""
        return self.worker.is_current(self)


class EngineWorker(QObject):
    _deliver = Signal(object, bool, object)  # job, ok, result or message

    def __init__(self, on_failure: Callable[[str], None] | None = None) -> None:
        super().__init__()
        # what a failure says when its submitter gave no ``failed`` callback
        self.on_failure = on_failure or (lambda message: log.warning("job failed: %s",
                                                                     message))
        self._jobs: queue.Queue = queue.Queue()
        self._latest: dict[str, int] = {}
        self._counter = 0
        self._lock = threading.Lock()
        self._running: tuple[Job, TaskState] | None = None
        self._stopping = False
        self._deliver.connect(self._dispatch)
        # started by the first job: a window that fails while it is built (no
        # closeEvent, no stop) must not leave a thread keeping the process alive
        self._thread = threading.Thread(target=self._run, name="l2i-engine")

    def submit(self, lane: Lane, fn: Callable[..., Any], *args: Any,
               done: Callable[[Any], None] | None = None,
               failed: Callable[[str], None] | None = None,
               cancellable: bool = False) -> Job:
        """Run ``fn(*args)`` on the engine thread; ``done(result)`` or ``failed(message)``
        is then called on the UI thread, if the job is still current. ``cancellable``:
        ``fn`` takes ``task=`` (a TaskState) and checks it, so that a newer job or stop()
        ends it early (a long clip)."""
        with self._lock:
            self._counter += 1
            job = Job(lane, self._counter, done, failed, self)
            for name in (lane.name, *lane.supersedes):
                self._latest[name] = job.id
            running = self._running
            if running is not None and not self._current(running[0]):
                running[1].cancel()  # superseded: its result would be dropped anyway
            if not self._thread.is_alive() and not self._stopping:
                self._thread.start()
        self._jobs.put((job, fn, args, cancellable))
        return job

    def _current(self, job: Job) -> bool:
        return self._latest.get(job.lane.name) == job.id

    def is_current(self, job: Job) -> bool:
        with self._lock:
            return self._current(job)

    def has_waiting_jobs(self) -> bool:
        """True while jobs wait behind the running one: long background work (SLIME)
        checks it to step aside and continue later."""
        return not self._jobs.empty()

    def is_idle(self) -> bool:
        """Nothing running and nothing waiting (results may still be on their way to
        the UI thread's event queue)."""
        with self._lock:
            return self._running is None and self._jobs.empty()

    def _run(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            job, fn, args, cancellable = item
            task = TaskState()
            with self._lock:
                if not self._current(job):
                    continue
                self._running = (job, task)
            try:
                result = fn(*args, task=task) if cancellable else fn(*args)
            except Cancelled:
                if self.is_current(job) and not self._stopping:
                    self._deliver.emit(job, False, "cancelled")
                continue
            except Exception as exc:  # a bug or no memory must not kill the app: say it
                if isinstance(exc, L2IError):  # the user's input: their message says it
                    log.info("job %s: %s", job.lane.name, exc)
                else:
                    log.error("job %s failed", job.lane.name, exc_info=exc)
                self._deliver.emit(job, False, failure_message(exc))
                continue
            finally:
                with self._lock:
                    self._running = None
            if self.is_current(job):
                self._deliver.emit(job, True, result)

    def _dispatch(self, job: Job, ok: bool, payload: Any) -> None:
        """On the UI thread: hand the outcome to its submitter."""
        if ok:
            if job.done is not None and self.is_current(job):
                job.done(payload)
        else:
            (job.failed or self.on_failure)(payload)

    def cancel_running(self) -> None:
        """Stop the running job if it can be stopped (it then reports 'cancelled')."""
        with self._lock:
            if self._running is not None:
                self._running[1].cancel()

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            if self._running is not None:
                self._running[1].cancel()  # a long analysis must not hold up closing
        self._jobs.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout=10)
