"""What the analysis window does with a recording: analyse it, and never lose it unsaved
(opening another clip, recording again or quitting asks first)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from engine.dsp.audio import save_audio
from engine.runtime.atomic import write_atomically
from engine.runtime.errors import AudioError
from l2i_desktop import jobs
from l2i_desktop.model import ClipSource, Session
from l2i_desktop.record_dialog import SAVE_FILTER, RecordDialog
from l2i_desktop.settings import Settings


class RecordingFlow:
    """``analyse_with(fn, *args)`` submits an analysis whose result the window shows."""

    def __init__(self, parent: QWidget, session: Session, settings: Settings,
                 analyse_with: Callable[..., Any], show_error: Callable[[str], None],
                 status: Callable[[str], None]) -> None:
        self.parent = parent
        self.session = session
        self.settings = settings
        self._analyse_with = analyse_with
        self.show_error = show_error
        self.status = status
        self.unsaved: tuple[np.ndarray, int] | None = None
        self.save_act = QAction("Save recording...", parent, enabled=False)
        self.save_act.setObjectName("save_recording")
        self.save_act.triggered.connect(self.save)

    def _set_unsaved(self, take: tuple[np.ndarray, int] | None) -> None:
        self.unsaved = take
        self.save_act.setEnabled(take is not None)

    def analyse(self, wave: np.ndarray, rate: int, saved: bool = False) -> None:
        """Explain what was just recorded, shown as 'recording'. Until it is saved, opening
        another clip, recording again or quitting asks first."""
        if self.session.explainer is None:
            self.show_error("Open a bundle before analysing a recording.")
            return
        self._set_unsaved(None if saved else (np.asarray(wave), int(rate)))
        self.session.explain_top_class()
        self._analyse_with(jobs.analyse_clip, self.session.explainer, ClipSource.recording(),
                           None, self.session.tau, (wave, rate))

    def keep_unsaved(self, wave: np.ndarray, rate: int) -> None:
        """A take kept without analysing it (live input stopped by closing)."""
        self._set_unsaved((np.asarray(wave), int(rate)))

    def ask_record(self) -> None:
        if not self.may_drop():
            return
        recording, device, saved = RecordDialog.get_recording(
            self.parent, self.settings.input_device(), with_saved=True)
        self.settings.set_input_device(device)
        if recording is not None:
            self.analyse(*recording, saved=saved)

    def may_drop(self) -> bool:
        """True when nothing unsaved would be lost, or the user chose to save or discard."""
        if self.unsaved is None:
            return True
        answer = QMessageBox.question(
            self.parent, "Unsaved recording",
            "The recording you analysed is not saved. Save it?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Discard:
            self._set_unsaved(None)
            return True
        return answer == QMessageBox.StandardButton.Save and self.save()

    def save(self) -> bool:
        if self.unsaved is None:
            return True
        path, _ = QFileDialog.getSaveFileName(self.parent, "Save recording", "recording.wav",
                                              SAVE_FILTER)
        if not path:
            return False
        try:
            wave, rate = self.unsaved
            write_atomically(path, lambda tmp: save_audio(tmp, wave, rate))
        except (AudioError, OSError, RuntimeError, ValueError) as exc:
            self.show_error(f"cannot save {Path(path).name}: {' '.join(str(exc).split())}")
            return False
        self._set_unsaved(None)
        self.status(f"saved {Path(path).name}")
        return True
