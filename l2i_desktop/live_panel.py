"""Live interpretation: the main window explains the microphone's newest seconds as you
listen (File > Live interpretation, Ctrl+L).

The audio thread only copies each block into a ring buffer (``LiveRecorder``). Every
hop a QTimer on the UI thread takes the window (a copy) and hands it to the window's
engine worker; a hop that finds the previous analysis still running is dropped and
counted (``engine.tools.live.DropGate``), so nothing queues up. Results go through the
window's normal display path, with the time axis labelled in seconds since the take
began, so the views scroll. Stopping analyses the whole take like a recording from
File > Record (unsaved until saved: quitting or opening another clip asks first).
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QLabel,
    QProgressBar,
    QPushButton,
    QToolBar,
)

from engine.runtime.progress import TaskState
from engine.tools.live_buffers import DropGate, RingBuffer
from l2i_desktop import jobs
from l2i_desktop.host import Host
from l2i_desktop.model import ClipResult, ClipSource
from l2i_desktop.recorder import Recorder

if TYPE_CHECKING:  # torch is first imported on the worker, with the model (jobs.py)
    from engine.explanation.explain import Explainer

LIVE = ClipSource.live()  # what the window shows it as; never a file
LEVEL_MIN_DB = -60
DEFAULT_HOP_S = 0.5


class LiveRecorder(Recorder):
    """A Recorder whose audio callback also copies each block into ``ring``."""

    source = "live"

    def __init__(self, window_s: float, sample_rate: int = 44100,
                 parent: QObject | None = None) -> None:
        super().__init__(sample_rate, parent)
        self.window_s = float(window_s)
        self.ring = RingBuffer(max(1, round(self.window_s * self.requested_rate)))

    def start(self, device: int | None = None) -> bool:
        self.ring.reset(max(1, round(self.window_s * self.requested_rate)))
        ok = super().start(device)
        if ok and self.sample_rate != self.requested_rate:
            # the device wanted its own rate: the few samples written so far are dropped
            self.ring.reset(max(1, round(self.window_s * self.sample_rate)))
        return ok

    def _callback(self, indata, frames, time_info, status) -> None:
        super()._callback(indata, frames, time_info, status)
        self.ring.write(indata[:, 0])  # PortAudio's thread: a copy, nothing else


@dataclass
class LiveClip(ClipResult):
    """A ClipResult for the window's display path, plus where the window lies."""

    start_s: float = 0.0
    compute_s: float = 0.0


def live_job(explainer: Explainer, wave: np.ndarray, rate: int, written: int,
             target: int | None, tau: float, task: TaskState | None = None) -> LiveClip:
    """Runs on the engine worker: analyse the window (the views colour its values).
    ``task`` lets a newer analysis (the take, when live stops) cut it short."""
    from engine.tools.live import analyse_window

    frame = analyse_window(explainer, wave, rate, written, target, tau, task)
    a, exp = frame.analysis, frame.explanation
    return LiveClip(LIVE, a, exp, jobs.envelope(a.wave), frame.duration_s,
                    jobs.display_levels(a.log_mag.cpu().numpy()), frame.start_s,
                    frame.compute_s)


class LivePanel(QToolBar):
    """Input, start/stop, hop, level and counters of live interpretation."""

    live_changed = Signal(bool)
    frame_shown = Signal(object)  # the LiveClip just drawn

    def __init__(self, host: Host) -> None:
        super().__init__("Live interpretation", host.window)
        self.setObjectName("live_panel")
        self.host = host
        self.recorder = LiveRecorder(5.0, 44100, self)
        self.gate = DropGate()
        self.history: deque[tuple[float, int]] = deque(maxlen=2000)  # (start_s, class)
        self.last: LiveClip | None = None
        self.last_latency_s = 0.0
        self._job = None  # the analysis in flight
        self._submitted_at = 0.0
        self._live = False
        self._timer = QTimer(self)
        self._timer.setInterval(round(DEFAULT_HOP_S * 1000))
        self._timer.timeout.connect(self._tick)
        self._build()
        self.recorder.level.connect(self._on_level)
        self.recorder.error.connect(host.show_error)
        self.recorder.recording_changed.connect(self._on_recording_changed)
        host.session.bundle_changed.connect(self._on_bundle)

    def _build(self) -> None:
        self.addWidget(QLabel(" Live input "))
        self.device = QComboBox()
        self.device.setObjectName("live_device")
        self.device.setMinimumContentsLength(16)
        self.addWidget(self.device)
        self.button = QPushButton("● Start live")
        self.button.setObjectName("live_start")
        self.button.clicked.connect(lambda: self.set_live(not self._live))
        self.addWidget(self.button)
        self.addWidget(QLabel(" every "))
        self.hop = QDoubleSpinBox()
        self.hop.setObjectName("live_hop")
        self.hop.setRange(0.25, 2.0)
        self.hop.setSingleStep(0.25)
        self.hop.setSuffix(" s")
        self.hop.setValue(DEFAULT_HOP_S)
        self.hop.valueChanged.connect(lambda s: self._timer.setInterval(round(s * 1000)))
        self.addWidget(self.hop)
        self.level = QProgressBar()
        self.level.setObjectName("live_level")
        self.level.setRange(LEVEL_MIN_DB, 0)
        self.level.setValue(LEVEL_MIN_DB)
        self.level.setFormat("%v dBFS")
        self.level.setMaximumWidth(140)
        self.addWidget(self.level)
        self.stats = QLabel("")
        self.stats.setObjectName("live_stats")
        self.addWidget(self.stats)
        self.refresh_devices()

    def refresh_devices(self) -> None:
        self.device.clear()
        devices = self.recorder.input_devices() if self.recorder.available else []
        self.device.addItem("System default input" if devices else "no input device", None)
        for index, name in devices:
            self.device.addItem(name, index)
        i = self.device.findText(self.host.settings.input_device())
        if i >= 0:
            self.device.setCurrentIndex(i)

    # ---- state ------------------------------------------------------------------------
    @property
    def is_live(self) -> bool:
        return self._live

    def set_live(self, on: bool) -> bool:
        """Start or stop; returns whether it is live now."""
        if on:
            return self.start()
        self.stop()
        return False

    def start(self) -> bool:
        """Start listening and explaining; False (with the reason shown) if it cannot."""
        host, explainer = self.host, self.host.session.explainer
        if self._live:
            return True
        if explainer is None:
            host.show_error("Open a bundle before starting live interpretation.")
            self._update()
            return False
        if not host.recordings.may_drop():
            self._update()
            return False
        from engine.tools.live import window_seconds  # a model is loaded: torch is too

        self.recorder.window_s = window_seconds(explainer)
        self.recorder.requested_rate = explainer.cfg.sample_rate
        self.gate.reset()
        self.history.clear()
        self.last, self._job = None, None
        if not self.recorder.start(self.device.currentData()):
            self._update()
            return False
        host.settings.set_input_device(self.device.currentText())
        host.session.explain_top_class()  # each window's top class until one is picked
        # the take's seconds are ticked by hand (_label_time_axis), not as a window of a
        # long recording would be: that origin goes, before the label is set
        host.views.set_time_origin(0.0)
        # set once: a new label re-lays out the plot, a few ms on every hop
        host.views.time_axis().setLabel("time since the take began (s)")
        self._live = True
        self._timer.start()
        self._update()
        self.live_changed.emit(True)
        return True

    def stop(self, analyse: bool = True) -> np.ndarray:
        """Stop listening; the take is analysed like a recording (``analyse``), or only
        kept as the window's unsaved recording. Returns the take."""
        if not self._live:
            return np.zeros(0, np.float32)
        self._live = False
        self._timer.stop()
        take = self.recorder.stop()
        self.gate.abandon()  # an analysis still running is superseded below
        self._job = None
        host = self.host
        self.level.setValue(LEVEL_MIN_DB)
        axis = host.views.time_axis()
        axis.setTicks(None)
        axis.setLabel("time", units="s")
        if len(take):
            on_disk = self.recorder.last_take  # removed once saved or discarded
            if analyse and host.session.explainer is not None:
                host.recordings.analyse(take, self.recorder.sample_rate, take=on_disk)
            else:
                host.recordings.keep_unsaved(take, self.recorder.sample_rate, take=on_disk)
        self._update()
        self.live_changed.emit(False)
        return take

    # ---- the hop ----------------------------------------------------------------------
    def _tick(self) -> None:
        session = self.host.session
        if not self._live or session.explainer is None:
            return
        if self.gate.busy and self._job is not None and not self._job.is_current():
            self.gate.abandon()  # another analysis superseded it: no result comes
        if self.recorder.ring.written == 0:
            return  # nothing heard yet
        if not self.gate.try_start():
            self._update()
            return
        wave, written = self.recorder.ring.window()
        self._submitted_at = time.perf_counter()
        job = self.host.analyse(live_job, session.explainer, wave, self.recorder.sample_rate,
                                written, session.target, session.tau,
                                then=lambda r: self._shown(job, r),
                                failed=lambda _m: self._failed(job))
        self._job = job

    def _on_bundle(self, _explainer) -> None:
        if self._live:
            # another model may want another window: the take is analysed with it
            self.stop()
            self.host.status("live interpretation stopped: the bundle changed")

    def _shown(self, job, result: LiveClip) -> None:
        if job is not self._job:
            return
        self.gate.finish(ok=True)
        self.last = result
        self.last_latency_s = time.perf_counter() - self._submitted_at
        self.history.append((result.start_s, result.analysis.predicted))
        self._label_time_axis(result.start_s, result.duration_s)
        self._update()
        self.frame_shown.emit(result)

    def _failed(self, job) -> None:
        if job is self._job:
            self.gate.finish(ok=False)  # the window shows the message
            self._update()

    def _label_time_axis(self, start: float, duration: float) -> None:
        """Ticks every second of the take, so the picture scrolls under fixed times."""
        axis = self.host.views.time_axis()
        first, last = math.ceil(start), math.floor(start + duration)
        axis.setTicks([[(k - start, f"{k:g}") for k in range(first, last + 1)]])

    # ---- feedback ---------------------------------------------------------------------
    def _on_level(self, db: float) -> None:
        self.level.setValue(round(min(0.0, max(float(LEVEL_MIN_DB), db))))
        self._update()

    def _on_recording_changed(self, on: bool) -> None:
        if not on and self._live:  # the device went away: keep and analyse the take
            self.stop()

    def _update(self) -> None:
        self.button.setText("■ Stop live" if self._live else "● Start live")
        self.device.setEnabled(not self._live)
        c = self.gate.counts()
        parts = [f"{self.recorder.duration:.1f} s heard"] if self._live or c.done else []
        if self.last is not None:
            name = self.last.analysis.classes[self.last.analysis.predicted]
            parts.append(f"now: {name}")
        parts += [f"{c.done} analysed", f"{c.dropped} dropped",
                  f"{self.recorder.overflows} input overflows"]
        if self.last is not None:
            parts.append(f"analysis {self.last.compute_s * 1000:.0f} ms")
        self.stats.setText("  " + " · ".join(parts))


class _CloseGuard(QObject):
    """Stops live listening before the window's closeEvent, keeping the take as the
    window's unsaved recording so that closing asks whether to save it."""

    def __init__(self, panel: LivePanel) -> None:
        super().__init__(panel)
        self.panel = panel

    def eventFilter(self, _obj, event) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Close and self.panel.is_live:
            self.panel.stop(analyse=False)
        return False


def install(host: Host) -> LivePanel:
    """The live panel (a tool bar, shown on first use) and File > Live interpretation."""
    panel = LivePanel(host)
    host.add_toolbar(panel)
    panel.hide()
    action = QAction("&Live interpretation", host.window, checkable=True,
                     shortcut=QKeySequence("Ctrl+L"))
    action.setObjectName("live")

    def toggled(on: bool) -> None:
        if on:
            panel.show()
        if panel.set_live(on) != on:
            action.setChecked(panel.is_live)

    action.toggled.connect(toggled)
    panel.live_changed.connect(action.setChecked)
    host.add_action("file", action, after="record")
    host.watch_window(_CloseGuard(panel))
    return panel
