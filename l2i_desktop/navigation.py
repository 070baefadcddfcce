"""Moving through a clip: zoom and pan from the keyboard (+/-, arrows, Home/End, F to
fit) and View > Zoom, bounded by the clip, and, while the views show only part of the
clip, an overview strip of the whole clip with that part shaded, which can be dragged.

The keys act while the views have the keyboard focus (click them), so the arrows still
move the tau slider and the tables' rows elsewhere; the menu entries work anywhere.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence

from l2i_desktop.host import Host
from l2i_desktop.model import ClipResult

ZOOM = 2.0  # each step halves or doubles the time shown
PAN = 0.25  # of the time shown, per arrow key
LEAST_S = 0.01  # the narrowest view: ten milliseconds
STRIP_PX = 40

# id, text, keys, what it does (on a Navigator)
STEPS = (("zoom_in", "Zoom &in", ("+", "="), lambda n: n.zoom(1 / ZOOM)),
         ("zoom_out", "Zoom &out", ("-",), lambda n: n.zoom(ZOOM)),
         ("pan_left", "Scroll &left", ("Left",), lambda n: n.pan(-PAN)),
         ("pan_right", "Scroll &right", ("Right",), lambda n: n.pan(PAN)),
         ("to_start", "Go to &start", ("Home",), lambda n: n.go(0.0)),
         ("to_end", "Go to &end", ("End",), lambda n: n.go(float("inf"))),
         ("fit", "&Fit the whole clip", ("F",), lambda n: n.fit()))


class Navigator:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.views = host.views
        self.vb = host.views.plots[0].vb  # the other rows follow its time range
        self.views.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # a click: keys move it
        self.actions: dict[str, QAction] = {}
        menu = host.menus["view"].addMenu("&Zoom and scroll")
        for key, text, keys, step in STEPS:
            act = QAction(text, host.window)
            act.setObjectName(key)
            act.setShortcuts([QKeySequence(k) for k in keys])
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            act.triggered.connect(lambda _c=False, step=step: step(self))
            self.views.addAction(act)  # its keys while the views have the focus
            menu.addAction(act)
            self.actions[key] = act
        self.strip = OverviewStrip()
        self.strip.moved.connect(self.show_span)
        self.strip.hide()
        host.put_above_views(self.strip)
        self.vb.sigXRangeChanged.connect(lambda *_a: self._follow())
        host.session.clip_changed.connect(self._on_clip)

    @property
    def duration(self) -> float:
        clip = self.host.session.clip
        return clip.duration_s if clip is not None else 0.0

    def span(self) -> tuple[float, float]:
        lo, hi = self.vb.viewRange()[0]
        return float(lo), float(hi)

    def show_span(self, lo: float, hi: float) -> None:
        """Show ``lo`` to ``hi`` seconds, kept inside the clip and no narrower than
        LEAST_S."""
        d = self.duration
        if d <= 0:
            return
        width = min(max(hi - lo, min(LEAST_S, d)), d)
        lo = min(max(lo, 0.0), d - width)
        self.vb.setXRange(lo, lo + width, padding=0)

    def zoom(self, factor: float) -> None:
        """Narrow (factor < 1) or widen the view about its middle, or about the playback
        cursor while it is inside."""
        lo, hi = self.span()
        cursor = float(self.views.cursors[0].value())
        centre = cursor if lo < cursor < hi and cursor > 0 else (lo + hi) / 2
        width = (hi - lo) * factor
        self.show_span(centre - width / 2, centre + width / 2)

    def pan(self, share: float) -> None:
        lo, hi = self.span()
        step = (hi - lo) * share
        self.show_span(lo + step, hi + step)

    def go(self, where: float) -> None:
        lo, hi = self.span()
        start = 0.0 if where <= 0 else self.duration - (hi - lo)
        self.show_span(start, start + (hi - lo))

    def fit(self) -> None:
        self.show_span(0.0, self.duration)

    def _follow(self) -> None:
        """The strip shows where the views are, while they show part of the clip."""
        lo, hi = self.span()
        self.strip.setVisible(self.duration > 0 and hi - lo < 0.999 * self.duration)
        self.strip.show_span((lo, hi))

    def _on_clip(self, clip: ClipResult) -> None:
        self.strip.show_clip(clip.envelope, clip.duration_s)
        self._follow()


class OverviewStrip(pg.PlotWidget):
    """The whole clip's waveform, the part the views show shaded: drag it to scroll."""

    moved = Signal(float, float)

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("overview")
        self.setFixedHeight(STRIP_PX)
        self.setToolTip("The whole clip; the shaded part is what the views show: drag it "
                        "to scroll (keys in the views: +/- zoom, arrows scroll, F fits)")
        p = self.getPlotItem()
        p.hideAxis("bottom")
        p.getAxis("left").setWidth(60)
        p.getAxis("left").setStyle(showValues=False)
        p.setMenuEnabled(False)
        p.setMouseEnabled(x=False, y=False)
        p.hideButtons()
        self.curve = p.plot(pen=pg.mkPen("#5a7fa6"))
        self.visible = pg.LinearRegionItem(brush=pg.mkBrush(31, 119, 180, 60),
                                           pen=pg.mkPen("#1f77b4", width=1))
        self.visible.sigRegionChanged.connect(self._dragged)
        p.addItem(self.visible)
        self._showing = False

    def show_clip(self, envelope: np.ndarray, duration: float) -> None:
        t = np.linspace(0, duration, envelope.shape[1])
        self.curve.setData(np.repeat(t, 2), np.asarray(envelope, np.float32).T.ravel(),
                           connect="pairs")
        peak = max(float(np.abs(envelope).max(initial=0.0)), 1e-3)
        p = self.getPlotItem()
        p.setXRange(0, duration, padding=0)
        p.setYRange(-peak, peak, padding=0.05)
        self.visible.setBounds((0, duration))

    def show_span(self, span: tuple[float, float]) -> None:
        self._showing = True  # shown, not dragged
        self.visible.setRegion(span)
        self._showing = False

    def _dragged(self) -> None:
        if not self._showing:
            lo, hi = self.visible.getRegion()
            self.moved.emit(float(lo), float(hi))


def install(host: Host) -> Navigator:
    return Navigator(host)
