"""Predictions (with the class to explain) and the list of selected components."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
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
                         target: int) -> None:
        order = np.argsort(-p_clf, kind="stable")
        self.table.setRowCount(len(classes))
        self.combo.clear()
        for r, i in enumerate(order):
            for c, text in enumerate([classes[i], f"{p_clf[i]:.3f}", f"{p_int[i]:.3f}"]):
                item = QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
            self.combo.addItem(f"{classes[i]} ({p_clf[i]:.2f})", int(i))
        self.combo.setCurrentIndex(self.combo.findData(int(target)))
        self.table.resizeColumnsToContents()


def pattern_pixmap(column: np.ndarray, width: int = 60, height: int = 18) -> QPixmap:
    """A tiny picture of one spectral pattern: low frequencies left, energy as height."""
    bins = np.array_split(np.asarray(column, float), width)
    levels = np.array([b.max() for b in bins])
    levels = levels / max(levels.max(), 1e-12)
    img = QImage(width, height, QImage.Format.Format_ARGB32)
    img.fill(QColor("white"))
    painter = QPainter(img)
    painter.setPen(QColor("#1f4e79"))
    for x, v in enumerate(levels):
        painter.drawLine(x, height - 1, x, height - 1 - int(v * (height - 2)))
    painter.end()
    return QPixmap.fromImage(img)


class ComponentsPanel(QWidget):
    """Each selected component: index, relevance, pattern, mute, solo, play."""

    toggles_changed = Signal()
    play_component = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self.table = QTableWidget(0, 6)
        self.table.setHorizontalHeaderLabels(["#", "relevance", "pattern", "mute", "solo", ""])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("<b>Selected components</b>"))
        lay.addWidget(self.table)
        self.indices: list[int] = []
        self.mute_boxes: dict[int, QCheckBox] = {}
        self.solo_boxes: dict[int, QCheckBox] = {}

    def show_components(self, indices: list[int], relevance: np.ndarray, W: np.ndarray) -> None:
        self.indices = list(indices)
        self.mute_boxes, self.solo_boxes = {}, {}
        self.table.setRowCount(len(indices))
        for r, k in enumerate(indices):
            self.table.setItem(r, 0, QTableWidgetItem(str(k)))
            self.table.setItem(r, 1, QTableWidgetItem(f"{relevance[k]:.2f}"))
            pic = QLabel()
            pic.setPixmap(pattern_pixmap(W[:, k]))
            self.table.setCellWidget(r, 2, pic)
            for col, store in ((3, self.mute_boxes), (4, self.solo_boxes)):
                box = QCheckBox()
                box.toggled.connect(lambda _on: self.toggles_changed.emit())
                store[k] = box
                self.table.setCellWidget(r, col, box)
            play = QPushButton("▶")
            play.setObjectName(f"play_component_{k}")
            play.clicked.connect(lambda _c=False, k=k: self.play_component.emit(k))
            self.table.setCellWidget(r, 5, play)
        self.table.resizeColumnsToContents()

    def active(self) -> list[int]:
        """Components the interpretation plays: the soloed ones, else all but the muted."""
        solo = [k for k in self.indices if self.solo_boxes[k].isChecked()]
        if solo:
            return solo
        return [k for k in self.indices if not self.mute_boxes[k].isChecked()]
