"""The list of selected components (relevance, pattern, mute, solo, play) and the
spectral pattern of the component in focus."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from l2i_desktop import theme

HEADER_TIPS = ("The component's number (its row of H)",
               "Relevance to the explained class, normalised to the largest; negative "
               "means evidence against the class",
               "Its spectral pattern, low frequencies left (click the row for a larger one)",
               "Mute: leave it out of the interpretation",
               "Solo: play only the soloed components",
               "Play this component alone")


def pattern_icon(mask: QImage, t: theme.Theme) -> QIcon:
    """A pattern's ``mask`` (jobs.pattern_image) as the table shows it: the waveform's
    colour on the table's, so it reads in either scheme."""
    bars = mask.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
    painter = QPainter(bars)
    painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceIn)
    painter.fillRect(bars.rect(), QColor(t.wave))
    painter.end()
    icon = QImage(bars.size(), QImage.Format.Format_ARGB32_Premultiplied)
    icon.fill(QColor(t.base))
    painter = QPainter(icon)
    painter.drawImage(0, 0, bars)
    painter.end()
    return QIcon(QPixmap.fromImage(icon))


class ComponentsPanel(QWidget):
    """Each selected component: index, relevance, pattern, mute, solo, play.

    Plain table items (check states and icons), no widgets per cell: a hundred rows
    build in a few milliseconds, so a change of tau never stalls the window.
    """

    toggled = Signal(int, str, bool)  # component, "muted" or "soloed", on: the user's click
    play_component = Signal(int)
    focus_requested = Signal(int)  # a row clicked: look at its component
    MUTE, SOLO, PLAY = 3, 4, 5

    def __init__(self) -> None:
        super().__init__()
        self.table = QTableWidget(0, 6)
        self.table.setHorizontalHeaderLabels(["#", "relevance", "pattern", "mute", "solo", ""])
        self.table.verticalHeader().hide()
        for column, tip in enumerate(HEADER_TIPS):
            self.table.horizontalHeaderItem(column).setToolTip(tip)
        self.table.setToolTip("The components above tau, most relevant first: click a row "
                              "to look at that component in every view")
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        # as wide as its columns, the pattern plot takes the rest
        self.table.setSizeAdjustPolicy(QTableWidget.SizeAdjustPolicy.AdjustToContents)
        self.table.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setIconSize(QSize(60, 18))
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.cellClicked.connect(self._on_cell_clicked)
        self.pattern = PatternPlot()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        title = QLabel("<b>Selected components</b>")
        title.setToolTip(self.table.toolTip())
        lay.addWidget(title)
        # side by side: the table is narrow, and short windows leave little height
        row = QHBoxLayout()
        row.addWidget(self.table)
        row.addWidget(self.pattern, 1)
        lay.addLayout(row, 1)
        self.focused: int | None = None  # shown, as the session says (show_focus)
        self.indices: list[int] = []
        self._icons: dict[int, QIcon] = {}
        self._patterns: list[QImage] = []
        self._filling = False

    def set_patterns(self, images: list[QImage]) -> None:
        """Masks of every component's spectral pattern (from the bundle job)."""
        self._patterns = images
        self._icons.clear()

    def restyle(self) -> None:
        """The pattern thumbnails again, in the scheme shown now (theme.shown)."""
        self._icons.clear()
        for r, k in enumerate(self.indices):
            item = self.table.item(r, 2)
            if item is not None and k < len(self._patterns):
                item.setIcon(self._icon(k))

    def _icon(self, k: int) -> QIcon:
        if k not in self._icons:
            self._icons[k] = pattern_icon(self._patterns[k], theme.shown())
        return self._icons[k]

    def show_components(self, indices: list[int], relevance: np.ndarray) -> None:
        self._filling = True
        self.indices = list(indices)
        self.table.setRowCount(len(indices))
        for r, k in enumerate(indices):
            pattern = QTableWidgetItem()
            if k < len(self._patterns):
                pattern.setIcon(self._icon(k))
            cells = [QTableWidgetItem(str(k)), QTableWidgetItem(f"{relevance[k]:.2f}"),
                     pattern, self._check_item(), self._check_item(), QTableWidgetItem("▶")]
            for c, item in enumerate(cells):
                item.setToolTip(HEADER_TIPS[c])
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        self._select_row()
        self._filling = False

    def show_focus(self, k: int | None, freqs: np.ndarray | None = None,
                   pattern: np.ndarray | None = None) -> None:
        """Select the row of component ``k`` (if it is selected) and draw its spectral
        ``pattern`` over ``freqs`` in Hz (None: no component in focus)."""
        self.focused = k
        self._select_row()
        self.pattern.show_pattern(k, freqs, pattern)

    def _select_row(self) -> None:
        if self.focused in self.indices:
            row = self.indices.index(self.focused)
            self.table.selectRow(row)
            self.table.scrollToItem(self.table.item(row, 0))
        else:
            self.table.clearSelection()

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
        if not 0 <= row < len(self.indices):
            return
        self.focus_requested.emit(self.indices[row])
        if column == self.PLAY:
            self.play_component.emit(self.indices[row])


class PatternPlot(QWidget):
    """The focused component's spectral pattern W[:, k] over frequency in Hz. The title
    is a label that wraps, not the plot's own: that one would set a minimum width."""

    EMPTY = "Spectral pattern: click a relevance bar or a row to see one"
    TIP = ("The spectral pattern of the component in focus: the frequencies it holds. "
           "Row k of H (the activations) says when it sounds.")

    def __init__(self) -> None:
        super().__init__()
        self.title = QLabel(self.EMPTY)
        self.title.setWordWrap(True)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setMouseEnabled(False, False)  # a picture to read, not to navigate
        self.plot.setLabel("bottom", "frequency", units="Hz")
        self.plot.hideAxis("left")  # the pattern's scale means nothing on its own
        self.curve = self.plot.plot(pen=pg.mkPen("#1f4e79", width=1.5), fillLevel=0,
                                    brush=pg.mkBrush(31, 78, 121, 70))
        for widget in (self, self.title, self.plot):
            widget.setToolTip(self.TIP)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.title)
        lay.addWidget(self.plot, 1)
        self.setMinimumSize(160, 110)
        self.shown: int | None = None

    def restyle(self) -> None:
        """The curve in the theme's waveform colour (theme.apply_window calls it)."""
        t = theme.shown()
        fill = QColor(t.wave)
        fill.setAlpha(70)
        self.curve.setPen(pg.mkPen(t.wave, width=1.5))
        self.curve.setBrush(pg.mkBrush(fill))

    def axis(self) -> pg.AxisItem:
        return self.plot.getAxis("bottom")

    def show_pattern(self, k: int | None, freqs: np.ndarray | None,
                     pattern: np.ndarray | None) -> None:
        self.shown = k if pattern is not None else None
        if self.shown is None:
            self.curve.setData([], [])
            self.title.setText(self.EMPTY)
            return
        self.curve.setData(np.asarray(freqs, float), np.asarray(pattern, float))
        top = float(np.max(pattern, initial=0.0)) or 1.0
        self.plot.setXRange(0, float(freqs[-1]), padding=0)
        self.plot.setYRange(0, top * 1.05, padding=0)
        self.title.setText(f"<b>component {k}</b>: spectral pattern")
