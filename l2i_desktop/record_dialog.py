"""A dialog to record a clip: pick an input, watch the level, record, stop, save or use it.

``RecordDialog.get_recording(parent, device)`` runs it and returns the recording (or
None) and the input device chosen.
Without PortAudio or an input device the dialog says so in one line and stays usable
(it can still be cancelled); nothing raises.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.dsp.audio import save_audio
from engine.runtime.atomic import write_atomically
from engine.runtime.errors import AudioError
from l2i_desktop.recorder import Recorder
from l2i_desktop.recovery import Take

log = logging.getLogger(__name__)

LEVEL_MIN_DB = -60
SAVE_FILTER = "WAV (*.wav);;FLAC (*.flac);;All files (*)"


class RecordDialog(QDialog):
    def __init__(self, parent: QWidget | None = None, recorder: Recorder | None = None,
                 sample_rate: int = 44100) -> None:
        super().__init__(parent)
        self.setWindowTitle("Record a clip")
        self.recorder = recorder if recorder is not None else Recorder(sample_rate, self)
        self._wave: np.ndarray | None = None
        self.take: Take | None = None  # the recovery file of the last take
        self.saved = False
        self._rate = self.recorder.sample_rate
        self._build()
        self.recorder.level.connect(self._on_level)
        self.recorder.error.connect(self._on_error)
        self.recorder.recording_changed.connect(lambda _on: self._update())
        self.refresh_devices()

    # ---- layout -----------------------------------------------------------------------
    def _build(self) -> None:
        self.device = QComboBox()
        self.device.setObjectName("device")
        self.level = QProgressBar()
        self.level.setObjectName("level")
        self.level.setRange(LEVEL_MIN_DB, 0)
        self.level.setValue(LEVEL_MIN_DB)
        self.level.setFormat("%v dBFS")
        self.elapsed = QLabel("0.0 s")
        self.elapsed.setObjectName("elapsed")
        self.message = QLabel("")
        self.message.setObjectName("message")
        self.message.setWordWrap(True)

        self.record_button = QPushButton("● Record")
        self.record_button.setObjectName("record")
        self.record_button.clicked.connect(self.start_recording)
        self.stop_button = QPushButton("■ Stop")
        self.stop_button.setObjectName("stop")
        self.stop_button.clicked.connect(self.stop_recording)
        self.save_button = QPushButton("Save recording...")
        self.save_button.setObjectName("save")
        self.save_button.clicked.connect(self._ask_save)
        transport = QHBoxLayout()
        for w in (self.record_button, self.stop_button, self.elapsed):
            transport.addWidget(w)
        transport.addStretch(1)
        transport.addWidget(self.save_button)

        self.buttons = QDialogButtonBox()
        self.use_button = self.buttons.addButton("Use recording",
                                                 QDialogButtonBox.ButtonRole.AcceptRole)
        self.use_button.setObjectName("use")
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setObjectName("cancel")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("Input", self.device)
        form.addRow("Level", self.level)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addLayout(transport)
        lay.addWidget(self.message)
        lay.addWidget(self.buttons)
        self.resize(460, 0)

    def refresh_devices(self) -> None:
        """List the input devices PortAudio knows (the list is fixed while it runs)."""
        self.device.clear()
        devices = self.recorder.input_devices() if self.recorder.available else []
        if devices:
            self.device.addItem("System default input", None)
            for index, name in devices:
                self.device.addItem(name, index)
            self._show("")
        else:
            self.device.addItem("no input device")
            self._show(self.recorder.unavailable_reason
                       or "no audio input: no input device found", error=True)
        self._update()

    # ---- actions ----------------------------------------------------------------------
    def start_recording(self) -> bool:
        if self.recorder.is_recording:
            return True
        self._show("")
        self.level.setValue(LEVEL_MIN_DB)
        ok = self.recorder.start(self.device.currentData())
        if ok:
            self._wave = None
            self._show("recording...")
        self._update()
        return ok

    def stop_recording(self) -> None:
        if not self.recorder.is_recording:
            return
        self._keep(self.recorder.stop())
        self.level.setValue(LEVEL_MIN_DB)
        if self._wave is not None:
            self._show(f"recorded {len(self._wave) / self._rate:.1f} s")
        self._update()

    def recorded(self) -> tuple[np.ndarray, int] | None:
        """(mono float32 wave, sample rate) of the last recording, or None."""
        if self._wave is None:
            return None
        return self._wave, self._rate

    def save_to(self, path: str | Path) -> bool:
        if self._wave is None:
            self._show("nothing recorded yet", error=True)
            return False
        wave, rate = self._wave, self._rate
        try:
            write_atomically(path, lambda tmp: save_audio(tmp, wave, rate))
        except (AudioError, OSError, RuntimeError, ValueError) as exc:
            log.warning("cannot save the recording to %s", path, exc_info=True)
            self._show(f"cannot save {Path(path).name}: {' '.join(str(exc).split())}",
                       error=True)
            return False
        self._show(f"saved {Path(path).name}")
        self.saved = True
        self._drop_take()  # the saved file is the copy now
        return True

    def done(self, result: int) -> None:  # accept, reject and closing all end here
        if self.recorder.is_recording:
            if result == QDialog.DialogCode.Accepted:
                self.stop_recording()
            else:
                self.recorder.stop()
                self._drop_take(self.recorder.last_take)
        if result != QDialog.DialogCode.Accepted or self._wave is None:
            self._drop_take()  # cancelled: the take is not wanted
        super().done(result)

    def device_name(self) -> str:
        return self.device.currentText()

    def choose_device(self, name: str) -> None:
        """Select an input by its name (as remembered from an earlier run), if present."""
        i = self.device.findText(name)
        if i >= 0:
            self.device.setCurrentIndex(i)

    @staticmethod
    def get_recording(parent: QWidget | None = None, device_name: str = "",
                      with_saved: bool = False, with_take: bool = False) -> tuple:
        """Run the dialog; (recording or None, the input device it was set to), and with
        ``with_saved`` whether the recording was saved to a file from the dialog, with
        ``with_take`` its recovery file (the caller discards it once it is saved)."""
        dialog = RecordDialog(parent)
        dialog.choose_device(device_name)
        try:
            ok = dialog.exec() == QDialog.DialogCode.Accepted
            out = ((dialog.recorded() if ok else None), dialog.device_name())
            out = (*out, dialog.saved) if with_saved else out
            if not with_take:
                dialog._drop_take()  # nobody would remove it later
            return (*out, dialog.take) if with_take else out
        finally:
            dialog.deleteLater()

    # ---- internals --------------------------------------------------------------------
    def _drop_take(self, take: Take | None = None) -> None:
        take = take if take is not None else self.take
        if take is not None:
            take.discard()
        if take is self.take:
            self.take = None

    def _keep(self, wave: np.ndarray) -> None:
        new = self.recorder.last_take if len(wave) else None
        if new is not self.take:
            self._drop_take()  # the take before this one is not wanted any more
        self.take = new
        self.saved = False  # a new take: not on disk yet
        self._rate = self.recorder.sample_rate
        self._wave = wave if len(wave) else None
        self.elapsed.setText(f"{len(wave) / self._rate:.1f} s")

    def _ask_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save recording", "recording.wav",
                                              SAVE_FILTER)
        if path:
            self.save_to(path)

    def _on_level(self, db: float) -> None:
        self.level.setValue(int(round(min(0.0, max(float(LEVEL_MIN_DB), db)))))
        self.elapsed.setText(f"{self.recorder.duration:.1f} s")

    def _on_error(self, message: str) -> None:
        if not self.recorder.is_recording:
            # the device went away: keep what was recorded until then
            kept = self.recorder.stop()
            if len(kept):
                self._keep(kept)
            self.level.setValue(LEVEL_MIN_DB)
        self._show(message, error=True)
        self._update()

    def _show(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color: #b00020" if error else "")

    def _update(self) -> None:
        recording = self.recorder.is_recording
        can = self.recorder.available
        self.device.setEnabled(can and not recording)
        self.record_button.setEnabled(can and not recording)
        self.stop_button.setEnabled(recording)
        has = self._wave is not None and not recording
        self.save_button.setEnabled(has)
        self.use_button.setEnabled(has)
