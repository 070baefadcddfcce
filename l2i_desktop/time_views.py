"""Waveform, spectrogram, component activations and interpretation on one time axis."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal

from l2i_desktop import spectrogram_display as sd
from l2i_desktop import theme
from l2i_desktop.model.display import DisplaySettings
from l2i_desktop.time_axis import TimeAxis

LABEL_PX = 12  # the height a tick label of H's axis needs
BAND_PX = 7  # the least height of the band around the focused row of H


class TimeViews(pg.GraphicsLayoutWidget):
    hovered = Signal(str)
    region_chosen = Signal(object)  # (start, end) in seconds, or None for the whole clip
    lanes_changed = Signal()  # a tool added a row (add_lane)
    origin_changed = Signal(float)  # the recording's time at x = 0 (set_time_origin)

    def restyle(self) -> None:
        """Colours of the theme in use (theme.apply_window calls it on a scheme change)."""
        theme.style_time_views(self, theme.shown())

    def __init__(self) -> None:
        super().__init__()
        self.setBackground("w")
        titles = ["Waveform", "Spectrogram (dB)", "Component activations H",
                  "Interpretation (dB)"]
        self.plots = []
        for row, title in enumerate(titles):
            self.plots.append(self._time_plot(row, title))
        for p in self.plots[:-1]:
            p.hideAxis("bottom")  # one time axis for all: less to draw, less clutter
        self.lanes: list[pg.PlotItem] = []  # rows tools add under the views (add_lane)
        self.wave_curve = self.plots[0].plot(pen=pg.mkPen("#1f4e79"))
        self.images = [pg.ImageItem(axisOrder="row-major") for _ in range(3)]
        for img, p in zip(self.images, self.plots[1:]):
            p.addItem(img)
        self.plots[3].setYLink(self.plots[1])  # one frequency zoom for input and result
        self.bars = {row: sd.colorbar("dB") for row in (1, 3)}  # column 1: time aligned
        for row, bar in self.bars.items():
            self.addItem(bar, row=row, col=1)
        self.plots[1].setLabel("left", "Hz")
        self.plots[2].setLabel("left", "selected k")
        self.plots[3].setLabel("left", "Hz")
        self.plots[3].setLabel("bottom", "time", units="s")
        self.display = DisplaySettings()
        self._layout: sd.Layout | None = None
        self._grids: dict[str, np.ndarray] = {}  # what each picture shows, on its rows
        self._levels = (0.0, 1.0)  # dB range of the input's spectrogram
        self.cursors = [pg.InfiniteLine(0, angle=90, pen=pg.mkPen("#2ca02c", width=2))
                        for _ in self.plots]
        for c, p in zip(self.cursors, self.plots):
            p.addItem(c)
        # edges only: a translucent fill over the whole plot costs a frame to blend
        self.region = pg.LinearRegionItem(brush=pg.mkBrush(None),
                                          pen=pg.mkPen("#1f77b4", width=2))
        self.region.setZValue(-10)
        self.region.sigRegionChangeFinished.connect(self._on_region)
        self.plots[0].addItem(self.region)
        self._add_focus_items()
        self._values: dict[str, np.ndarray] = {}
        self.spectrum_kind = "log_mag"
        self.note: str | None = None  # why the interpretation is silent (note_interpretation)
        self.duration = 1.0
        self._frame_s = 1.0  # seconds per frame
        self._sample_rate = 44100
        self.scene().sigMouseMoved.connect(self._on_mouse)

    def _time_plot(self, row: int, title: str | None) -> pg.PlotItem:
        axes = {"bottom": TimeAxis()}
        if row in (1, 3) and len(self.plots) < 4:  # the spectrograms: Hz on any scale
            axes["left"] = sd.FrequencyAxis()
        p = self.addPlot(row=row, col=0, title=title, axisItems=axes)
        p.setMenuEnabled(False)
        p.disableAutoRange()
        p.showGrid(x=False, y=False)
        if self.plots:
            p.setXLink(self.plots[0])
        p.getAxis("left").setWidth(60)  # equal widths keep the time axes aligned
        return p

    def add_lane(self, title: str | None = None, least_px: int = 48) -> pg.PlotItem:
        """A row under the views on their time axis (x linked, left axis as wide), for a
        tool's own track, at least ``least_px`` high; the one time axis moves under it."""
        rows = self.plots + self.lanes
        lane = self._time_plot(len(rows), title)
        rows[-1].hideAxis("bottom")
        lane.getAxis("bottom").set_origin(self.time_origin)
        lane.least_px = least_px  # the views' scroll area keeps it (layout.ViewsArea)
        self.lanes.append(lane)
        self.lanes_changed.emit()
        return lane

    @property
    def time_origin(self) -> float:
        return self.plots[0].getAxis("bottom").origin

    def set_time_origin(self, seconds: float) -> None:
        """The views show a part of a longer recording that starts at ``seconds``: time
        axes and hover read in the recording's time (x stays 0..duration)."""
        for p in self.plots + self.lanes:
            p.getAxis("bottom").set_origin(seconds)
        self.origin_changed.emit(float(seconds))

    def show_clip(self, envelope: np.ndarray, duration: float, sample_rate: int,
                  values: dict[str, np.ndarray]) -> None:
        """Draw a clip: its min/max ``envelope`` and the raw ``values`` of log_mag,
        log_mel and H, pictured here as the display settings say."""
        t = np.linspace(0, duration, envelope.shape[1])
        peak = max(float(np.abs(envelope).max()), 1e-3)
        # (near-)silence would be (near-)zero-length segments, drawn as nothing: a
        # hairline keeps the time axis visibly covered to the clip's end
        drawn = envelope.astype(np.float32, copy=True)
        mid, eps = drawn.mean(axis=0), 0.004 * peak
        drawn[0] = np.minimum(drawn[0], mid - eps)
        drawn[1] = np.maximum(drawn[1], mid + eps)
        self.wave_curve.setData(np.repeat(t, 2), drawn.T.ravel(), connect="pairs")
        log_mag = values["log_mag"]
        self.duration = float(duration)
        self._frame_s = duration / log_mag.shape[1]
        self._values = dict(values)
        self._sample_rate = int(sample_rate)
        self._values.pop("interpretation", None)
        self._draw_spectra()
        self.region.setBounds((0, duration))
        self.region.setRegion((0, duration))
        # fixed ranges: no auto-range pass (and no second repaint) after new data
        self.plots[0].setLimits(xMin=0, xMax=duration, minXRange=min(0.01, duration))
        self.plots[0].setXRange(0, duration, padding=0)
        self.plots[0].setYRange(-peak, peak, padding=0.05)
        self.plots[2].setYRange(0, values["H"].shape[0], padding=0)
        self.plots[2].setLimits(yMin=0, yMax=values["H"].shape[0])
        self.plots[1].setYRange(*self._layout.scale.span, padding=0)

    def _draw_spectra(self) -> None:
        """The input's spectrogram and the frequency axes, from the values and the
        display settings."""
        v = self._values
        self._layout = sd.Layout.of(self.display, self._sample_rate, v["log_mag"].shape[0],
                                    v["log_mel"].shape[0])
        grid = self._layout.rows(sd.magnitude_db(v["log_mag"], self.n_fft))
        self._grids = {"log_mag": grid}
        self._levels = sd.levels_of(grid, self.display)
        self._show_spectrum()
        self._frequency_axes()

    @property
    def n_fft(self) -> int:
        return 2 * (self._values["log_mag"].shape[0] - 1) if self._values else 1024

    def _frequency_axes(self) -> None:
        """Both spectrograms on the chosen scale, labelled in Hz, zoom bounded by it."""
        lo, hi = self._layout.scale.span
        for p in (self.plots[1], self.plots[3]):
            p.setLimits(yMin=lo, yMax=hi)
            p.getAxis("left").set_scale(self._layout.scale)
            p.setLabel("left", "Hz" + ("" if self.display.scale == "linear"
                                       else f" ({self.display.scale})"))

    def show_activations(self) -> None:
        """The H heat map of the clip given to ``show_clip`` (a separate step, so that
        each repaint stays short)."""
        H = self._values["H"]
        self.images[1].setImage(sd.rgba(H, (0.0, max(float(np.percentile(H, 99.5)), 1e-9)),
                                        self.display.colormap), autoLevels=False)
        self.images[1].setRect(0, 0, self.duration, H.shape[0])

    def set_spectrum_kind(self, kind: str) -> None:
        """'log_mag' (what the interpreter reconstructs) or 'log_mel' (what the classifier
        sees)."""
        self.spectrum_kind = kind
        if self._values:
            self._show_spectrum()

    def set_display(self, settings: DisplaySettings) -> None:
        """Colour map, dB range and frequency scale (``model.display``): every picture
        is drawn again from its values."""
        before, self.display = self.display, settings
        rgb = self.overlay_colour[0]
        self.focus_band.setBrush(pg.mkBrush(*rgb, 25))
        self.focus_band.lines[0].setPen(pg.mkPen(rgb, width=1))
        self.focus_band.lines[1].setPen(pg.mkPen(rgb, width=1))
        if not self._values:
            return
        span_before = self._layout.scale.span
        zoom = self.plots[1].vb.viewRange()[1]
        self._draw_spectra()
        if settings.scale == before.scale:  # the same axis: keep the frequency zoom
            self.plots[1].setYRange(*zoom, padding=0)
        elif zoom != list(span_before):  # the same frequencies on the new axis
            hz = self._layout.scale
            was = sd.Layout.of(before, self._sample_rate, 2, 2).scale
            self.plots[1].setYRange(hz.to_pos(max(was.to_hz(zoom[0]), hz.low_hz)),
                                    hz.to_pos(was.to_hz(zoom[1])), padding=0)
        else:
            self.plots[1].setYRange(*self._layout.scale.span, padding=0)
        self.show_activations()
        if "interpretation" in self._values:
            self.show_interpretation(self._values["interpretation"])
        if self._contribution is not None:
            self.show_focus(self.focused, self._contribution)

    def _show_spectrum(self) -> None:
        kind, lay = self.spectrum_kind, self._layout
        if kind == "log_mel":
            if "log_mel" not in self._grids:
                self._grids["log_mel"] = lay.rows(self._values["log_mel"], mel=True)
            grid = self._grids["log_mel"]
            levels = sd.auto_levels(grid)  # the classifier's own dB: never dB full scale
        else:
            grid, levels = self._grids["log_mag"], self._levels
        self._grids["spectrum"] = grid
        self.images[0].setImage(sd.rgba(grid, levels, self.display.colormap),
                                autoLevels=False)
        self.images[0].setRect(*lay.rect(self.duration))
        self._show_bar(1, levels, "dB (classifier's input)" if kind == "log_mel"
                       else "dB full scale")
        self._show_overlay()

    def _show_bar(self, row: int, levels: tuple[float, float], label: str) -> None:
        bar = self.bars[row]
        bar.setColorMap(sd.colormap(self.display.colormap))
        bar.setLevels(levels)
        bar.getAxis("right").setLabel(label)

    def _show_spectrum_title(self) -> None:
        if self.spectrum_kind == "log_mel":
            title = "Mel spectrogram (dB), as the classifier sees it"
        else:
            title = "Spectrogram (dB)"
        if self.overlay_on:
            title += f"; in {self.overlay_colour[1]}: component {self.focused}" + (
                " (silent in this clip)" if self._silent else "")
        self.plots[1].setTitle(title)

    def selected_range(self) -> tuple[float, float]:
        lo, hi = self.region.getRegion()
        return float(lo), float(hi)

    def _on_region(self, _item=None) -> None:
        lo, hi = self.selected_range()
        whole = lo <= 1e-9 and hi >= self.duration - 1e-9
        self.region_chosen.emit(None if whole else (round(lo, 4), round(hi, 4)))

    def set_region(self, region: tuple[float, float] | None) -> None:
        """Show the play range the session holds (None: the whole clip)."""
        self.region.blockSignals(True)  # a range shown is not a range chosen
        self.region.setRegion(region if region is not None else (0, self.duration))
        self.region.blockSignals(False)

    def show_interpretation(self, values: np.ndarray) -> None:
        """The interpretation's log(1+|X|) ``values``, drawn with the input's dB range
        so the two compare."""
        self._values["interpretation"] = values
        grid = self._layout.rows(sd.magnitude_db(values, self.n_fft))
        self._grids["interpretation"] = grid
        self.images[2].setImage(sd.rgba(grid, self._levels, self.display.colormap),
                                autoLevels=False)
        self.images[2].setRect(*self._layout.rect(self.duration))
        self._show_bar(3, self._levels, "dB full scale")

    def note_interpretation(self, note: str | None) -> None:
        """Say in the Interpretation view's title why it is silent (None: its usual
        title), in the scheme's error colour."""
        self.note = note
        self.plots[3].setTitle("Interpretation (dB)" if not note else
                               f"<span style='color:{theme.shown().error}'>"
                               f"Interpretation: {note}</span>")

    def mark_components(self, indices: list[int]) -> None:
        """Label the selected components on H's left axis (ticks outside the data)."""
        self._selected = list(indices)
        self._fit_to_height()

    def _add_focus_items(self) -> None:
        # the component in focus: a band around its row of H, its share of the spectrogram
        self._selected: list[int] = []
        self.focused: int | None = None  # shown, as the session says (show_focus)
        self._has_overlay = self._silent = False
        self._contribution: np.ndarray | None = None
        self.focus_band = pg.LinearRegionItem(orientation="horizontal", movable=False,
                                              brush=pg.mkBrush(0, 229, 255, 25),
                                              pen=pg.mkPen("#00e5ff", width=1))
        self.focus_band.setZValue(5)
        self.focus_band.hide()
        self.plots[2].addItem(self.focus_band)
        self.focus_overlay = pg.ImageItem(axisOrder="row-major")
        self.focus_overlay.setZValue(5)
        self.focus_overlay.hide()
        self.plots[1].addItem(self.focus_overlay)
        axis = self.plots[2].getAxis("left")
        axis.setTicks([[], []])
        axis.setToolTip("The numbers of the selected components (relevance above tau); a "
                        "coloured band marks the component in focus (click a relevance bar "
                        "or a row of the table)")
        self.plots[2].vb.sigResized.connect(self._fit_to_height)
        self.plots[2].vb.sigYRangeChanged.connect(self._fit_to_height)

    def show_focus(self, k: int | None, contribution: np.ndarray | None = None) -> None:
        """Show component ``k`` (None: none): a band around its row of H and, given its
        part of the clip ``contribution`` = W[:, k] H[k, :] (F x T), a coloured layer over
        the log-magnitude spectrogram."""
        self.focused = k
        self.focus_band.setVisible(k is not None)
        self._has_overlay = k is not None and contribution is not None
        self._contribution = contribution if self._has_overlay else None
        self._silent = self._has_overlay and not np.any(contribution > 0)
        if self._has_overlay and self._layout is not None:
            self.focus_overlay.setImage(sd.overlay_rgba(self._layout.rows(contribution),
                                                     self.overlay_colour[0]),
                                        autoLevels=False)
            self.focus_overlay.setRect(*self._layout.rect(self.duration))
        self._show_overlay()
        self.plots[2].setTitle("Component activations H" if k is None else
                               f"Component activations H: component {k} in the "
                               f"{self.overlay_colour[1]} band")
        self._fit_to_height()

    def _fit_to_height(self, *_args) -> None:
        """What depends on H's height in pixels: the band (never thinner than BAND_PX:
        a hundred rows leave one pixel each) and which tick labels fit."""
        vb = self.plots[2].vb
        rows_per_px = float(np.diff(vb.viewRange()[1])[0]) / max(vb.height(), 1.0)
        if self.focused is not None:
            half = max(0.5, BAND_PX / 2 * rows_per_px)
            self.focus_band.setRegion((self.focused + 0.5 - half, self.focused + 0.5 + half))
        self._label_ticks(LABEL_PX * rows_per_px)

    @property
    def overlay_colour(self) -> tuple[tuple[int, int, int], str]:
        return sd.OVERLAY.get(self.display.colormap, sd.OVERLAY["magma"])

    @property
    def overlay_on(self) -> bool:
        return self._has_overlay

    def _show_overlay(self) -> None:
        # over either picture: both are on the same frequency axis
        self.focus_overlay.setVisible(self.overlay_on)
        if self._values:
            self._show_spectrum_title()

    def _label_ticks(self, need: float) -> None:
        """A tick per selected component, labelled where the labels fit (``need`` rows
        apart): the focused one first, then the most relevant."""
        first = [self.focused] if self.focused is not None else []
        labelled: list[int] = []
        for k in first + self._selected:
            if all(abs(k - j) >= need for j in labelled):
                labelled.append(k)
        ticks = [(k + 0.5, str(k) if k in labelled else "")
                 for k in dict.fromkeys(first + self._selected)]
        self.plots[2].getAxis("left").setTicks([ticks, []])

    def time_axis(self) -> TimeAxis:
        """The one time axis, under the last row."""
        return (self.plots + self.lanes)[-1].getAxis("bottom")

    def set_cursor(self, seconds: float) -> None:
        for c in self.cursors:
            c.setValue(seconds)

    def _on_mouse(self, pos) -> None:
        for i, p in enumerate(self.plots):
            if p.sceneBoundingRect().contains(pos):
                self.hovered.emit(self.describe_point(i, p.vb.mapSceneToView(pos)))
                return

    def describe_point(self, row: int, pt) -> str:
        """What the status bar says under the mouse at view point ``pt`` of a row."""
        text = f"t = {self.time_axis().label_of(pt.x())}"
        if not self._values:
            return text
        frac = pt.x() / max(self.duration, 1e-9)
        if row in (1, 3):
            text += f"   f = {self._layout.scale.to_hz(pt.y()):.0f} Hz"
            grid = self._grids.get("spectrum" if row == 1 else "interpretation")
            value = None if grid is None else self._layout.value_at(grid, frac, pt.y())
            if value is not None:
                text += f"   level {value:.1f} dB"
        elif row == 2:
            H, k, col = self._values["H"], int(pt.y()), int(pt.x() / self._frame_s)
            text += f"   component {k}"
            if 0 <= k < H.shape[0] and 0 <= col < H.shape[1]:
                text += f"   activation {H[k, col]:.3f}"
        return text
