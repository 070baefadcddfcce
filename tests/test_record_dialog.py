"""The record dialog: through a real (private, null-sink) PulseAudio server, and with no
input device at all (those tests need no server)."""

from __future__ import annotations

import time

import numpy as np
import soundfile as sf
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel, QProgressBar, QPushButton
from test_audio_server import RATE, loud_part, peak_frequency, play_to_end, player

from l2i_desktop.record_dialog import RecordDialog
from l2i_desktop.recorder import Recorder

__all__ = ["player"]  # a fixture shared with test_audio_server

# --- RecordDialog ----------------------------------------------------------------------


def _widgets(dialog):
    return (dialog.findChild(QComboBox, "device"), dialog.findChild(QProgressBar, "level"),
            dialog.findChild(QPushButton, "record"), dialog.findChild(QPushButton, "stop"),
            dialog.findChild(QLabel, "elapsed"), dialog.findChild(QPushButton, "save"),
            dialog.findChild(QPushButton, "use"), dialog.findChild(QLabel, "message"))


def test_record_dialog_records_saves_and_returns_the_tone(qtbot, player, tone, tmp_path,
                                                           monkeypatch):
    dialog = RecordDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    device, level, record, stop, elapsed, save, use, message = _widgets(dialog)
    assert None not in (device, level, record, stop, elapsed, save, use, message)
    assert device.count() >= 2 and device.isEnabled()
    device.setCurrentIndex(0)
    assert device.currentData() is None and "default" in device.currentText().lower()
    assert (level.minimum(), level.maximum()) == (-60, 0)
    assert record.isEnabled() and not stop.isEnabled() and not save.isEnabled()
    assert dialog.recorded() is None
    peak = []
    level.valueChanged.connect(peak.append)

    t0 = time.monotonic()
    qtbot.mouseClick(record, Qt.MouseButton.LeftButton)
    assert stop.isEnabled() and not record.isEnabled() and not device.isEnabled()
    qtbot.wait(300)
    play_to_end(qtbot, player, tone)
    qtbot.wait(300)
    qtbot.mouseClick(stop, Qt.MouseButton.LeftButton)
    wall = time.monotonic() - t0

    got = dialog.recorded()
    assert got is not None
    wave, rate = got
    assert rate == RATE and wave.dtype == np.float32
    assert abs(len(wave) / rate - wall) < 0.3, (len(wave) / rate, wall)
    assert elapsed.text() == f"{len(wave) / rate:.1f} s"
    loud = loud_part(wave)
    assert abs(len(loud) / RATE - 1.0) < 0.05 and abs(peak_frequency(loud) - 440) < 3
    assert -11 <= max(peak) <= -7  # the meter showed the -9 dBFS tone
    assert level.value() == -60  # and falls back when stopped
    assert save.isEnabled() and use.isEnabled() and record.isEnabled()

    assert not dialog.saved
    out = tmp_path / "take.wav"
    monkeypatch.setattr("l2i_desktop.record_dialog.QFileDialog.getSaveFileName",
                        lambda *a, **k: (str(out), "WAV (*.wav)"))
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    data, file_rate = sf.read(str(out), dtype="float32")
    assert file_rate == RATE
    np.testing.assert_array_equal(data, wave)
    assert "take.wav" in message.text() and dialog.saved  # the window won't ask again

    qtbot.mouseClick(use, Qt.MouseButton.LeftButton)
    assert dialog.result() == RecordDialog.DialogCode.Accepted
    assert dialog.recorded()[0] is wave


# --- no input device: these need no server ----------------------------------------------


def _assert_no_input_dialog(qtbot, expected: str) -> None:
    dialog = RecordDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    device, level, record, stop, elapsed, save, use, message = _widgets(dialog)
    assert not dialog.recorder.available
    assert expected in message.text() and "\n" not in message.text()
    assert not record.isEnabled() and not stop.isEnabled() and not save.isEnabled()
    assert not use.isEnabled() and not device.isEnabled()
    errors = []
    dialog.recorder.error.connect(errors.append)
    assert dialog.start_recording() is False  # even if asked, it says why and goes on
    assert errors and expected in errors[0] and expected in message.text()
    assert not dialog.recorder.is_recording and dialog.recorded() is None
    assert dialog.save_to("/nonexistent/x.wav") is False
    cancel = dialog.findChild(QPushButton, "cancel")
    qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    assert dialog.result() == RecordDialog.DialogCode.Rejected and not dialog.isVisible()


def test_no_input_device_dialog_says_so_and_stays_usable(qtbot, monkeypatch):
    import sounddevice as sd

    outputs_only = [{"name": "speakers", "index": 0, "max_input_channels": 0,
                     "max_output_channels": 2, "default_samplerate": 44100.0}]
    monkeypatch.setattr(sd, "query_devices", lambda *a, **k: outputs_only)
    opened = []
    monkeypatch.setattr(sd, "InputStream", lambda *a, **k: opened.append(1))
    _assert_no_input_dialog(qtbot, "no input device")
    assert not opened


def test_failing_device_query_reads_as_no_input_device(qtbot, monkeypatch):
    import sounddevice as sd

    def broken(*_a, **_k):
        raise sd.PortAudioError("Error querying device -1")

    monkeypatch.setattr(sd, "query_devices", broken)
    rec = Recorder()
    assert rec.input_devices() == [] and not rec.available
    _assert_no_input_dialog(qtbot, "no input device")


def test_no_portaudio_dialog_says_so_and_stays_usable(qtbot, monkeypatch):
    def missing():
        raise OSError("PortAudio library not found")

    monkeypatch.setattr("l2i_desktop.recorder._load_sounddevice", missing)
    rec = Recorder()
    assert not rec.available and rec.input_devices() == []
    errors = []
    rec.error.connect(errors.append)
    assert rec.start() is False and errors == [rec.unavailable_reason]
    assert len(rec.stop()) == 0
    _assert_no_input_dialog(qtbot, "PortAudio is not available")


def test_a_device_that_cannot_open_reports_one_line(qtbot, server):
    rec = Recorder(RATE)
    errors = []
    rec.error.connect(errors.append)
    assert rec.start(device=10_000) is False  # no such device
    assert len(errors) == 1 and errors[0].startswith("cannot record from device 10000")
    assert "\n" not in errors[0] and not rec.is_recording
