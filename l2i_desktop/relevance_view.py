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
        # two items with one brush each: cheaper to draw than a brush per bar
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush="#1f77b4", pen=None)
        self.rest = pg.BarGraphItem(x=[], height=[], width=0.8, brush="#c7c7c7", pen=None)
        self.addItem(self.rest)
        self.addItem(self.bars)
        self.disableAutoRange()
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
        x = np.arange(len(heights))
        chosen = heights > tau
        self.bars.setOpts(x=x[chosen], height=heights[chosen])
        self.rest.setOpts(x=x[~chosen], height=heights[~chosen])
        self.heights = heights
        self.tau_line.setValue(tau)
        self.setXRange(-0.5, len(heights) - 0.5, padding=0.01)
        self.setYRange(min(0.0, float(heights.min(initial=0))), 1.05, padding=0)
