"""Predictions of the classifier and the interpreter, and the class to explain."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)


class PredictionsPanel(QWidget):
    target_changed = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["class", "classifier", "interpreter"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.combo = QComboBox()
        self.combo.activated.connect(lambda i: self.target_changed.emit(self.combo.itemData(i)))
        row = QHBoxLayout()
        row.addWidget(QLabel("Explain:"))
        row.addWidget(self.combo, 1)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("<b>Predictions</b>"))
        lay.addWidget(self.table, 1)
        lay.addLayout(row)

    def show_predictions(self, classes: list[str], p_clf: np.ndarray, p_int: np.ndarray,
                         target: int, multilabel: bool = False) -> None:
        """Classes by the classifier's probability; for multi-label bundles every class
        at or over 0.5 is marked active."""
        order = np.argsort(-p_clf, kind="stable")
        self.table.setRowCount(len(classes))
        self.combo.clear()
        for r, i in enumerate(order):
            name = f"● {classes[i]}" if multilabel and p_clf[i] >= 0.5 else classes[i]
            for c, text in enumerate([name, f"{p_clf[i]:.3f}", f"{p_int[i]:.3f}"]):
                item = QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
            self.combo.addItem(f"{classes[i]} ({p_clf[i]:.2f})", int(i))
        self.combo.setCurrentIndex(self.combo.findData(int(target)))
        self.table.resizeColumnsToContents()
