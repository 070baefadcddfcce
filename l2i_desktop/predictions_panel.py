"""Predictions of the classifier and the interpreter, the class to explain, and a note
when the decision itself looks shaky."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from l2i_desktop import theme

UNSURE = 0.5  # a top class under this probability: the classifier itself is unsure
HEADER_TIPS = (
    "The classes the model tells apart, most probable first",
    "The classifier's probability for each class: the decision being explained",
    "The interpreter's own prediction (Theta), made from the component activations "
    "alone. It is trained to agree with the classifier's decision, not to copy its "
    "confidence, so its probabilities are flatter; what matters is that its top class "
    "is the classifier's.")


def _explained_brush() -> QBrush:
    return QBrush(QColor(theme.shown().explained))  # read now: the scheme may have changed


def agreement_note(classes: list[str], p_clf: np.ndarray, p_int: np.ndarray,
                   multilabel: bool) -> str:
    """Why the explanation may be unreliable here, or '' when nothing says so."""
    top, top_int = int(np.argmax(p_clf)), int(np.argmax(p_int))
    notes = []
    if top_int != top:
        notes.append(f"The interpreter hears {classes[top_int]} where the classifier hears "
                     f"{classes[top]}.")
    if not multilabel and float(p_clf[top]) < UNSURE:
        notes.append(f"The classifier is unsure: its top class has {p_clf[top]:.2f}.")
    if not notes:
        return ""
    return " ".join(notes) + " The explanation may be unreliable here."


class PredictionsPanel(QWidget):
    target_changed = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["class", "classifier", "interpreter"])
        for c, tip in enumerate(HEADER_TIPS):
            self.table.horizontalHeaderItem(c).setToolTip(tip)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.combo = QComboBox()
        self.combo.setToolTip("The class whose evidence the explanation shows and plays; "
                              "the classifier's top class for a new clip")
        self.combo.activated.connect(lambda i: self.target_changed.emit(self.combo.itemData(i)))
        self.note = QLabel("")
        self.note.setObjectName("agreement_note")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #8a5300")
        self.note.hide()
        row = QHBoxLayout()
        row.addWidget(QLabel("Explain:"))
        row.addWidget(self.combo, 1)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("<b>Predictions</b>"))
        lay.addWidget(self.table, 1)
        lay.addWidget(self.note)
        lay.addLayout(row)
        self.explained_row: int | None = None

    def show_predictions(self, classes: list[str], p_clf: np.ndarray, p_int: np.ndarray,
                         target: int, multilabel: bool = False) -> None:
        """Classes by the classifier's probability, the explained one highlighted; for
        multi-label bundles every class at or over 0.5 is marked active."""
        order = np.argsort(-p_clf, kind="stable")
        self.table.setRowCount(len(classes))
        self.combo.clear()
        bold = QFont(self.table.font())
        bold.setBold(True)
        for r, i in enumerate(order):
            name = f"● {classes[i]}" if multilabel and p_clf[i] >= 0.5 else classes[i]
            explained = int(i) == int(target)
            for c, text in enumerate([name, f"{p_clf[i]:.3f}", f"{p_int[i]:.3f}"]):
                item = QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                if explained:
                    item.setFont(bold)
                    item.setBackground(_explained_brush())
                    item.setToolTip("the class being explained")
                self.table.setItem(r, c, item)
            if explained:
                self.explained_row = r
            self.combo.addItem(f"{classes[i]} ({p_clf[i]:.2f})", int(i))
        self.combo.setCurrentIndex(self.combo.findData(int(target)))
        self.table.resizeColumnsToContents()
        note = agreement_note(classes, p_clf, p_int, multilabel)
        self.note.setText(note)
        self.note.setVisible(bool(note))

    def restyle(self) -> None:
        """The explained row in the scheme's colour (after a change of scheme)."""
        if self.explained_row is None or self.explained_row >= self.table.rowCount():
            return
        for c in range(self.table.columnCount()):
            item = self.table.item(self.explained_row, c)
            if item is not None:
                item.setBackground(_explained_brush())
