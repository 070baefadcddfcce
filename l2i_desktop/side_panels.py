"""The list of selected components: relevance, pattern, mute, solo, play."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)


class ComponentsPanel(QWidget):
    """Each selected component: index, relevance, pattern, mute, solo, play.

    Plain table items (check states and icons), no widgets per cell: a hundred rows
    build in a few milliseconds, so a change of tau never stalls the window.
    """

    toggled = Signal(int, str, bool)  # component, "muted" or "soloed", on: the user's click
    play_component = Signal(int)
    MUTE, SOLO, PLAY = 3, 4, 5

    def __init__(self) -> None:
        super().__init__()
        self.table = QTableWidget(0, 6)
        self.table.setHorizontalHeaderLabels(["#", "relevance", "pattern", "mute", "solo", ""])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setIconSize(QSize(60, 18))
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.cellClicked.connect(self._on_cell_clicked)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("<b>Selected components</b>"))
        lay.addWidget(self.table)
        self.indices: list[int] = []
        self._icons: dict[int, QIcon] = {}
        self._patterns: list[QImage] = []
        self._filling = False

    def set_patterns(self, images: list[QImage]) -> None:
        """Pictures of every component's spectral pattern (from the bundle job)."""
        self._patterns = images
        self._icons.clear()

    def show_components(self, indices: list[int], relevance: np.ndarray) -> None:
        self._filling = True
        self.indices = list(indices)
        self.table.setRowCount(len(indices))
        for r, k in enumerate(indices):
            if k not in self._icons and k < len(self._patterns):
                self._icons[k] = QIcon(QPixmap.fromImage(self._patterns[k]))
            pattern = QTableWidgetItem()
            if k in self._icons:
                pattern.setIcon(self._icons[k])
            cells = [QTableWidgetItem(str(k)), QTableWidgetItem(f"{relevance[k]:.2f}"),
                     pattern, self._check_item(), self._check_item(), QTableWidgetItem("▶")]
            for c, item in enumerate(cells):
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        self._filling = False

    @staticmethod
    def _check_item() -> QTableWidgetItem:
        item = QTableWidgetItem()
        item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
        item.setCheckState(Qt.CheckState.Unchecked)
        return item

    def show_toggles(self, muted: frozenset[int], soloed: frozenset[int]) -> None:
        """Check the boxes the session says are on (no ``toggled``: not a click)."""
        self._filling = True
        for r, k in enumerate(self.indices):
            for column, on in ((self.MUTE, k in muted), (self.SOLO, k in soloed)):
                item = self.table.item(r, column)
                if item is not None:
                    item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        self._filling = False

    def set_checked(self, k: int, column: int, on: bool) -> None:
        """As a click on the mute or solo box of component ``k``."""
        row = self.indices.index(k)
        self.table.item(row, column).setCheckState(Qt.CheckState.Checked if on
                                                   else Qt.CheckState.Unchecked)

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if not self._filling and item.column() in (self.MUTE, self.SOLO) \
                and 0 <= item.row() < len(self.indices):
            kind = "muted" if item.column() == self.MUTE else "soloed"
            self.toggled.emit(self.indices[item.row()], kind,
                              item.checkState() == Qt.CheckState.Checked)

    def _on_cell_clicked(self, row: int, column: int) -> None:
        if column == self.PLAY and 0 <= row < len(self.indices):
            self.play_component.emit(self.indices[row])
