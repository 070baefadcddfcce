"""Runs one plain ``fn(..., task=TaskState)`` at a time in a child Python process, with
the same signals as :class:`~l2i_desktop.wizard.runner.TaskRunner`.

Training in the window's own process froze it for 150-300 ms at a time: torch's one-time
imports and the trainer's Python work hold the GIL (BENCHMARKS.md). In a child the window
only reads reports. A crash of the child (killed, out of memory) becomes a ``failed``
signal instead of taking the window down. ``fn``, its arguments and its result cross the
process boundary (engine/runtime/child_task.py), so they must be picklable and ``fn`` importable
without Qt; ``after`` (optional) turns the child's result into the one ``finished``
carries, on a background thread of this process (e.g. to load a bundle from the path the
child wrote)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject

from engine.runtime.child_task import read_frame, write_frame
from engine.runtime.errors import failure_message
from l2i_desktop.wizard.runner import RunSignals


class ProcessRunner(RunSignals):
    def __init__(self, name: str, parent: QObject | None = None,
                 after: Callable[[Any], Any] | None = None) -> None:
        super().__init__(name, parent)
        self._after = after
        self.process: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._reader is not None and self._reader.is_alive()

    def start(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args, task=...)`` in a new child; a previous run is stopped first."""
        self.stop()
        self._run_id += 1
        # the child finds this process's modules (also when run from a source checkout)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        # its own session: a Ctrl-C in the terminal is the window's to handle; the child
        # stops when the window's process ends (its stdin closes)
        proc = subprocess.Popen([sys.executable, "-m", "engine.runtime.child_task"], env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                start_new_session=True)
        try:
            write_frame(proc.stdin, (fn, args))
        except BrokenPipeError:  # it died at once: the reader reports its exit code
            pass
        except Exception:  # fn or its arguments cannot be pickled: no child is left waiting
            proc.kill()
            proc.wait()
            raise
        self.process = proc
        self._reader = threading.Thread(target=self._read, args=(self._run_id, proc),
                                        name=f"l2i-{self._name}-reader")
        self._reader.start()

    def _read(self, run_id: int, proc: subprocess.Popen) -> None:
        try:
            while True:
                try:
                    kind, payload = read_frame(proc.stdout)
                except EOFError:
                    proc.wait()
                    self._failed.emit(run_id, "the training process stopped unexpectedly "
                                              f"(exit code {proc.returncode})")
                    return
                if kind == "report":
                    self._deliver(run_id, kind, payload)
                    continue
                if kind == "finished" and self._after is not None:
                    try:
                        payload = self._after(payload)
                    except Exception as exc:
                        kind, payload = "failed", failure_message(exc)
                self._deliver(run_id, kind, payload)
                return
        finally:
            for stream in (proc.stdin, proc.stdout):
                try:
                    stream.close()
                except OSError:  # the child is gone: closing its pipe fails, harmlessly
                    pass
            proc.wait()

    def cancel(self) -> None:
        """Ask the child to stop at its next safe point (training: the next batch)."""
        proc = self.process
        if proc is not None and proc.poll() is None:
            try:
                proc.stdin.write(b"c")
                proc.stdin.flush()
            except (OSError, ValueError):  # it has just ended, or its pipe is closed
                pass

    def stop(self, timeout: float = 2.0) -> None:
        """Cancel and wait for the child. One still running after ``timeout`` seconds (it
        may be starting, or deep in a long step) is terminated: checkpoints are written
        atomically, so the last one stays, and nothing it still sends is delivered."""
        self.cancel()
        if self._reader is None:
            return
        self._reader.join(timeout)
        if self._reader.is_alive():
            self._run_id += 1
            self.process.terminate()
            self._reader.join()
        self._reader = None
