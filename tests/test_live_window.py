"""Live interpretation in the real window, listening to a real (private, null-sink)
PulseAudio server: real ESC-10 clips are played into the sink, whose monitor is the
default input the window records from, while the default bundle explains each window."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox
from test_audio_server import RATE, play_to_end, player
from test_live import DOG, ROOSTER, five_seconds
from test_main_window import TIMEOUT, fresh_settings

from engine.dsp.audio import load_audio
from l2i_desktop.live_panel import LIVE, LivePanel
from l2i_desktop.main_window import MainWindow
from l2i_desktop.model import ClipSource
from resources import default_bundle_path

__all__ = ["player"]  # a fixture shared with test_audio_server


def _window(qtbot, tmp_path, bundle: Path | None) -> MainWindow:
    win = MainWindow(bundle, fresh_settings(tmp_path))
    qtbot.addWidget(win)
    win.show()
    if bundle is not None:
        qtbot.waitUntil(lambda: win.session.explainer is not None, timeout=TIMEOUT)
    return win


def _live_parts(win: MainWindow) -> tuple[LivePanel, QAction]:
    panel = win.findChild(LivePanel, "live_panel")
    action = win.findChild(QAction, "live")
    assert panel is not None and action is not None
    file_menu = win.menuBar().actions()[0].menu()
    assert action in file_menu.actions() and action.shortcut().toString() == "Ctrl+L"
    return panel, action


def _close(win: MainWindow, panel: LivePanel) -> None:
    """Close without the question about an unsaved take (a failed test must not hang)."""
    if panel.is_live:
        panel.stop(analyse=False)
    win.recordings.unsaved = None
    win.close()


class StallProbe:
    """A 5 ms timer on the UI thread: the longest gap between two of its ticks is the
    longest time the UI thread could not react (reported, not asserted)."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.gaps: list[float] = []
        self._last = 0.0

    def start(self) -> None:
        self._last = time.perf_counter()
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self._last)
        self._last = now

    def stop(self) -> None:
        self.timer.stop()


def test_live_interpretation_follows_what_the_microphone_hears(qtbot, server, player,
                                                               esc10, tmp_path, capsys):
    dog, rooster = (five_seconds(load_audio(esc10 / d / f, RATE)) for d, f in (DOG, ROOSTER))
    win = _window(qtbot, tmp_path, default_bundle_path())
    panel, action = _live_parts(win)
    classes = win.session.explainer.bundle.classes
    levels: list[int] = []
    panel.level.valueChanged.connect(levels.append)
    probe = StallProbe()
    try:
        assert not panel.isVisible() and not action.isChecked()
        action.trigger()  # File > Live interpretation
        assert panel.is_live and action.isChecked() and panel.isVisible()
        assert panel.button.text() == "■ Stop live" and not panel.device.isEnabled()
        probe.start()
        qtbot.waitUntil(lambda: panel.recorder.duration > 0.3, timeout=5000)
        t_dog = panel.recorder.duration
        play_to_end(qtbot, player, dog, timeout_s=10.0)
        t_rooster = panel.recorder.duration
        play_to_end(qtbot, player, rooster, timeout_s=10.0)
        t_end = panel.recorder.duration
        qtbot.waitUntil(lambda: panel.last is not None
                        and panel.last.start_s + panel.last.duration_s >= t_end,
                        timeout=10_000)
        probe.stop()
        counts = panel.gate.counts()
        history = list(panel.history)
        overflows = panel.recorder.overflows

        # what is on screen is the newest window, through the window's own views
        last = panel.last
        assert win.session.clip is last and win.session.clip.source == LIVE
        assert win.predictions.table.item(0, 0).text() == "Rooster"
        assert len(win.relevance.heights) == win.session.explainer.bundle.k == 100
        assert win.views.images[1].image.shape[:2] == tuple(last.analysis.H.shape)
        ticks = win.views.time_axis()._tickLevels[0]  # under the last row or lane
        labels = [float(label) for _pos, label in ticks]
        assert labels and labels[0] >= last.start_s - 1e-6  # seconds of the take:
        assert labels[-1] > 5  # the axis scrolled with it
        for pos, label in ticks:
            assert pos == pytest.approx(float(label) - last.start_s)
        assert "analysed" in panel.stats.text() and "0 input overflows" in panel.stats.text()

        # the explanation followed the sound: a dog while the dog barked, then a rooster
        ends = [(start + last.duration_s, classes[k]) for start, k in history]
        during_dog = [name for end, name in ends if t_dog + 3.0 <= end <= t_rooster + 0.2]
        assert "Dog bark" in during_dog, ends
        assert ends[-1][1] == "Rooster" and ends[-1][0] >= t_end, ends
        assert counts.done >= 8 and counts.done == len(history), counts
        assert overflows == 0
        assert max(levels) > -30  # the meter showed the clips

        # stopping: the whole take is analysed like a recording, and not saved yet
        action.trigger()
        assert not panel.is_live and not action.isChecked()
        assert panel.button.text() == "● Start live" and panel.device.isEnabled()
        qtbot.waitUntil(lambda: win.shown == ClipSource.recording(), timeout=TIMEOUT)
        take, rate = win.recordings.unsaved
        assert rate == RATE and len(take) / RATE >= t_end
        assert win.recordings.save_act.isEnabled()
        assert win.session.clip.duration_s == pytest.approx(len(take) / RATE, abs=0.01)
        assert win.views.time_axis()._tickLevels is None  # plain seconds
    finally:
        probe.stop()
        _close(win, panel)

    gaps = np.array(probe.gaps)
    with capsys.disabled():
        print(f"\nlive: {counts.done} analyses shown, {counts.dropped} hops dropped, "
              f"{counts.failed} failed, {overflows} input overflows over {t_end:.1f} s; "
              f"analysis {last.compute_s * 1000:.0f} ms, hop to screen "
              f"{panel.last_latency_s * 1000:.0f} ms; UI thread: longest stall "
              f"{gaps.max() * 1000:.0f} ms, 99th percentile gap "
              f"{np.percentile(gaps, 99) * 1000:.0f} ms ({len(gaps)} ticks of a 5 ms timer)")


def test_closing_while_live_keeps_the_take_and_asks(qtbot, server, player, tmp_path,
                                                    monkeypatch, tone):
    win = _window(qtbot, tmp_path, default_bundle_path())
    panel, action = _live_parts(win)
    asked = []

    def question(_parent, _title, text, *_args):
        asked.append(text)
        return QMessageBox.StandardButton.Discard

    monkeypatch.setattr(QMessageBox, "question", question)
    assert panel.start()
    qtbot.waitUntil(lambda: panel.gate.counts().done >= 1, timeout=TIMEOUT)
    play_to_end(qtbot, player, tone)
    assert win.close()
    assert asked and "not saved" in asked[0]  # the take was not dropped silently
    assert not panel.is_live and not action.isChecked()


def test_opening_another_bundle_while_live_stops_and_analyses_the_take(qtbot, server,
                                                                       tmp_path):
    win = _window(qtbot, tmp_path, default_bundle_path())
    panel, action = _live_parts(win)
    try:
        assert panel.start()
        qtbot.waitUntil(lambda: panel.gate.counts().done >= 1, timeout=TIMEOUT)
        old = win.session.explainer
        win.open_bundle(default_bundle_path())
        qtbot.waitUntil(lambda: win.session.explainer is not old and not panel.is_live,
                        timeout=TIMEOUT)
        assert not action.isChecked()
        qtbot.waitUntil(lambda: win.shown == ClipSource.recording(), timeout=TIMEOUT)
        assert win.error_label.text() == "" and win.recordings.unsaved is not None
    finally:
        _close(win, panel)


def test_without_a_bundle_or_an_input_it_says_why_in_one_line(qtbot, tmp_path,
                                                              monkeypatch):
    win = _window(qtbot, tmp_path, None)
    panel, action = _live_parts(win)
    try:
        action.trigger()
        assert not panel.is_live and not action.isChecked()
        assert win.error_label.text() == "Open a bundle before starting live interpretation."
    finally:
        win.close()

    import sounddevice as sd

    outputs_only = [{"name": "speakers", "index": 0, "max_input_channels": 0,
                     "max_output_channels": 2, "default_samplerate": 44100.0}]
    monkeypatch.setattr(sd, "query_devices", lambda *a, **k: outputs_only)
    win = _window(qtbot, tmp_path, default_bundle_path())
    panel, action = _live_parts(win)
    try:
        assert panel.device.currentText() == "no input device"
        action.trigger()
        assert not panel.is_live and not action.isChecked()
        message = win.error_label.text()
        assert "no input device" in message and "\n" not in message
    finally:
        win.close()
