"""What the analysis window shows before any clip: the ways to start, in one place."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from resources import examples


class WelcomePanel(QWidget):
    """Open, record, or try one of the shipped examples; a dropped file works too."""

    open_requested = Signal()
    record_requested = Signal()
    example_chosen = Signal(Path)

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("welcome")
        title = QLabel("<h2>Hear why the classifier decided</h2>")
        self.model_label = QLabel("")
        self.model_label.setObjectName("welcome_model")
        self.model_label.setWordWrap(True)
        # moving while the model loads (l2i_desktop/loading.py): the window is alive
        self.busy = QProgressBar()
        self.busy.setObjectName("welcome_busy")
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setFixedWidth(240)
        self.busy.hide()
        intro = QLabel(
            "Open a sound: L2I Desktop shows what the classifier predicts, which of the "
            "model's dictionary components drove that decision, and lets you listen to "
            "them (the <i>interpretation</i>) and to everything else (the <i>residual</i>).")
        intro.setWordWrap(True)
        open_button = QPushButton("Open a clip...")
        open_button.setObjectName("welcome_open")
        open_button.clicked.connect(self.open_requested)
        self.record_button = record_button = QPushButton("Record from a microphone...")
        record_button.setObjectName("welcome_record")
        record_button.clicked.connect(self.record_requested)
        drop = QLabel("or drop an audio file (WAV, FLAC, OGG, MP3) anywhere on this window")
        drop.setStyleSheet("color: #555")
        shipped = examples()
        ex_title = QLabel(f"<b>Or try an example</b>: {len(shipped)} ESC-10 clips the "
                          "shipped model never trained on (one may fool it)")
        ex_title.setWordWrap(True)
        grid = QGridLayout()
        self.example_buttons: dict[str, QPushButton] = {}
        for i, (label, path) in enumerate(shipped):
            b = QPushButton(label)
            b.setObjectName(f"example_{path.stem}")
            b.setToolTip(str(path))
            b.clicked.connect(lambda _c=False, p=path: self.example_chosen.emit(p))
            grid.addWidget(b, i // 5, i % 5)
            self.example_buttons[label] = b

        column = QVBoxLayout()
        for w in (title, self.model_label, self.busy, intro, open_button, record_button,
                  drop):
            column.addWidget(w)
        column.addSpacing(12)
        column.addWidget(ex_title)
        column.addLayout(grid)
        box = QWidget()
        box.setLayout(column)
        box.setMaximumWidth(900)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(box, 0, Qt.AlignmentFlag.AlignHCenter)
        outer.addStretch(2)

    def set_model(self, text: str, loading: bool = False) -> None:
        """``loading``: the bar under the text moves until the model is ready."""
        self.model_label.setText(text)
        self.busy.setVisible(loading)
