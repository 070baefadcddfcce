"""At start, offer the takes a crash left behind (``l2i_desktop.recovery``), as Audacity
does: a list (when, how long, from where); Recover opens the selected one as the
window's unsaved recording, Save to folder writes the selected ones as WAV files (so
several takes are recovered at once), Discard deletes them, Later keeps them for the next
start. The window holds one recording at a time, so Recover takes one.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from engine.runtime.errors import AudioError
from l2i_desktop.recovery import Take, leftovers, save_take

log = logging.getLogger(__name__)

SOURCES = {"record": "File > Record", "live": "live interpretation"}


def describe(take: Take) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(take.started))
    return (f"{when}   {take.duration:.1f} s   from {SOURCES.get(take.source, take.source)}"
            f"   ({take.path.name})")


class RecoveryDialog(QDialog):
    def __init__(self, takes: list[Take], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Recover recordings")
        self.takes = list(takes)
        self.recovered: Take | None = None
        text = QLabel("L2I Desktop did not close normally. These recordings were not saved "
                      "and can be recovered. Recover opens the selected one in the window "
                      "(unsaved: save it with File > Save recording); Save to folder writes "
                      "the selected ones as WAV files; Discard deletes them; Later keeps "
                      "them until the next start.")
        text.setWordWrap(True)
        self.list = QListWidget()
        self.list.setObjectName("takes")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setToolTip("Recordings left by a crash, oldest first")
        self.buttons = QDialogButtonBox()
        self.recover_button = self.buttons.addButton(
            "Recover", QDialogButtonBox.ButtonRole.AcceptRole)
        self.recover_button.setObjectName("recover")
        self.recover_button.setToolTip("Open the selected recording in the window")
        self.save_button = self.buttons.addButton(
            "Save to folder...", QDialogButtonBox.ButtonRole.ActionRole)
        self.save_button.setObjectName("save_takes")
        self.save_button.setToolTip("Write the selected recordings as WAV files into a "
                                    "folder you choose (named by when they began)")
        self.discard_button = self.buttons.addButton(
            "Discard", QDialogButtonBox.ButtonRole.DestructiveRole)
        self.discard_button.setObjectName("discard")
        self.discard_button.setToolTip("Delete the selected recordings for good")
        self.later_button = self.buttons.addButton(
            "Later", QDialogButtonBox.ButtonRole.RejectRole)
        self.later_button.setObjectName("later")
        self.later_button.setToolTip("Keep them; they are offered again at the next start")
        self.recover_button.clicked.connect(self.recover_selected)
        self.save_button.clicked.connect(self.ask_save_selected)
        self.discard_button.clicked.connect(self.discard_selected)
        self.later_button.clicked.connect(self.reject)
        self.list.itemSelectionChanged.connect(self._update)
        lay = QVBoxLayout(self)
        lay.addWidget(text)
        lay.addWidget(self.list)
        lay.addWidget(self.buttons)
        self.resize(640, 300)
        self._fill()

    def _fill(self) -> None:
        self.list.clear()
        for take in self.takes:
            item = QListWidgetItem(describe(take))
            item.setData(Qt.ItemDataRole.UserRole, take)
            self.list.addItem(item)
        if self.takes:
            self.list.setCurrentRow(len(self.takes) - 1)  # the newest
        self._update()

    def selected(self) -> list[Take]:
        return [item.data(Qt.ItemDataRole.UserRole) for item in self.list.selectedItems()]

    def recover_selected(self) -> None:
        chosen = self.selected()
        if len(chosen) == 1:
            self.recovered = chosen[0]
            self.accept()

    def ask_save_selected(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save the recordings in")
        if folder:
            self.save_selected(Path(folder))

    def save_selected(self, folder: Path) -> list[Path]:
        """Write the selected takes into ``folder``; those that fail stay listed and are
        named, with the reason, in one message. Returns the files written."""
        written, failed = [], []
        for take in self.selected():
            try:
                written.append(save_take(take, folder))
            except (OSError, ValueError, RuntimeError, AudioError) as exc:
                log.warning("recovery: cannot save %s into %s", take.path, folder,
                            exc_info=True)
                why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                failed.append(f"{take.path.name}: {' '.join(why.split())}")
                continue
            log.info("recovery: saved %s as %s", take.path, written[-1])
            self.takes.remove(take)
        if failed:
            box = QMessageBox(QMessageBox.Icon.Warning, "Recover recordings",
                              f"{len(failed)} recording(s) could not be saved in {folder} "
                              "and are kept:\n" + "\n".join(failed),
                              QMessageBox.StandardButton.Ok, self)
            box.setObjectName("save_failed")
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()
        if not self.takes:
            self.reject()  # nothing left to offer
        else:
            self._fill()
        return written

    def discard_selected(self) -> None:
        for take in self.selected():
            log.info("recovery: discarding %s (%.1f s)", take.path, take.duration)
            take.discard()
            self.takes.remove(take)
        if not self.takes:
            self.reject()
        else:
            self._fill()

    def _update(self) -> None:
        n = len(self.selected())
        self.recover_button.setEnabled(n == 1)
        self.discard_button.setEnabled(n > 0)
        self.save_button.setEnabled(n > 0)


def recover_into(window: Any, take: Take) -> bool:
    """Open ``take`` as the window's unsaved recording (``window.recordings``); its file
    stays until it is saved or discarded. Waits for the bundle if none is open yet."""
    try:
        wave, rate = take.read()
    except (OSError, ValueError) as exc:
        log.warning("cannot recover %s", take.path, exc_info=True)
        window.show_error(f"cannot recover {take.path}: {exc}")
        return False
    log.info("recovery: opening %s (%.1f s at %d Hz)", take.path, len(wave) / rate, rate)
    flow, session = window.recordings, window.session
    if session.explainer is not None:
        flow.analyse(wave, rate, take=take)
        return True
    flow.keep_unsaved(wave, rate, take=take)  # kept (closing asks) until a model is there

    def analyse_once(_explainer) -> None:
        session.bundle_changed.disconnect(analyse_once)
        if flow.take is take:  # still the window's recording
            flow.analyse(wave, rate, take=take)

    session.bundle_changed.connect(analyse_once)
    return True


def offer_recovery(window: Any, folder=None) -> Take | None:
    """Run at start, once the window exists: if takes were left behind, ask what to do
    with them (modal). Returns the take recovered into the window, if any."""
    takes = leftovers(folder)
    if not takes:
        return None
    log.info("recovery: %d recording(s) left by an earlier run", len(takes))
    dialog = RecoveryDialog(takes, window)
    try:
        dialog.exec()
        take = dialog.recovered
    finally:
        dialog.deleteLater()
    if take is not None and recover_into(window, take):
        return take
    return None


def after_start(window: Any, settings: Any = None, folder=None) -> None:
    """What main() does once the window is shown: say once that unreadable settings were
    replaced by the defaults, then offer the takes a crash left behind."""
    note = getattr(settings, "reset_note", "")
    if note:
        from PySide6.QtWidgets import QMessageBox

        window.statusBar().showMessage(note)
        box = QMessageBox(QMessageBox.Icon.Warning, "Settings reset", note,
                          QMessageBox.StandardButton.Ok, window)
        box.setObjectName("settings_reset")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        settings.reset_note = ""  # said once
    offer_recovery(window, folder)
