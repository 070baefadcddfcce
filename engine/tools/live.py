"""Live interpretation, headless: a rolling window of the newest audio and its analysis.

Three pieces that whoever keeps time (the desktop app's QTimer, a test, a script)
puts together:
- ``RingBuffer``: the newest ``capacity`` samples. The audio thread only copies blocks
  in; any other thread takes a chronological copy of the window.
- ``DropGate``: at most one analysis in flight. A hop that comes while one still runs
  is dropped and counted, never queued: when analysing is slower than the hop, what is
  shown lags by one analysis at most, instead of by a queue that grows without end.
- ``analyse_window``: the window through ``Explainer`` (prediction, activations H,
  relevance and the selected components), as one ``LiveFrame``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from engine.dsp.audio import resample
from engine.explanation.explain import Analysis, Explainer, Explanation
from engine.runtime.errors import AudioError
from engine.runtime.progress import TaskState, check


def window_seconds(explainer: Explainer) -> float:
    """The length of the clips the bundle was trained on: the live window's length."""
    return float(explainer.bundle.manifest.get("clip_seconds", 5.0))


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


@dataclass
class LiveFrame:
    """One analysed window: where it lies in the take, and what the model made of it."""

    start_s: float  # seconds since the take began (negative while the window is filling)
    analysis: Analysis
    explanation: Explanation
    compute_s: float  # how long analyse_window took

    @property
    def duration_s(self) -> float:
        return self.analysis.n_samples / self.analysis.sample_rate

    @property
    def predicted(self) -> int:
        return self.analysis.predicted


def analyse_window(explainer: Explainer, wave: np.ndarray, rate: int, written: int,
                   target: int | None = None, tau: float = 0.1,
                   task: TaskState | None = None) -> LiveFrame:
    """Analyse a window taken from a ``RingBuffer`` at ``rate`` after ``written`` samples
    of the take; explain ``target`` (None: the predicted class) at threshold ``tau``.
    Only the relevance and the selected components are computed, no component audio:
    that is what a view refreshed every hop needs."""
    t0 = time.perf_counter()
    wave = np.asarray(wave, np.float32).reshape(-1)
    if wave.size == 0 or rate <= 0:
        raise AudioError("the live window is empty")
    start_s = (written - wave.size) / rate
    wave = resample(wave, int(rate), explainer.cfg.sample_rate)
    analysis = explainer.analyse(wave, task)
    check(task)
    explanation = explainer.explain(analysis, target, tau, with_components=False)
    return LiveFrame(start_s, analysis, explanation, time.perf_counter() - t0)
