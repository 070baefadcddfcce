"""The timeline of a long recording: class probabilities per window of the bundle's clip
length, the top class of each window marked and named; a click on a cell explains that
window in the main views for that cell's class (above the rows: for its top class), and
hovering a cell says its time, class and probability.

``timeline_controller.install(host)`` adds it above the window's views and feeds it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, QSize, Qt, Signal
from PySide6.QtGui import QCursor, QFont, QFontMetrics
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from l2i_desktop.time_axis import ClockAxis, clock

if TYPE_CHECKING:  # torch is first imported on the worker, with the model (jobs.py)
    from engine.tools.timeline import Timeline

_CMAP = pg.colormap.get("viridis")
ROW_LABEL_PX = (60, 200)  # the least and most room for the class names left of the rows
AXIS_PAD_PX = 9  # the axis's gap between text and rows (5 in pyqtgraph), and a margin
LABEL_MIN_CHARS = 3  # a run label shorter than "Ab…" says nothing: it is dropped
MIN_HEIGHT_PX = 170
LABEL_PAD_PX = 10  # a text item's document margins (4 px a side) and 2 px between labels


def elide(text: str, metrics: QFontMetrics, width: float) -> str:
    """``text`` as it fits in ``width`` pixels: whole, cut with an ellipsis, or ""."""
    fitted = metrics.elidedText(text, Qt.TextElideMode.ElideRight, int(width))
    return fitted if len(fitted.rstrip("…")) >= min(LABEL_MIN_CHARS, len(text)) else ""


class TimelineView(QWidget):
    window_clicked = Signal(int, object)  # window index, row (class) clicked or None
    whole_clip = Signal()
    hovered = Signal(str)  # what is under the mouse, for the status bar

    def __init__(self) -> None:
        super().__init__()
        self.timeline: Timeline | None = None
        self.title = QLabel("<b>Timeline</b>")
        self.source = QComboBox()
        for name in ("classifier", "interpreter"):
            self.source.addItem(name, name)
        self.source.currentIndexChanged.connect(lambda _i: self._draw())
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        self.whole = QPushButton("Whole clip")
        self.whole.setToolTip("Show the whole recording in the views again")
        self.whole.clicked.connect(self.whole_clip.emit)
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        for w in (self.progress, QLabel("probabilities of the"), self.source, self.whole):
            head.addWidget(w)
        self.plot = pg.PlotWidget(background="w", axisItems={"bottom": ClockAxis("bottom")})
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setMouseEnabled(x=True, y=False)
        self.plot.getAxis("left").setStyle(tickFont=QFont(self.font()))
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(_CMAP)
        self.plot.addItem(self.image)
        self.bar = pg.ColorBarItem(values=(0, 1), colorMap=_CMAP, interactive=False,
                                   label="probability", width=12)
        self.bar.setImageItem(self.image, insert_in=self.plot.getPlotItem())
        self.tops = pg.ScatterPlotItem(size=6, brush=pg.mkBrush("w"), pen=pg.mkPen("k"))
        self.plot.addItem(self.tops)
        self.chosen = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(255, 80, 80, 60),
                                          pen=pg.mkPen("#d62728", width=2))
        self.chosen.hide()
        self.plot.addItem(self.chosen)
        self.labels: list[pg.TextItem] = []
        self.label_space: list[float] = []  # the pixels each run label was given
        self.row_names: list[str] = []  # the class names as the left axis shows them
        self.plot.scene().sigMouseClicked.connect(self._on_click)
        self.plot.scene().sigMouseMoved.connect(self._on_mouse)
        self.plot.getViewBox().sigXRangeChanged.connect(lambda *_: self._label_runs())
        self.plot.getViewBox().sigResized.connect(lambda *_: self._label_runs())
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 0, 4, 0)
        lay.addLayout(head)
        lay.addWidget(self.plot, 1)
        # as tall as ten rows of names need where there is room; less in a short window,
        # whose views would otherwise be squashed under it
        self.setMinimumHeight(MIN_HEIGHT_PX)
        self.setMaximumHeight(300)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(super().sizeHint().width(), 200)

    def start(self, classes: list[str], duration_s: float, window_s: float, hop_s: float,
              estimated: int) -> None:
        """An empty timeline for a recording; windows arrive through ``add``."""
        from engine.tools.timeline import Timeline  # a model is loaded: torch is too

        c = len(classes)
        self.timeline = Timeline(np.zeros(0), window_s, hop_s, duration_s,
                                 np.zeros((0, c), np.float32), np.zeros((0, c), np.float32),
                                 list(classes))
        self.progress.setRange(0, max(1, estimated))
        self.progress.setValue(0)
        self.progress.show()
        self.chosen.hide()
        self._label_rows(classes)
        self.plot.setXRange(0, duration_s, padding=0.005)
        self.plot.setYRange(0, c + 1.4, padding=0)
        self.plot.getViewBox().setLimits(xMin=0, xMax=duration_s, yMin=0, yMax=c + 1.4)
        self._draw()

    def add(self, starts: np.ndarray, clf: np.ndarray, interp: np.ndarray,
            estimated: int) -> None:
        t = self.timeline
        t.starts = np.concatenate([t.starts, starts])
        t.classifier = np.concatenate([t.classifier, clf])
        t.interpreter = np.concatenate([t.interpreter, interp])
        self.progress.setRange(0, max(estimated, len(t.starts)))
        self.progress.setValue(len(t.starts))
        self._draw()

    def stopped(self) -> None:  # cancelled: what was computed stays
        self.progress.hide()
        self.title.setText(self.title.text() + " (stopped)")

    def finish(self, duration_s: float) -> None:
        self.timeline.duration_s = duration_s
        self.progress.hide()
        self._draw()

    def highlight(self, index: int | None) -> None:
        """Mark the window shown in the views (None: the whole clip is shown)."""
        if index is None or self.timeline is None:
            self.chosen.hide()
            return
        t = self.timeline  # the window may be shown before the timeline reaches it
        start = float(t.starts[index]) if index < len(t.starts) else index * t.hop_s
        self.chosen.setRegion((start, start + self.timeline.window_s))
        self.chosen.show()

    def probabilities(self) -> np.ndarray:
        t = self.timeline
        return t.classifier if self.source.currentData() == "classifier" else t.interpreter

    def _draw(self) -> None:
        t = self.timeline
        if t is None:
            return
        n = len(t.starts)
        self.title.setText(f"<b>Timeline</b>: {n} windows of {t.window_s:g} s, hop "
                           f"{t.hop_s:g} s, over {clock(t.duration_s)}")
        if not n:
            self.image.clear()
            self.tops.clear()
            self._label_runs()
            return
        p = self.probabilities()
        # column i is centred on window i's centre, one hop wide
        self.image.setImage(p.T, levels=(0, 1), autoLevels=False)
        x0 = t.window_s / 2 - t.hop_s / 2
        self.image.setRect(x0, 0, n * t.hop_s, p.shape[1])
        self.tops.setData(t.centres, np.argmax(p, axis=1) + 0.5)
        self._label_runs()

    def _label_rows(self, classes: list[str]) -> None:
        """Class names left of their rows: the axis as wide as the longest needs, up to
        ROW_LABEL_PX[1]; a longer name is elided (its full name is in the hover text)."""
        left = self.plot.getAxis("left")
        metrics = QFontMetrics(left.style["tickFont"])
        widest = max((metrics.horizontalAdvance(n) for n in classes), default=0)
        # +1: elidedText measures in fractions of a pixel, and cut a name exactly as wide
        room = min(max(widest + 1, ROW_LABEL_PX[0]), ROW_LABEL_PX[1])
        self.row_names = [metrics.elidedText(n, Qt.TextElideMode.ElideRight, room)
                          for n in classes]
        left.setWidth(room + AXIS_PAD_PX)
        left.setTicks([[(i + 0.5, name) for i, name in enumerate(self.row_names)]])

    def _label_runs(self) -> None:
        """The top class named above each run of windows that share it, inside the part
        of the run on screen: elided where it is too long ("Person sn…"), dropped where
        not even that fits. Never cut by the plot's edges, never over each other."""
        for item in self.labels:
            self.plot.removeItem(item)
        self.labels, self.label_space = [], []
        t = self.timeline
        if t is None or not len(t.starts):
            return
        top = np.argmax(self.probabilities(), axis=1)
        vb = self.plot.getViewBox()
        (lo, hi), width = vb.viewRange()[0], vb.width()
        if hi <= lo or width <= 0:
            return
        px = width / (hi - lo)  # pixels per second
        font = QFont(self.font())
        metrics = QFontMetrics(font)
        edges = np.flatnonzero(np.diff(top)) + 1
        for a, b in zip(np.r_[0, edges], np.r_[edges, len(top)]):
            # the run's cells: from the left edge of its first to the right of its last
            x0 = max(t.centres[a] - t.hop_s / 2, lo)
            x1 = min(t.centres[b - 1] + t.hop_s / 2, hi)
            space = (x1 - x0) * px - LABEL_PAD_PX
            name = elide(t.classes[top[a]], metrics, space) if space > 0 else ""
            if not name:
                continue
            label = pg.TextItem(name, color="#222", anchor=(0.5, 0.0))
            label.setFont(font)
            label.setPos((x0 + x1) / 2, len(t.classes) + 1.35)
            self.plot.addItem(label)
            self.labels.append(label)
            self.label_space.append(space)

    def cell_at(self, x: float, y: float) -> tuple[int, int | None] | None:
        """The window drawn at time ``x`` and the class of the row at ``y`` (None above
        the rows, where the top classes are named); None where no window is drawn."""
        t = self.timeline
        if t is None or not len(t.starts):
            return None
        first, last = t.centres[0] - t.hop_s / 2, t.centres[-1] + t.hop_s / 2
        if not first <= x <= last or y < 0:
            return None
        row = int(y) if y < len(t.classes) else None
        return t.index_at(x), row

    def describe(self, index: int, row: int | None) -> str:
        """A cell in words: the window's time in the recording, the class, how likely."""
        t = self.timeline
        p, source = self.probabilities()[index], self.source.currentData()
        start = float(t.starts[index])
        where = f"{clock(start)}–{clock(start + t.window_s)}"
        top = int(np.argmax(p))
        if row is None or row == top:
            return f"{where}   {t.classes[top]} {p[top]:.3f} (the {source}'s top class)"
        return (f"{where}   {t.classes[row]} {p[row]:.3f} ({source}; top: "
                f"{t.classes[top]} {p[top]:.3f})")

    def point_of(self, seconds: float, row: int | float | None = None) -> QPoint:
        """The pixel of the plot's viewport at a time, in the middle of a class's row
        (default: half-way up the classes; ``row=-1``: above them, on the run labels)."""
        vb = self.plot.getViewBox()
        rows = len(self.timeline.classes) if self.timeline is not None else 1
        y = rows / 2 if row is None else rows + 0.7 if row == -1 else row + 0.5
        return self.plot.mapFromScene(vb.mapViewToScene(QPointF(seconds, y)))

    def _view_point(self, scene_pos) -> QPointF | None:
        vb = self.plot.getViewBox()
        if not vb.sceneBoundingRect().contains(scene_pos):
            return None
        return vb.mapSceneToView(scene_pos)

    def _on_mouse(self, scene_pos) -> None:
        at = self._view_point(scene_pos)
        cell = self.cell_at(at.x(), at.y()) if at is not None else None
        if cell is None:
            QToolTip.hideText()
            return
        text = self.describe(*cell)
        QToolTip.showText(QCursor.pos(), text, self.plot)
        self.hovered.emit(text)

    def _on_click(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self.timeline is None \
                or not len(self.timeline.starts):
            return
        at = self._view_point(event.scenePos())
        if at is None:
            return
        row = int(at.y()) if 0 <= at.y() < len(self.timeline.classes) else None
        self.window_clicked.emit(self.timeline.index_at(at.x()), row)
