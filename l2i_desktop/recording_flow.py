"""What the analysis window does with a recording: analyse it, and never lose it unsaved
(opening another clip, recording again or quitting asks first)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QFileDialog, QMessageBox

from engine.dsp.audio import save_audio
from engine.runtime.errors import AudioError
from l2i_desktop import jobs
from l2i_desktop.record_dialog import SAVE_FILTER, RecordDialog


class RecordingMixin:
    """Mixed into ``MainWindow``: needs its worker, explainer, settings, tau, target,
    ``save_recording_act``, ``statusBar`` and ``show_error``."""

    unsaved_recording: tuple[np.ndarray, int] | None = None

    def analyse_recording(self, wave: np.ndarray, rate: int, saved: bool = False) -> None:
        """Explain what was just recorded, shown as 'recording'. Until it is saved, opening
        another clip, recording again or quitting asks first."""
        if self.explainer is None:
            self.show_error("Open a bundle before analysing a recording.")
            return
        self.unsaved_recording = None if saved else (np.asarray(wave), int(rate))
        self.save_recording_act.setEnabled(not saved)
        self.target = None
        self.worker.submit("analyse", jobs.analyse_clip, self.explainer, Path("recording"),
                           None, self.tau, (wave, rate), cancellable=True)

    def _ask_record(self) -> None:
        if not self.may_drop_recording():
            return
        recording, device, saved = RecordDialog.get_recording(
            self, self.settings.input_device(), with_saved=True)
        self.settings.set_input_device(device)
        if recording is not None:
            self.analyse_recording(*recording, saved=saved)

    def may_drop_recording(self) -> bool:
        """True when nothing unsaved would be lost, or the user chose to save or discard."""
        if self.unsaved_recording is None:
            return True
        answer = QMessageBox.question(
            self, "Unsaved recording", "The recording you analysed is not saved. Save it?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Discard:
            self.unsaved_recording = None
            self.save_recording_act.setEnabled(False)
            return True
        return answer == QMessageBox.StandardButton.Save and self.save_recording()

    def save_recording(self) -> bool:
        if self.unsaved_recording is None:
            return True
        path, _ = QFileDialog.getSaveFileName(self, "Save recording", "recording.wav",
                                              SAVE_FILTER)
        if not path:
            return False
        try:
            save_audio(path, *self.unsaved_recording)
        except (AudioError, OSError, RuntimeError, ValueError) as exc:
            self.show_error(f"cannot save {Path(path).name}: {' '.join(str(exc).split())}")
            return False
        self.unsaved_recording = None
        self.save_recording_act.setEnabled(False)
        self.statusBar().showMessage(f"saved {Path(path).name}")
        return True
