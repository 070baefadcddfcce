"""How the spectrograms look, chosen by the user: View > Colour map, Frequency scale and
Display range, the same entries on a right-click on any view, and "Export this view".

The settings live in ``session.display`` (``model.display``); this tool shows them in
the menus, hands them to the views and remembers them between runs.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize
from PySide6.QtGui import QAction, QActionGroup, QImage, QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QMenu,
)

from engine.runtime.errors import L2IError
from l2i_desktop.export import ExportError, write_file
from l2i_desktop.host import Host
from l2i_desktop.model.display import COLORMAPS, SCALES, DisplaySettings

log = logging.getLogger(__name__)

SCALE_TEXT = {"linear": "Linear (Hz)", "log": "Logarithmic", "mel": "Mel (as hearing)"}
RANGE_TIP = ("Colours span this range of levels in dB full scale (0 dB: a full-scale "
             "sine); auto fits each clip: its loudest cells and 80 dB under them")


class RangeDialog(QDialog):
    """Auto, or a floor and a ceiling in dB full scale, applied as they are typed."""

    def __init__(self, parent, display) -> None:
        super().__init__(parent)
        self.setWindowTitle("Display range")
        self.display = display
        d = display.settings
        self.auto = QCheckBox("Fit each clip (auto)")
        self.auto.setChecked(d.auto_range)
        self.floor, self.ceiling = QDoubleSpinBox(), QDoubleSpinBox()
        for box, value in ((self.floor, d.floor_db), (self.ceiling, d.ceiling_db)):
            box.setRange(-160.0, 40.0)
            box.setDecimals(0)
            box.setSuffix(" dB")
            box.setValue(value)
            box.setToolTip(RANGE_TIP)
            box.valueChanged.connect(self._typed)
        self.auto.toggled.connect(self._typed)
        form = QFormLayout(self)
        note = QLabel(RANGE_TIP + ". The mel view always fits its clip.")
        note.setWordWrap(True)
        form.addRow(note)
        form.addRow(self.auto)
        form.addRow("Floor (darkest)", self.floor)
        form.addRow("Ceiling (brightest)", self.ceiling)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        form.addRow(buttons)
        self._enable()

    def _enable(self) -> None:
        for box in (self.floor, self.ceiling):
            box.setEnabled(not self.auto.isChecked())

    def _typed(self, *_args) -> None:
        self._enable()
        if self.ceiling.value() <= self.floor.value():
            return  # half-typed: wait for a range that makes sense
        self.display.set(auto_range=self.auto.isChecked(), floor_db=self.floor.value(),
                         ceiling_db=self.ceiling.value())


class DisplayControls:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.display = host.session.display
        self.groups: dict[str, QActionGroup] = {}
        self.actions: dict[str, QAction] = {}  # colormap_<name>, scale_<name>, range
        view_menu = host.menus["view"]
        view_menu.addSeparator()
        self._fill(view_menu, main=True)
        for row, plot in enumerate(host.views.plots):
            self._give_menu(plot, row)
        # what was remembered is shown, not written back: only the user's changes are
        self.display.set(**vars(host.settings.display()))
        self._show(self.display.settings)  # the menus' checks, even for the defaults
        self.display.changed.connect(self._apply)

    def _fill(self, menu: QMenu, main: bool) -> None:
        """Colour map and frequency scale as radio entries, and the range dialog; the
        window's View menu owns the actions, plot menus reuse them."""
        for field, names, title in (("colormap", COLORMAPS, "Colour &map"),
                                    ("scale", SCALES, "&Frequency scale")):
            sub = menu.addMenu(title)
            if main:
                group = self.groups[field] = QActionGroup(self.host.window)
                for name in names:
                    act = QAction(SCALE_TEXT.get(name, name) if field == "scale" else name,
                                  self.host.window, checkable=True)
                    act.setObjectName(f"{field}_{name}")
                    act.triggered.connect(lambda _c=False, f=field, n=name:
                                          self.display.set(**{f: n}))
                    group.addAction(act)
                    self.actions[f"{field}_{name}"] = act
            sub.addActions(self.groups[field].actions())
        if main:
            act = self.actions["range"] = QAction("Display &range...", self.host.window)
            act.setObjectName("display_range")
            act.setStatusTip(RANGE_TIP)
            act.triggered.connect(self.ask_range)
        menu.addAction(self.actions["range"])

    def _give_menu(self, plot: pg.PlotItem, row: int) -> None:
        menu = QMenu(self.host.window)
        self._fill(menu, main=False)
        menu.addSeparator()
        menu.addAction("Export this view...", lambda: self.ask_export_view(plot))
        plot.setMenuEnabled(False, enableViewBoxMenu=True)  # ours, not pyqtgraph's
        plot.vb.getMenu = lambda _ev, m=menu: m
        plot.vb.context_menu = menu  # for tests and the monkey

    def _show(self, d: DisplaySettings) -> None:
        self.actions[f"colormap_{d.colormap}"].setChecked(True)
        self.actions[f"scale_{d.scale}"].setChecked(True)
        self.host.views.set_display(d)

    def _apply(self, d: DisplaySettings) -> None:
        """A change the user made: shown, and remembered for the next run."""
        self._show(d)
        self.host.settings.set_display(d)

    def ask_range(self) -> None:
        RangeDialog(self.host.window, self.display).show()

    def ask_export_view(self, plot: pg.PlotItem) -> None:
        path, _ = QFileDialog.getSaveFileName(self.host.window, "Export this view",
                                              self.host.settings.last_folder(),
                                              "PNG image (*.png);;SVG drawing (*.svg)")
        if path:
            self.export_view(plot, Path(path))

    def export_view(self, plot: pg.PlotItem, path: Path) -> Path | None:
        """One view as it is shown, PNG (twice the screen's pixels) or SVG by suffix
        (drawn by Qt from the scene: pyqtgraph's SVG exporter fails on this Qt)."""
        if path.suffix.lower() not in (".png", ".svg"):
            path = path.with_suffix(".png")
        try:
            write_file(path, lambda tmp: render_view(plot, tmp))
        except (ExportError, L2IError) as exc:
            self.host.show_error(str(exc))
            return None
        self.host.status(f"exported the view to {path}")
        return path


def render_view(plot: pg.PlotItem, path: Path) -> None:
    source = plot.sceneBoundingRect()
    size = QSize(int(source.width()), int(source.height()))
    if path.suffix.lower() == ".svg":
        device = QSvgGenerator()
        device.setFileName(str(path))
        device.setSize(size)
        device.setViewBox(QRectF(0, 0, size.width(), size.height()))
        device.setTitle(plot.titleLabel.text)
    else:
        device = QImage(size * 2, QImage.Format.Format_ARGB32)
        device.fill(plot.scene().views()[0].backgroundBrush().color())
    painter = QPainter(device)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    target = QRectF(0, 0, device.width(), device.height()) if isinstance(device, QImage) \
        else QRectF(0, 0, size.width(), size.height())
    plot.scene().render(painter, target, source)
    painter.end()
    if isinstance(device, QImage) and not device.save(str(path), "PNG"):
        raise ExportError(f"cannot write {path}: the image could not be saved")


def install(host: Host) -> DisplayControls:
    return DisplayControls(host)
