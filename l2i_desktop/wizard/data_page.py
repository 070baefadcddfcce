"""Page 1, Data: pick a folder; its layout, classes, clips, duration, folds and unreadable
files are shown (the scan runs off the UI thread); a few clips can be played."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWizardPage,
)

from engine.dsp.audio import load_audio
from l2i_desktop.audio import Player
from l2i_desktop.wizard.runner import TaskRunner
from l2i_desktop.wizard.scan import DataSummary, scan_data
from trainer.layouts import UNLABELLED

MAX_EXAMPLES = 4


class DataPage(QWizardPage):
    def __init__(self, player: Player) -> None:
        super().__init__()
        self.setTitle("1. Data")
        self.setSubTitle("A folder of labelled clips: one folder per class, ESC-50 "
                         "(meta/esc50.csv + audio/), or a multi-label CSV with a filename "
                         "column and one 0/1 column per class. Or any folder of audio, "
                         "without labels: the interpreter learns from the classifier.")
        self.player = player
        self.summary: DataSummary | None = None
        self.runner = TaskRunner("scan", self, wait_for_previous=False)
        self.runner.finished.connect(self._scanned)
        self.runner.failed.connect(self._failed)
        self.runner.progress.connect(
            lambda r: self.status.setText(f"reading {r.done:.0f}/{r.total:.0f} files..."))

        self.folder = QLineEdit()
        self.folder.setPlaceholderText("data folder")
        # editingFinished also fires when the field loses focus (even as the wizard
        # closes): only a changed folder is read again
        self.folder.editingFinished.connect(lambda: self.set_folder(self.folder.text()))
        self._requested: str | None = None
        browse = QPushButton("Browse...")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        # the interpreter imitates the classifier: labels are optional (trainer/unlabelled.py)
        self.unlabelled = QCheckBox("No labels: every audio file in the folder is a clip, "
                                    "the classes are the classifier's")
        self.unlabelled.setObjectName("unlabelled")
        self.unlabelled.toggled.connect(lambda _on: self._rescan())
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.error = QLabel("")
        self.error.setObjectName("error")
        self.error.setStyleSheet("color: #b00020")
        self.error.setWordWrap(True)
        self.classes = QTableWidget(0, 2)
        self.classes.setHorizontalHeaderLabels(["class", "clips"])
        self.classes.horizontalHeader().setStretchLastSection(True)
        self.unreadable = QLabel("")
        self.unreadable.setWordWrap(True)
        self.test_fold = QComboBox()
        self.clip_seconds = QDoubleSpinBox()
        self.clip_seconds.setRange(0.5, 60.0)
        self.clip_seconds.setValue(5.0)
        self.clip_seconds.setSuffix(" s")
        form = QFormLayout()
        form.addRow("Held-out fold (evaluation)", self.test_fold)
        form.addRow("Clip length (cut or padded)", self.clip_seconds)
        self.examples = QHBoxLayout()
        lay = QVBoxLayout(self)
        lay.addLayout(row)
        lay.addWidget(self.unlabelled)
        lay.addWidget(self.status)
        lay.addWidget(self.error)
        lay.addWidget(self.classes, 1)
        lay.addWidget(self.unreadable)
        lay.addLayout(form)
        lay.addWidget(QLabel("Listen to a few clips:"))
        lay.addLayout(self.examples)

    # ---- the folder -------------------------------------------------------------
    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Data folder", self.folder.text())
        if folder:
            self.set_folder(folder)

    def _rescan(self) -> None:
        self._requested = None
        self.set_folder(self.folder.text())

    @property
    def labelled(self) -> bool:
        return not self.unlabelled.isChecked()

    def set_folder(self, folder: str | Path) -> None:
        folder = str(folder).strip()
        if folder == self._requested:
            return
        self._requested = folder
        self.folder.setText(folder)
        self.summary = None
        self.error.setText("")
        self.classes.setRowCount(0)
        self.unreadable.setText("")
        self._clear_examples()
        self.completeChanged.emit()
        if not folder:
            return
        self.status.setText("reading the folder...")
        self.runner.start(scan_data, Path(folder), None if self.labelled else UNLABELLED)

    def _failed(self, message: str) -> None:
        self.status.setText("")
        hint = " (or tick 'No labels')" if self.labelled else ""
        self.error.setText(f"This folder cannot be used: {message}{hint}")
        self.completeChanged.emit()

    def _scanned(self, s: DataSummary) -> None:
        if str(s.root) != self.folder.text().strip() or \
                (s.layout == UNLABELLED) == self.labelled:
            return  # an older scan, for a folder or a choice no longer made
        self.summary = s
        minutes = s.seconds / 60
        what = f"{len(s.classes)} classes, " if s.classes else "no labels: "
        self.status.setText(
            f"Layout: {s.layout}{' (multi-label)' if s.multilabel else ''} — "
            f"{what}{s.clips} clips, {minutes:.1f} min in total, "
            f"folds {', '.join(map(str, s.folds))}."
            + ("".join(f"\n{n}" for n in s.notes[:3])))
        self.classes.setRowCount(len(s.classes))
        for i, c in enumerate(s.classes):
            self.classes.setItem(i, 0, QTableWidgetItem(c))
            self.classes.setItem(i, 1, QTableWidgetItem(str(s.counts.get(c, 0))))
        if s.unreadable:
            shown = "; ".join(f"{n} ({why})" for n, why in s.unreadable[:5])
            more = f" and {len(s.unreadable) - 5} more" if len(s.unreadable) > 5 else ""
            self.unreadable.setText(f"{len(s.unreadable)} unreadable files will be skipped: "
                                    f"{shown}{more}")
        else:
            self.unreadable.setText("Every file is readable.")
        self.test_fold.clear()
        for f in s.folds:
            self.test_fold.addItem(f"fold {f}", f)
        self.test_fold.addItem("none (evaluate on the training clips)", None)
        self._clear_examples()
        for path in s.examples[:MAX_EXAMPLES]:
            b = QPushButton(f"▶ {path.parent.name if s.layout == 'folder' else path.stem}")
            b.setToolTip(str(path))
            b.clicked.connect(lambda _c=False, p=path: self.play(p))
            self.examples.addWidget(b)
        self.examples.addStretch(1)
        self.completeChanged.emit()

    def _clear_examples(self) -> None:
        while self.examples.count():
            item = self.examples.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()

    def play(self, path: Path) -> None:
        try:
            wave = load_audio(path, 44100)  # one short clip: a few milliseconds to decode
        except Exception as exc:  # unreadable: say so, do not crash
            self.error.setText(str(exc))
            return
        self.player.play(wave, 44100)

    # ---- QWizardPage --------------------------------------------------------------
    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        s = self.summary
        return s is not None and (len(s.classes) >= 2 if s.layout != UNLABELLED
                                  else s.clips >= 2)

    def chosen_test_fold(self) -> int | None:
        return self.test_fold.currentData()
