"""The live window's buffers, free of torch: the window builds them at start, before
any model is loaded (engine.tools.live re-exports them).

- ``RingBuffer``: the newest ``capacity`` samples. The audio thread only copies blocks
  in; any other thread takes a chronological copy of the window.
- ``DropGate``: at most one analysis in flight; a hop that comes while one runs is
  dropped and counted, never queued.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np


class RingBuffer:
    """The newest ``capacity`` mono float32 samples, written from any thread.

    The lock is held only for a copy of one block (writer) or of the window (reader,
    well under a millisecond for 5 s at 44.1 kHz), so the audio thread never waits on
    an analysis. Before ``capacity`` samples arrived the window starts with silence.
    """

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("a ring buffer needs a positive capacity")
        self._lock = threading.Lock()
        self._data = np.zeros(int(capacity), np.float32)
        self._end = 0  # where the next sample goes
        self._written = 0

    @property
    def capacity(self) -> int:
        return int(self._data.size)

    @property
    def written(self) -> int:
        """Samples written since the last reset (also those already overwritten)."""
        return self._written

    def reset(self, capacity: int | None = None) -> None:
        """Empty it (silence), optionally with a new capacity."""
        with self._lock:
            size = self._data.size if capacity is None else int(capacity)
            if size <= 0:
                raise ValueError("a ring buffer needs a positive capacity")
            self._data = np.zeros(size, np.float32)
            self._end = 0
            self._written = 0

    def write(self, block: np.ndarray) -> None:
        block = np.asarray(block, np.float32).reshape(-1)
        n = block.size
        if n == 0:
            return
        with self._lock:
            cap = self._data.size
            total = n
            if n >= cap:  # only the newest capacity samples can survive
                block, n = block[n - cap:], cap
            first = min(n, cap - self._end)
            self._data[self._end:self._end + first] = block[:first]
            self._data[:n - first] = block[first:]
            self._end = (self._end + n) % cap
            self._written += total

    def window(self) -> tuple[np.ndarray, int]:
        """(a copy of the newest ``capacity`` samples, oldest first; samples written so
        far). The copy is the caller's: later writes do not change it."""
        with self._lock:
            out = np.concatenate([self._data[self._end:], self._data[:self._end]])
            return out, self._written


@dataclass
class GateCounts:
    done: int
    dropped: int
    failed: int
    busy: bool


class DropGate:
    """One analysis at a time; hops that find one running are dropped (counted)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy = False
        self.done = 0
        self.dropped = 0
        self.failed = 0

    @property
    def busy(self) -> bool:
        return self._busy

    def try_start(self) -> bool:
        """True: start an analysis now (and call ``finish`` when it ends). False: one is
        still running, this hop is dropped."""
        with self._lock:
            if self._busy:
                self.dropped += 1
                return False
            self._busy = True
            return True

    def finish(self, ok: bool = True) -> None:
        """The running analysis ended: its result was shown (``ok``) or it failed."""
        with self._lock:
            if not self._busy:
                return
            self._busy = False
            if ok:
                self.done += 1
            else:
                self.failed += 1

    def abandon(self) -> None:
        """The running analysis will never be shown (superseded, or live stopped): free
        the slot and count it as dropped."""
        with self._lock:
            if self._busy:
                self._busy = False
                self.dropped += 1

    def reset(self) -> None:
        with self._lock:
            self._busy = False
            self.done = self.dropped = self.failed = 0

    def counts(self) -> GateCounts:
        with self._lock:
            return GateCounts(self.done, self.dropped, self.failed, self._busy)
