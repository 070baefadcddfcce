"""The classifier page's Hugging Face choice: a local folder written by ``save_pretrained``
(the command line's ``--model hf:FOLDER``). Its classes, sample rate and feature
extractor come from its JSON files, read at once (small files, no transformers import);
it carries no code, so no trust is asked."""

from __future__ import annotations

import html
import importlib.util
import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from engine.models.hf_classifier import INSTALL, FolderInfo, folder_info
from engine.runtime.errors import L2IError

log = logging.getLogger(__name__)
SHOWN_CLASSES = 8  # more would crowd the page: the count says the rest


def transformers_missing() -> bool:
    return importlib.util.find_spec("transformers") is None


class HFBox(QGroupBox):
    """Pick a folder; says what the model is, or the one line that stops it."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Hugging Face model (a local save_pretrained folder)", parent)
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("folder with config.json, model.safetensors, "
                                       "preprocessor_config.json")
        browse = QPushButton("Browse...")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        self.about = QLabel("")
        self.about.setObjectName("hf_about")
        self.about.setWordWrap(True)
        self.about.setTextFormat(Qt.TextFormat.RichText)
        note = QLabel("Its classes, sample rate and feature extractor come from the folder; "
                      "it carries no code. Nothing is downloaded: fetch a hub model first "
                      "(huggingface-cli download NAME --local-dir FOLDER).")
        note.setWordWrap(True)
        f = QFormLayout(self)
        f.addRow("Folder", row)
        f.addRow(note)
        f.addRow(self.about)
        self.info: FolderInfo | None = None
        self.problem: str | None = None
        self.folder.textChanged.connect(lambda _t: self.refresh())

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Hugging Face model folder",
                                                self.folder.text())
        if path:
            self.folder.setText(path)

    def refresh(self) -> None:
        """Read the folder again (and whether transformers is there to run it)."""
        self.info, self.problem = None, None
        path = self.folder.text().strip()
        if transformers_missing():
            self.problem = INSTALL
        elif not path:
            self.problem = "choose the model's folder"
        else:
            try:
                self.info = folder_info(path)
            except L2IError as exc:
                log.info("not a usable Hugging Face folder: %s", exc)
                self.problem = str(exc)
        said = html.escape(self.problem or "", quote=False)
        self.about.setText(self._describe() if self.info else
                           f"<span style='color:#b00020'>{said}</span>"
                           if path or transformers_missing() else "")
        self.changed.emit()

    def _describe(self) -> str:
        i = self.info
        names = ", ".join(i.classes[:SHOWN_CLASSES]) + (", ..." if len(i.classes) >
                                                        SHOWN_CLASSES else "")
        return html.escape(f"{i.model_type} model, {len(i.classes)} classes from its "
                           f"id2label: {names}. Reads the waveform at {i.rate} Hz through "
                           f"its {i.extractor}.")

    def chosen(self) -> tuple[str, FolderInfo]:
        """The folder and what it holds (raises L2IError with what stops it)."""
        if self.info is None:
            raise L2IError(self.problem or "choose the model's folder")
        return self.folder.text().strip(), self.info
