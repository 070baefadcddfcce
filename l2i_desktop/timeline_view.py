"""The timeline of a long recording: class probabilities per window of the bundle's clip
length, the top class of each window marked and named; a click on a window explains that
window in the main views.

``timeline_controller.install_timeline(window)`` adds it above the main window's views
and feeds it.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.tools.timeline import (
    Timeline,
)
from l2i_desktop.time_axis import ClockAxis, clock

_CMAP = pg.colormap.get("viridis")


class TimelineView(QWidget):
    window_clicked = Signal(int)
    whole_clip = Signal()

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
        self.plot.getAxis("left").setWidth(110)
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
        self.plot.scene().sigMouseClicked.connect(self._on_click)
        self.plot.getViewBox().sigXRangeChanged.connect(lambda *_: self._label_runs())
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 0, 4, 0)
        lay.addLayout(head)
        lay.addWidget(self.plot, 1)
        self.setMinimumHeight(230)
        self.setMaximumHeight(300)

    def start(self, classes: list[str], duration_s: float, window_s: float, hop_s: float,
              estimated: int) -> None:
        """An empty timeline for a recording; windows arrive through ``add``."""
        c = len(classes)
        self.timeline = Timeline(np.zeros(0), window_s, hop_s, duration_s,
                                 np.zeros((0, c), np.float32), np.zeros((0, c), np.float32),
                                 list(classes))
        self.progress.setRange(0, max(1, estimated))
        self.progress.setValue(0)
        self.progress.show()
        self.chosen.hide()
        left = self.plot.getAxis("left")
        left.setTicks([[(i + 0.5, name) for i, name in enumerate(classes)]])
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

    def _label_runs(self) -> None:
        """The top class named above each run of windows that share it, where the name
        fits on screen (labels are dropped rather than drawn over each other)."""
        for item in self.labels:
            self.plot.removeItem(item)
        self.labels = []
        t = self.timeline
        if t is None or not len(t.starts):
            return
        top = np.argmax(self.probabilities(), axis=1)
        (lo, hi), width = self.plot.viewRange()[0], max(self.plot.width() - 130, 50)
        per_char = 7.0 * (hi - lo) / width  # seconds one character takes on screen
        edges = np.flatnonzero(np.diff(top)) + 1
        free_from = -np.inf
        for a, b in zip(np.r_[0, edges], np.r_[edges, len(top)]):
            name = t.classes[top[a]]
            x = (t.centres[a] + t.centres[b - 1]) / 2
            half = len(name) * per_char / 2
            if x - half < free_from or x + half < lo or x - half > hi:
                continue
            label = pg.TextItem(name, color="#222", anchor=(0.5, 0.0))
            label.setPos(x, len(t.classes) + 1.35)
            self.plot.addItem(label)
            self.labels.append(label)
            free_from = x + half + per_char

    def point_of(self, seconds: float) -> QPoint:
        """The pixel of the plot's viewport at a time, half-way up the classes."""
        vb = self.plot.getViewBox()
        rows = len(self.timeline.classes) if self.timeline is not None else 1
        return self.plot.mapFromScene(vb.mapViewToScene(QPointF(seconds, rows / 2)))

    def _on_click(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self.timeline is None \
                or not len(self.timeline.starts):
            return
        vb = self.plot.getViewBox()
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        seconds = vb.mapSceneToView(event.scenePos()).x()
        self.window_clicked.emit(self.timeline.index_at(seconds))
