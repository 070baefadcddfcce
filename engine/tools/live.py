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

import time
from dataclasses import dataclass

import numpy as np

from engine.dsp.audio import resample
from engine.explanation.explain import Analysis, Explainer, Explanation
from engine.runtime.errors import AudioError
from engine.runtime.progress import TaskState, check
from engine.tools.live_buffers import DropGate, GateCounts, RingBuffer

__all__ = ["DropGate", "GateCounts", "LiveFrame", "RingBuffer", "analyse_window",
           "window_seconds"]


def window_seconds(explainer: Explainer) -> float:
    """The length of the clips the bundle was trained on: the live window's length."""
    return float(explainer.bundle.manifest.get("clip_seconds", 5.0))


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
