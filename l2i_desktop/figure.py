"""A publication figure drawn from plain data: no widget, no window state.

``FigureSpec`` holds everything a figure shows (a title, then panels stacked top to
bottom: waveforms, colour images with a colourbar each, bar charts); ``paint`` draws it
with a QPainter on any paint device, in points (1/72 inch) scaled to the device, so one
drawing makes a PNG at any DPI (``QImage``), an SVG (``QSvgGenerator``) and a PDF
(``QPdfWriter``). Building a spec from the window's session is figure_export's job.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PySide6.QtCore import QMarginsF, QPointF, QRectF, QSize, QSizeF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QPageLayout,
    QPageSize,
    QPaintDevice,
    QPainter,
    QPainterPath,
    QPdfWriter,
    QPen,
)
from PySide6.QtSvg import QSvgGenerator

from l2i_desktop.figure_spec import (
    Axis,
    BarPanel,
    Colourbar,
    FigureSpec,
    ImagePanel,
    Panel,
    WavePanel,
    nice_ticks,
    tick_label,
)

FORMATS = ("png", "svg", "pdf")
INK, GRID = QColor("#222222"), QColor("#888888")
WAVE, SELECTED, OTHER, TAU = (QColor("#1f4e79"), QColor("#1f77b4"), QColor("#c7c7c7"),
                              QColor("#d62728"))
# the layout, in points: room for tick labels and axis labels around each plot
LEFT, RIGHT, BOTTOM = 50.0, 58.0, 6.0
PANEL_TITLE, X_AXIS, GAP = 13.0, 24.0, 5.0
BAR_W, BAR_GAP = 7.0, 5.0  # a colourbar beside its image
TITLE_PT, TEXT_PT, TICK_PT = 11.0, 8.0, 7.0  # whole pixels of a point each
TICK_LEN = 3.0


def _font(size: float, bold: bool = False) -> QFont:
    font = QFont()
    font.setPixelSize(max(1, round(size)))  # points: the painter's unit (see paint)
    font.setBold(bold)
    font.setHintingPreference(QFont.HintingPreference.PreferNoHinting)  # scales evenly
    return font


def _qimage(rgba: np.ndarray) -> QImage:
    """A QImage that owns a copy of ``rgba`` flipped: its row 0 is the top."""
    data = np.ascontiguousarray(np.asarray(rgba, np.uint8)[::-1])
    h, w = data.shape[:2]
    return QImage(data.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()


class _Painter:
    """Draws a spec in points on a painter already scaled to points."""

    def __init__(self, p: QPainter, spec: FigureSpec) -> None:
        self.p, self.spec = p, spec
        self.w, self.h = spec.width_in * 72.0, spec.height_in * 72.0

    def text(self, rect: QRectF, flags: Qt.AlignmentFlag, text: str, size: float = TEXT_PT,
             bold: bool = False, colour: QColor = INK) -> None:
        font = _font(size, bold)
        wide = QFontMetricsF(font).horizontalAdvance(text)
        if wide > rect.width() > 0:  # a long file or class name: smaller, then elided
            font = _font(max(size * 0.8, size * rect.width() / wide), bold)
            text = QFontMetricsF(font).elidedText(text, Qt.TextElideMode.ElideMiddle,
                                                  rect.width())
        self.p.setFont(font)
        self.p.setPen(colour)
        self.p.drawText(rect, int(flags), text)

    def draw(self) -> None:
        p, spec = self.p, self.spec
        p.fillRect(QRectF(0, 0, self.w, self.h), QColor("white"))
        y = 8.0
        for i, line in enumerate(spec.title):  # a long one wraps at its spaces
            font = _font(TITLE_PT if i == 0 else TEXT_PT + 1, bold=i == 0)
            flags = Qt.AlignmentFlag.AlignHCenter | Qt.TextFlag.TextWordWrap
            box = QFontMetricsF(font).boundingRect(QRectF(12, y, self.w - 24, 200),
                                                   int(flags), line)
            p.setFont(font)
            p.setPen(INK)
            p.drawText(QRectF(12, y, self.w - 24, box.height()), int(flags), line)
            y += box.height() + 2.0
        top = y + 4.0
        last_time = max((i for i, pn in enumerate(spec.panels)
                         if not isinstance(pn, BarPanel)), default=-1)
        shows_x = [not spec.shared_time or isinstance(pn, BarPanel) or i == last_time
                   for i, pn in enumerate(spec.panels)]
        fixed = sum(PANEL_TITLE + GAP + (X_AXIS if s else 0.0) for s in shows_x)
        free = self.h - top - BOTTOM - fixed
        total = sum(pn.weight for pn in spec.panels) or 1.0
        for pn, show_x in zip(spec.panels, shows_x):
            height = free * pn.weight / total
            self.text(QRectF(LEFT, top, self.w - LEFT - RIGHT, PANEL_TITLE),
                      Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, pn.title,
                      TEXT_PT + 1, bold=True)
            plot = QRectF(LEFT, top + PANEL_TITLE, self.w - LEFT - RIGHT, height)
            self.panel(pn, plot, show_x)
            top = plot.bottom() + (X_AXIS if show_x else 0.0) + GAP

    def panel(self, pn: Panel, r: QRectF, show_x: bool) -> None:
        if isinstance(pn, ImagePanel):
            self.image(pn, r)
        elif isinstance(pn, WavePanel):
            self.wave(pn, r)
        else:
            self.bars(pn, r)
        self.frame(r, pn.x, pn.y, show_x)

    # ---- axes --------------------------------------------------------------------------
    def frame(self, r: QRectF, x: Axis, y: Axis, show_x: bool) -> None:
        p = self.p
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(QPen(INK, 0.6))
        p.drawRect(r)
        fm = QFontMetricsF(_font(TICK_PT))
        (x0, x1), (y0, y1) = x.range, y.range
        for v, label in x.ticks:
            px = r.left() + (v - x0) / ((x1 - x0) or 1) * r.width()
            if r.left() - 0.01 <= px <= r.right() + 0.01:
                p.setPen(QPen(INK, 0.6))
                p.drawLine(QPointF(px, r.bottom()), QPointF(px, r.bottom() + TICK_LEN))
                if show_x and label:
                    self.text(QRectF(px - 30, r.bottom() + TICK_LEN + 1, 60, TICK_PT * 1.4),
                              Qt.AlignmentFlag.AlignHCenter, label, TICK_PT)
        if show_x and x.label:
            self.text(QRectF(r.left(), r.bottom() + TICK_LEN + TICK_PT * 1.4 + 1,
                             r.width(), TEXT_PT * 1.4), Qt.AlignmentFlag.AlignHCenter,
                      x.label, TEXT_PT)
        widest = 0.0
        for v, label in y.ticks:
            py = r.bottom() - (v - y0) / ((y1 - y0) or 1) * r.height()
            if r.top() - 0.01 <= py <= r.bottom() + 0.01:
                p.setPen(QPen(INK, 0.6))
                p.drawLine(QPointF(r.left() - TICK_LEN, py), QPointF(r.left(), py))
                if label:
                    widest = max(widest, fm.horizontalAdvance(label))
                    self.text(QRectF(r.left() - TICK_LEN - 62, py - TICK_PT, 60, TICK_PT * 2),
                              Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                              label, TICK_PT)
        if y.label:
            self.vertical_text(QPointF(r.left() - TICK_LEN - widest - 5, r.center().y()),
                               y.label, TEXT_PT)

    def vertical_text(self, at: QPointF, text: str, size: float) -> None:
        """``text`` read bottom to top, its baseline's right end ``at`` middle."""
        p = self.p
        p.save()
        p.translate(at)
        p.rotate(-90)
        self.text(QRectF(-80, -size * 1.4, 160, size * 1.4),
                  Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom, text, size)
        p.restore()

    def _x(self, r: QRectF, ax: Axis, v: float) -> float:
        lo, hi = ax.range
        return r.left() + (v - lo) / ((hi - lo) or 1) * r.width()

    def _y(self, r: QRectF, ax: Axis, v: float) -> float:
        lo, hi = ax.range
        return r.bottom() - (v - lo) / ((hi - lo) or 1) * r.height()

    # ---- panels ------------------------------------------------------------------------
    def image(self, pn: ImagePanel, r: QRectF) -> None:
        p = self.p
        p.save()
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, pn.smooth)
        p.drawImage(r, _qimage(pn.rgba))
        p.restore()
        for v in pn.marks:  # small triangles outside the right edge
            y = self._y(r, pn.y, v)
            path = QPainterPath(QPointF(r.right() + 0.8, y))
            path.lineTo(r.right() + 4.5, y - 2.2)
            path.lineTo(r.right() + 4.5, y + 2.2)
            path.closeSubpath()
            p.fillPath(path, TAU)
        if pn.colourbar is not None:
            self.colourbar(pn.colourbar, QRectF(r.right() + BAR_GAP, r.top(), BAR_W,
                                                r.height()))

    def colourbar(self, cb: Colourbar, r: QRectF) -> None:
        p = self.p
        lut = np.asarray(cb.lut, np.uint8)[:, None, :]  # N rows, low value first
        p.save()
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        p.drawImage(r, _qimage(lut))
        p.restore()
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(QPen(INK, 0.5))
        p.drawRect(r)
        bar = Axis((cb.low, cb.high), [(v, tick_label(v)) for v in
                                       nice_ticks(cb.low, cb.high, 4)])
        widest = 0.0
        fm = QFontMetricsF(_font(TICK_PT))
        for v, label in bar.ticks:
            y = self._y(r, bar, v)
            p.setPen(QPen(INK, 0.5))
            p.drawLine(QPointF(r.right(), y), QPointF(r.right() + 2, y))
            widest = max(widest, fm.horizontalAdvance(label))
            self.text(QRectF(r.right() + 3, y - TICK_PT, 40, TICK_PT * 2),
                      Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, label,
                      TICK_PT)
        if cb.unit:
            p.save()
            p.translate(r.right() + 6 + widest, r.center().y())
            p.rotate(90)
            self.text(QRectF(-80, -TICK_PT * 1.4 - 1, 160, TICK_PT * 1.4),
                      Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom,
                      cb.unit, TICK_PT)
            p.restore()

    def wave(self, pn: WavePanel, r: QRectF) -> None:
        env = np.asarray(pn.envelope, float)
        n = env.shape[1]
        if n == 0:
            return
        x0, x1 = pn.x.range
        t = np.linspace(x0, x1, n)
        xs = [self._x(r, pn.x, v) for v in t]
        top = [min(self._y(r, pn.y, v), r.bottom()) for v in env[1]]
        bottom = [max(self._y(r, pn.y, v), r.top()) for v in env[0]]
        path = QPainterPath(QPointF(xs[0], top[0]))
        for x, y in zip(xs[1:], top[1:]):
            path.lineTo(x, y)
        for x, y in zip(reversed(xs), reversed(bottom)):
            path.lineTo(x, y)
        path.closeSubpath()
        p = self.p
        p.save()
        p.setClipRect(r)
        p.setPen(QPen(WAVE, 0.4))
        p.setBrush(QBrush(WAVE))
        p.drawPath(path)
        p.setPen(QPen(GRID, 0.4, Qt.PenStyle.DotLine))
        zero = self._y(r, pn.y, 0.0)
        p.drawLine(QPointF(r.left(), zero), QPointF(r.right(), zero))
        p.restore()

    def bars(self, pn: BarPanel, r: QRectF) -> None:
        p = self.p
        p.save()
        p.setClipRect(r)
        base = self._y(r, pn.y, 0.0)
        p.setPen(QPen(GRID, 0.4))
        p.drawLine(QPointF(r.left(), base), QPointF(r.right(), base))
        p.setPen(Qt.PenStyle.NoPen)
        for k, v in enumerate(np.asarray(pn.values, float)):
            if not math.isfinite(v):
                continue
            left, right = self._x(r, pn.x, k - 0.4), self._x(r, pn.x, k + 0.4)
            y = self._y(r, pn.y, v)
            p.setBrush(SELECTED if k in pn.selected else OTHER)
            p.drawRect(QRectF(QPointF(left, min(y, base)), QPointF(right, max(y, base))))
        if pn.tau is not None:
            y = self._y(r, pn.y, pn.tau)
            p.setPen(QPen(TAU, 1.0, Qt.PenStyle.DashLine))
            p.drawLine(QPointF(r.left(), y), QPointF(r.right(), y))
        p.restore()
        if pn.tau is not None:  # in the margin: over the bars it would hide one
            self.text(QRectF(r.right() + 3, y - TICK_PT, RIGHT - 3, TICK_PT * 2),
                      Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                      f"tau = {pn.tau:.2f}", TICK_PT, colour=TAU)


def paint(spec: FigureSpec, painter: QPainter, device: QPaintDevice) -> None:
    """Draw ``spec`` filling ``device`` (its width is spec.width_in inches)."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
    scale = device.width() / (spec.width_in * 72.0)  # device units per point
    painter.scale(scale, scale)
    _Painter(painter, spec).draw()
    painter.restore()


def pixel_size(spec: FigureSpec, dpi: float) -> QSize:
    return QSize(round(spec.width_in * dpi), round(spec.height_in * dpi))


def to_image(spec: FigureSpec, dpi: float = 300) -> QImage:
    """The figure as a QImage of width_in x height_in inches at ``dpi``."""
    size = pixel_size(spec, dpi)
    image = QImage(size, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    per_metre = round(dpi / 0.0254)  # the PNG says its DPI
    image.setDotsPerMeterX(per_metre)
    image.setDotsPerMeterY(per_metre)
    _draw_on(spec, image)
    return image


def _draw_on(spec: FigureSpec, device: QPaintDevice) -> None:
    painter = QPainter()
    if not painter.begin(device):
        raise RuntimeError("the drawing could not start (cannot open the file?)")
    try:
        paint(spec, painter, device)
    finally:
        if not painter.end():
            raise RuntimeError("the drawing could not be finished")


def save(spec: FigureSpec, path: str | Path, fmt: str, dpi: float = 300) -> None:
    """Write the figure to ``path`` as ``fmt`` (png, svg or pdf; ``dpi`` sets the
    PNG's pixels and the PDF's resolution). Raises RuntimeError when Qt cannot."""
    path = str(path)
    if fmt == "png":
        if not to_image(spec, dpi).save(path, "PNG"):
            raise RuntimeError("the PNG could not be saved")
    elif fmt == "svg":
        gen = QSvgGenerator()
        gen.setFileName(path)
        gen.setSize(pixel_size(spec, 72))  # the SVG's user units are points
        gen.setViewBox(QRectF(0, 0, spec.width_in * 72, spec.height_in * 72))
        gen.setResolution(72)
        gen.setTitle(spec.title[0] if spec.title else "")
        gen.setDescription(" ".join(spec.title))
        _draw_on(spec, gen)
    elif fmt == "pdf":
        pdf = QPdfWriter(path)
        pdf.setResolution(round(dpi))
        pdf.setPageSize(QPageSize(QSizeF(spec.width_in, spec.height_in),
                                  QPageSize.Unit.Inch, "figure",
                                  QPageSize.SizeMatchPolicy.ExactMatch))
        pdf.setPageOrientation(QPageLayout.Orientation.Portrait)
        pdf.setPageMargins(QMarginsF(0, 0, 0, 0))
        pdf.setTitle(spec.title[0] if spec.title else "")
        pdf.setCreator("L2I Desktop")
        _draw_on(spec, pdf)
    else:
        raise ValueError(f"unknown figure format {fmt!r}: use {', '.join(FORMATS)}")

