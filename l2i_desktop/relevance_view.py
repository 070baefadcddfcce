"""Relevance of all K components for the explained class, sorted, with a draggable tau.

The plot never pans or zooms: every press is ours. A press within ``GRAB_PX`` pixels of
the tau line drags it (a 2-pixel line is hard to hit); any other click looks at the
component whose bar (or column) it lands on, or at none if it is that one already.
+/- and Up/Down step tau by 0.01.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QToolTip

GRAB_PX = 8  # how far from the tau line a press still grabs it
CLICK_PX = 4  # a press that moves further is a drag, not a click
TAU_RANGE = (0.0, 0.99)  # as the tau slider
STEP = 0.01
TIP = ("Relevance of each component to the explained class, sorted: normalised to the "
       "largest; negative means evidence against the class. Components above tau (blue) "
       "make the interpretation.\nDrag the red line, or press +/- or Up/Down here, to "
       "change tau; click a bar to look at that component (again: at none).")
LINE_PEN, HOVER_PEN = pg.mkPen("#d62728", width=2), pg.mkPen("#d62728", width=4)


class RelevanceView(pg.PlotWidget):
    tau_changed = Signal(float)
    component_clicked = Signal(object)  # k, or None (the focused bar clicked again)
    hovered = Signal(str)  # what the bar under the mouse is, for the status line

    def __init__(self) -> None:
        super().__init__(background="w")
        self.setMenuEnabled(False)
        self.hideButtons()  # no auto-range button: the ranges are fixed
        self.setMouseEnabled(False, False)
        self.setTitle("Relevance (sorted); drag the line to change tau")
        self.setLabel("left", "relevance")
        self.setLabel("bottom", "components, most relevant first")
        self.setToolTip(TIP)
        self.viewport().setMouseTracking(True)
        # two items with one brush each: cheaper to draw than a brush per bar
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush="#1f77b4", pen=None)
        self.rest = pg.BarGraphItem(x=[], height=[], width=0.8, brush="#c7c7c7", pen=None)
        self.focus_bar = pg.BarGraphItem(x=[], height=[], width=0.8, brush=None,
                                         pen=pg.mkPen("#ff7f0e", width=3))
        for item in (self.rest, self.bars, self.focus_bar):
            self.addItem(item)
        self.disableAutoRange()
        # not movable itself: the widget drags it, with a grab area wider than its pen
        self.tau_line = pg.InfiniteLine(0.1, angle=0, movable=False, pen=LINE_PEN,
                                        label="tau={value:.2f}",
                                        labelOpts={"position": 0.95, "color": "#d62728"})
        self.addItem(self.tau_line)
        self.order = np.zeros(0, int)
        self.heights = np.zeros(0)
        self.focused: int | None = None  # shown, as the session says (show_focus)
        # where a key step starts from; connect_linking points it at the session's tau
        self.tau_source: Callable[[], float] = lambda: float(self.tau_line.value())
        self._press: QPointF | None = None
        self._drag: tuple[float, float] | None = None  # (press y in pixels, tau then)

    # ---- showing ----------------------------------------------------------------------
    def show_relevance(self, relevance: np.ndarray, tau: float) -> None:
        self.order = np.argsort(-relevance, kind="stable")
        self.heights = relevance[self.order]
        self.set_tau(tau)
        lo = min(0.0, float(self.heights.min(initial=0)))
        right = max(len(self.heights), 1) - 0.5
        vb = self.plotItem.vb
        vb.setLimits(xMin=None, xMax=None, yMin=None, yMax=None)
        self.setXRange(-0.5, right, padding=0.01)
        self.setYRange(lo, 1.05, padding=0)
        x_lo, x_hi = vb.viewRange()[0]
        vb.setLimits(xMin=x_lo, xMax=x_hi, yMin=lo, yMax=1.05)  # nothing to pan to
        self.show_focus(self.focused)

    def set_tau(self, tau: float) -> None:
        """Show ``tau``: the line and which bars are above it."""
        self.tau_line.setValue(tau)
        x = np.arange(len(self.heights))
        chosen = self.heights > tau
        self.bars.setOpts(x=x[chosen], height=self.heights[chosen])
        self.rest.setOpts(x=x[~chosen], height=self.heights[~chosen])

    def show_focus(self, k: int | None) -> None:
        """Outline the bar of component ``k`` (None: no outline)."""
        self.focused = k
        where = np.flatnonzero(self.order == k) if k is not None else []
        if len(where):
            self.focus_bar.setOpts(x=[int(where[0])], height=[self.heights[where[0]]])
        else:
            self.focus_bar.setOpts(x=[], height=[])

    def describe(self, k: int) -> str:
        r = float(self.heights[np.flatnonzero(self.order == k)[0]])
        tau = float(self.tau_line.value())
        state = f"selected (above tau {tau:.2f})" if r > tau else \
            f"not selected (tau {tau:.2f})"
        return f"component {k}: relevance {r:.2f}, {state}"

    # ---- where the mouse is -----------------------------------------------------------
    def _in_plot(self, pos: QPointF) -> bool:
        return self.plotItem.vb.sceneBoundingRect().contains(self.mapToScene(pos.toPoint()))

    def _data_at(self, pos: QPointF) -> QPointF:
        return self.plotItem.vb.mapSceneToView(self.mapToScene(pos.toPoint()))

    def line_y(self) -> float:
        """The tau line's height in widget pixels."""
        scene = self.plotItem.vb.mapViewToScene(QPointF(0.0, float(self.tau_line.value())))
        return float(self.mapFromScene(scene).y())

    def _near_line(self, pos: QPointF) -> bool:
        return self._in_plot(pos) and abs(pos.y() - self.line_y()) <= GRAB_PX

    def component_at(self, pos: QPointF) -> int | None:
        """The component whose column (its bar, or the space above or below a short one)
        is at ``pos``."""
        if not self._in_plot(pos) or not len(self.order):
            return None
        i = round(self._data_at(pos).x())
        return int(self.order[i]) if 0 <= i < len(self.order) else None

    # ---- the mouse and keys -----------------------------------------------------------
    def mousePressEvent(self, ev: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        ev.accept()  # never to the scene: no pan, no zoom
        if ev.button() != Qt.MouseButton.LeftButton or not self._in_plot(ev.position()):
            return
        self.setFocus()
        self._press = ev.position()
        if self._near_line(ev.position()):
            self._drag = (ev.position().y(), float(self.tau_line.value()))

    def mouseMoveEvent(self, ev: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        ev.accept()
        pos = ev.position()
        if self._drag is not None:
            self._drag_to(pos.y())
            return
        near = self._near_line(pos) and self._press is None
        self.tau_line.setPen(HOVER_PEN if near else LINE_PEN)
        self.viewport().setCursor(Qt.CursorShape.SizeVerCursor if near
                                  else Qt.CursorShape.ArrowCursor)
        k = self.component_at(pos)
        text = self.describe(k) if k is not None else TIP
        if text != self.toolTip():
            self.setToolTip(text)
            if QToolTip.isVisible():  # follow the mouse from bar to bar
                QToolTip.showText(ev.globalPosition().toPoint(), text, self)
        if k is not None:
            self.hovered.emit(text)

    def _drag_to(self, y_px: float) -> None:
        start_px, start_tau = self._drag
        vb = self.plotItem.vb
        per_px = vb.viewPixelSize()[1]  # data units per pixel, upwards
        tau = float(np.clip(start_tau + (start_px - y_px) * per_px, *TAU_RANGE))
        self.set_tau(tau)  # the bars follow: which components tau would select

    def mouseReleaseEvent(self, ev: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        ev.accept()
        press, self._press = self._press, None
        if self._drag is not None:
            self._drag = None
            tau = round(float(self.tau_line.value()), 2)
            self.tau_line.setValue(tau)
            self.tau_changed.emit(tau)
        elif press is not None and (ev.position() - press).manhattanLength() <= CLICK_PX:
            k = self.component_at(press)
            if k is not None:  # the one in focus again: look at none
                self.component_clicked.emit(None if k == self.focused else k)

    def mouseDoubleClickEvent(self, ev: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        ev.accept()  # its first click already focused: a second would unfocus

    def wheelEvent(self, ev: QWheelEvent) -> None:  # noqa: N802 - Qt's name
        ev.ignore()  # no zoom: the ranges are fixed

    def leaveEvent(self, ev) -> None:  # noqa: N802 - Qt's name
        self.tau_line.setPen(LINE_PEN)
        super().leaveEvent(ev)

    def keyPressEvent(self, ev: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        key = ev.key()
        up = key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal, Qt.Key.Key_Up)
        if up or key in (Qt.Key.Key_Minus, Qt.Key.Key_Down):
            ev.accept()
            tau = round(float(np.clip(self.tau_source() + (STEP if up else -STEP),
                                      *TAU_RANGE)), 2)
            self.tau_changed.emit(tau)
        else:
            super().keyPressEvent(ev)
