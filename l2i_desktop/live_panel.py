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
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QLabel,
    QProgressBar,
    QPushButton,
    QToolBar,
)

from engine.explanation.explain import Explainer
from engine.runtime.progress import TaskState
from engine.tools.live import DropGate, RingBuffer, analyse_window, window_seconds
from l2i_desktop import jobs
from l2i_desktop.recorder import Recorder

if TYPE_CHECKING:
    from l2i_desktop.main_window import MainWindow

LIVE_PATH = Path("<live input>")  # the name the window shows; never a file
LEVEL_MIN_DB = -60
DEFAULT_HOP_S = 0.5


class LiveRecorder(Recorder):
    """A Recorder whose audio callback also copies each block into ``ring``."""

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
class LiveClip(jobs.ClipResult):
    """A ClipResult for the window's display path, plus where the window lies."""

    start_s: float = 0.0
    compute_s: float = 0.0


def live_job(explainer: Explainer, wave: np.ndarray, rate: int, written: int,
             target: int | None, tau: float, task: TaskState | None = None) -> LiveClip:
    """Runs on the engine worker: analyse the window and draw its pictures. ``task``
    lets a newer analysis (the take, when live stops) cut it short."""
    frame = analyse_window(explainer, wave, rate, written, target, tau, task)
    a, exp = frame.analysis, frame.explanation
    log_mag = a.log_mag.cpu().numpy()
    levels = jobs.display_levels(log_mag)
    pictures = {"log_mag": jobs.colorize(log_mag, levels),
                "log_mel": jobs.colorize(a.log_mel.cpu().numpy()),
                "H": jobs.colorize(a.H.cpu().numpy()),
                "interpretation": jobs.colorize(exp.interpretation_log_mag, levels)}
    return LiveClip(LIVE_PATH, a, exp, jobs.envelope(a.wave), frame.duration_s, pictures,
                    levels, frame.start_s, frame.compute_s)


class LivePanel(QToolBar):
    """Input, start/stop, hop, level and counters of live interpretation."""

    live_changed = Signal(bool)
    frame_shown = Signal(object)  # the LiveClip just drawn

    def __init__(self, window: MainWindow) -> None:
        super().__init__("Live interpretation", window)
        self.setObjectName("live_panel")
        self.window_ = window
        self.recorder = LiveRecorder(5.0, 44100, self)
        self.gate = DropGate()
        self.history: deque[tuple[float, int]] = deque(maxlen=2000)  # (start_s, class)
        self.last: LiveClip | None = None
        self.last_latency_s = 0.0
        self._rid: int | None = None
        self._submitted_at = 0.0
        self._live = False
        self._timer = QTimer(self)
        self._timer.setInterval(round(DEFAULT_HOP_S * 1000))
        self._timer.timeout.connect(self._tick)
        self._build()
        self.recorder.level.connect(self._on_level)
        self.recorder.error.connect(window.show_error)
        self.recorder.recording_changed.connect(self._on_recording_changed)
        window.worker.finished.connect(self._on_finished)  # after the window's own slot
        window.worker.failed.connect(self._on_failed)

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
        i = self.device.findText(self.window_.settings.input_device())
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
        win = self.window_
        if self._live:
            return True
        if win.explainer is None:
            win.show_error("Open a bundle before starting live interpretation.")
            self._update()
            return False
        if not win.may_drop_recording():
            self._update()
            return False
        self.recorder.window_s = window_seconds(win.explainer)
        self.recorder.requested_rate = win.explainer.cfg.sample_rate
        self.gate.reset()
        self.history.clear()
        self.last, self._rid = None, None
        if not self.recorder.start(self.device.currentData()):
            self._update()
            return False
        win.settings.set_input_device(self.device.currentText())
        win.target = None  # explain the top class of each window until one is picked
        # set once: a new label re-lays out the plot, a few ms on every hop
        win.views.plots[-1].getAxis("bottom").setLabel("time since the take began (s)")
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
        self._rid = None
        win = self.window_
        self.level.setValue(LEVEL_MIN_DB)
        axis = win.views.plots[-1].getAxis("bottom")
        axis.setTicks(None)
        axis.setLabel("time", units="s")
        if len(take):
            if analyse and win.explainer is not None:
                win.analyse_recording(take, self.recorder.sample_rate)
            else:
                win.unsaved_recording = (take, self.recorder.sample_rate)
                win.save_recording_act.setEnabled(True)
        self._update()
        self.live_changed.emit(False)
        return take

    # ---- the hop ----------------------------------------------------------------------
    def _tick(self) -> None:
        win = self.window_
        if not self._live or win.explainer is None:
            return
        if self.gate.busy and self._rid is not None and \
                not win.worker.is_current("analyse", self._rid):
            self.gate.abandon()  # another analysis superseded it: no result comes
        if self.recorder.ring.written == 0:
            return  # nothing heard yet
        if not self.gate.try_start():
            self._update()
            return
        wave, written = self.recorder.ring.window()
        self._submitted_at = time.perf_counter()
        self._rid = win.worker.submit("analyse", live_job, win.explainer, wave,
                                      self.recorder.sample_rate, written, win.target, win.tau,
                                      cancellable=True)

    def _on_finished(self, kind: str, rid: int, result) -> None:
        if kind == "bundle" and self._live:
            # another model may want another window: the take is analysed with it (which
            # also supersedes the window's attempt to reopen the live input as a file)
            self.stop()
            self.window_.statusBar().showMessage("live interpretation stopped: the bundle "
                                                 "changed")
            return
        if kind != "analyse" or rid != self._rid or not isinstance(result, LiveClip):
            return
        self.gate.finish(ok=True)
        self.last = result
        self.last_latency_s = time.perf_counter() - self._submitted_at
        self.history.append((result.start_s, result.analysis.predicted))
        self._label_time_axis(result.start_s, result.duration_s)
        self._update()
        self.frame_shown.emit(result)

    def _on_failed(self, kind: str, rid: int, _message: str) -> None:
        if kind == "analyse" and rid == self._rid:
            self.gate.finish(ok=False)  # the window shows the message
            self._update()

    def _label_time_axis(self, start: float, duration: float) -> None:
        """Ticks every second of the take, so the picture scrolls under fixed times."""
        axis = self.window_.views.plots[-1].getAxis("bottom")
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


def install_live(window: MainWindow) -> LivePanel:
    """Add the live panel (a tool bar, shown on first use) and File > Live
    interpretation to ``window``."""
    panel = LivePanel(window)
    window.addToolBar(Qt.ToolBarArea.TopToolBarArea, panel)
    panel.hide()
    action = QAction("&Live interpretation", window, checkable=True,
                     shortcut=QKeySequence("Ctrl+L"))
    action.setObjectName("live")

    def toggled(on: bool) -> None:
        if on:
            panel.show()
        if panel.set_live(on) != on:
            action.setChecked(panel.is_live)

    action.toggled.connect(toggled)
    panel.live_changed.connect(action.setChecked)
    file_menu = next(a.menu() for a in window.menuBar().actions() if a.menu() is not None)
    after_record = next((a for a in file_menu.actions() if a.text() == "&Record..."), None)
    actions = file_menu.actions()
    before = actions[actions.index(after_record) + 1] if after_record in actions else None
    file_menu.insertAction(before, action)
    window.installEventFilter(_CloseGuard(panel))
    return panel
