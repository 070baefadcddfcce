"""Relevance of all K components for the explained class, sorted, with a draggable tau."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal


class RelevanceView(pg.PlotWidget):
    tau_changed = Signal(float)

    def __init__(self) -> None:
        super().__init__(background="w")
        self.setMenuEnabled(False)
        self.setTitle("Relevance (sorted); drag the line to change tau")
        self.setLabel("left", "relevance")
        self.setLabel("bottom", "components, most relevant first")
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.8)
        self.addItem(self.bars)
        self.tau_line = pg.InfiniteLine(0.1, angle=0, movable=True,
                                        pen=pg.mkPen("#d62728", width=2),
                                        bounds=(0.0, 0.99), label="tau={value:.2f}",
                                        labelOpts={"position": 0.95, "color": "#d62728"})
        self.addItem(self.tau_line)
        self.tau_line.sigPositionChangeFinished.connect(
            lambda line: self.tau_changed.emit(round(float(line.value()), 2)))
        self.order = np.zeros(0, int)

    def show_relevance(self, relevance: np.ndarray, tau: float) -> None:
        self.order = np.argsort(-relevance, kind="stable")
        heights = relevance[self.order]
        brushes = [pg.mkBrush("#1f77b4" if h > tau else "#c7c7c7") for h in heights]
        self.bars.setOpts(x=np.arange(len(heights)), height=heights, brushes=brushes)
        self.tau_line.setValue(tau)
        self.setYRange(min(0.0, float(heights.min(initial=0))), 1.05, padding=0)
