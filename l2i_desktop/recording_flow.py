"""What the analysis window does with a recording: analyse it, and never lose it unsaved
(opening another clip, recording again or quitting asks first).

Its recovery file (``l2i_desktop.recovery``) is removed when it is saved or discarded;
until then a crash leaves it to be offered at the next start. A failed save says the
path and the reason in one line and keeps the recording, to be saved elsewhere."""

from __future__ import annotations

import logging
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
from l2i_desktop.recovery import Take
from l2i_desktop.settings import Settings

log = logging.getLogger(__name__)


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
        self.take: Take | None = None  # the unsaved recording's recovery file
        self.save_act = QAction("Save recording...", parent, enabled=False)
        self.save_act.setObjectName("save_recording")
        self.save_act.triggered.connect(self.save)

    def _set_unsaved(self, recording: tuple[np.ndarray, int] | None,
                     take: Take | None = None) -> None:
        if self.take is not None and self.take is not take:
            self.take.discard()  # saved, discarded or replaced: not needed any more
        self.unsaved = recording
        self.take = take if recording is not None else None
        if recording is None and take is not None:
            take.discard()
        self.save_act.setEnabled(recording is not None)

    def analyse(self, wave: np.ndarray, rate: int, saved: bool = False,
                take: Take | None = None) -> None:
        """Explain what was just recorded, shown as 'recording'. Until it is saved, opening
        another clip, recording again or quitting asks first."""
        if self.session.explainer is None:
            self.show_error("Open a bundle before analysing a recording.")
            return
        self._set_unsaved(None if saved else (np.asarray(wave), int(rate)), take)
        self.session.explain_top_class()
        self._analyse_with(jobs.analyse_clip, self.session.explainer, ClipSource.recording(),
                           None, self.session.tau, (wave, rate))

    def keep_unsaved(self, wave: np.ndarray, rate: int, take: Take | None = None) -> None:
        """A take kept without analysing it (live input stopped by closing)."""
        self._set_unsaved((np.asarray(wave), int(rate)), take)

    def ask_record(self) -> None:
        if not self.may_drop():
            return
        recording, device, saved, take = RecordDialog.get_recording(
            self.parent, self.settings.input_device(), with_saved=True, with_take=True)
        self.settings.set_input_device(device)
        if recording is not None:
            self.analyse(*recording, saved=saved, take=take)
        elif take is not None:
            take.discard()

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
        return self.save_to(Path(path)) if path else False

    def save_to(self, path: Path) -> bool:
        """Write the unsaved recording at ``path``; on failure one line (the path and the
        reason), nothing left at ``path``, and the recording kept for another try."""
        if self.unsaved is None:
            return True
        wave, rate = self.unsaved
        try:
            write_atomically(path, lambda tmp: save_audio(tmp, wave, rate))
        except (AudioError, OSError, RuntimeError, ValueError) as exc:
            log.warning("cannot save the recording to %s", path, exc_info=True)
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.show_error(f"cannot save the recording to {path}: {' '.join(why.split())}"
                            "; it is kept: save it elsewhere")
            return False
        self._set_unsaved(None)
        self.status(f"saved {Path(path).name}")
        return True
