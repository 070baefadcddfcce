"""File > Export figure...: the explanation on screen as a figure drawn from its data.

``build_spec`` turns the session (clip, explanation, rendering) into a
``figure.FigureSpec``: waveform, spectrogram, activations H, interpretation and the
relevance bars, with a title naming the clip, the explained class, tau and the bundle.
Nothing of the window's state gets in (no playback cursor, no range handles) but how
the user chose to see it: the colour map, dB range and frequency scale of
``session.display``, as the views draw them (``spectrogram_display``).
``write_figures`` writes PNG/SVG/PDF atomically (export.write_file: one ExportError line).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QBuffer, QIODevice
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from l2i_desktop import figure, jobs
from l2i_desktop import figure_spec as fs
from l2i_desktop import spectrogram_display as sd
from l2i_desktop.export import ExportError, write_file
from l2i_desktop.figure_spec import Axis, BarPanel, Colourbar, FigureSpec, ImagePanel, WavePanel
from l2i_desktop.host import Host
from l2i_desktop.model import Session
from l2i_desktop.model.display import DisplaySettings
from l2i_desktop.worker import Lane

log = logging.getLogger(__name__)
FIGURE = Lane("figure")
DEFAULT_DPI = 300
SIZE_IN = (7.0, 8.0)  # a page-wide figure: width, height in inches


@dataclass(frozen=True)
class Coloured:
    rgba: np.ndarray  # rows x columns x 4 uint8, row 0 the lowest value of y
    colourbar: Colourbar


def colour(values: np.ndarray, levels: tuple[float, float] | None = None, unit: str = "",
           colormap: str = "magma") -> Coloured:
    """Values to colours in the user's colour map over ``levels`` (by default the
    minimum to the 99.5th percentile). A range that spans nothing (a sparse H, zero in
    99.5% of its cells) becomes the minimum to the maximum: a colourbar from 0 to 0
    says nothing."""
    values = np.asarray(values, np.float32)
    lo, hi = levels if levels is not None else jobs.display_levels(values)
    if not hi > lo and values.size:
        lo, hi = float(values.min()), float(values.max())
    return Coloured(sd.rgba(values, (lo, hi), colormap),
                    Colourbar(sd.lookup_table(colormap), float(lo), float(hi), unit))


def _array(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def _time_axis(start: float, duration: float) -> Axis:
    return fs.axis(start, start + duration, "time (s)", count=8)


def _index_axis(k: int, label: str, centred: bool) -> Axis:
    """Component numbers, at the middle of H's rows (``centred``) or of the bars."""
    shift = 0.5 if centred else 0.0
    values = [v for v in fs.nice_ticks(0, max(k - 1, 0), 9) if float(v).is_integer()]
    lo, hi = (0.0, float(k)) if centred else (-0.6, k - 0.4)
    return Axis((lo, hi), [(v + shift, str(int(v))) for v in values], label)


def _spectra(a: Any, shown: np.ndarray, kind: str, display: DisplaySettings
             ) -> tuple[Axis, Coloured, Coloured]:
    """The frequency axis (the window's scale, in Hz), the input's picture (log_mag in
    dB full scale, or the classifier's mel bands) and the interpretation's, both on the
    input's dB range, as the views draw them."""
    log_mag = _array(a.log_mag)
    n_fft = 2 * (log_mag.shape[0] - 1)
    lay = sd.Layout.of(display, a.sample_rate, log_mag.shape[0], _array(a.log_mel).shape[0])
    grid = lay.rows(sd.magnitude_db(log_mag, n_fft))
    levels = sd.levels_of(grid, display)
    if kind == "log_mel":
        mel = lay.rows(_array(a.log_mel), mel=True)
        source = colour(mel, sd.auto_levels(mel), "dB (classifier's input)", display.colormap)
    else:
        source = colour(grid, levels, "dB full scale", display.colormap)
    result = colour(lay.rows(sd.magnitude_db(shown, n_fft)), levels, "dB full scale",
                    display.colormap)
    label = "frequency (Hz)" + ("" if display.scale == "linear" else f", {display.scale} scale")
    return Axis(lay.scale.span, lay.scale.ticks(), label), source, result


def _short(text: str, most: int = 64) -> str:
    """A name cut in its middle past ``most`` characters (a title wraps at spaces
    only: a file name has none)."""
    return text if len(text) <= most else text[:most // 2 - 1] + "\u2026" + text[-(most // 2):]


def _named(ks: list[int], most: int = 12) -> str:
    shown = ", ".join(str(k) for k in ks[:most])
    return shown + (f" and {len(ks) - most} more" if len(ks) > most else "")


def build_spec(session: Session, spectrum_kind: str = "log_mag",
               width_in: float = SIZE_IN[0], height_in: float = SIZE_IN[1],
               display: DisplaySettings | None = None) -> FigureSpec:
    """The figure of what the session explains now, drawn as ``display`` says (by
    default the session's). Raises ExportError while there is nothing (or nothing
    consistent) to draw."""
    s = session
    if s.clip is None or s.explanation is None or s.explainer is None:
        raise ExportError("Nothing to draw yet: open a clip first.")
    clip, exp, bundle = s.clip, s.explanation, s.explainer.bundle
    a = clip.analysis
    log_mag, H = _array(a.log_mag), _array(a.H)
    rendering = s.rendering
    shown = _array(rendering.log_mag) if rendering is not None and \
        rendering.log_mag is not None else _array(exp.interpretation_log_mag)
    relevance = np.asarray(exp.relevance, float)
    if shown.shape != log_mag.shape or len(relevance) != H.shape[0]:
        raise ExportError("the explanation is being updated: export again in a moment")
    start, duration = float(clip.source.start_s), float(clip.duration_s)
    k, target = H.shape[0], int(exp.target)
    name = s.class_name(target)
    p = float(np.asarray(a.probabilities)[target]) if target < len(a.probabilities) else None
    selected = [int(i) for i in exp.selected]
    played = [int(i) for i in rendering.indices] if rendering is not None else selected
    title = [f"{_short(clip.source.name)}: explained class \u201c{_short(name)}\u201d"
             + (f" (p = {p:.2f})" if p is not None else ""),
             f"tau = {exp.threshold:.2f}, {len(selected)} of {k} components selected; "
             f"bundle {bundle.name}"]
    kind = spectrum_kind if spectrum_kind in ("log_mag", "log_mel") else "log_mag"
    display = display or s.display.settings
    y, source, result = _spectra(a, shown, kind, display)
    spec_title = ("Mel spectrogram (dB), as the classifier sees it" if kind == "log_mel"
                  else "Spectrogram (dB)")
    h = colour(H, None, "activation", display.colormap)
    peak = max(float(np.abs(clip.envelope).max(initial=0.0)), 1e-3)
    interp = (f"Interpretation: components {_named(played)}" if played else
              "Interpretation: no component plays (all muted, or none above tau)")
    if played != selected and played:
        interp += " (after mute/solo)"
    panels = [
        WavePanel("Waveform", np.asarray(clip.envelope, float),
                  _time_axis(start, duration),
                  Axis((-peak * 1.05, peak * 1.05), [(-peak, f"{-peak:.2g}"), (0.0, "0"),
                                                     (peak, f"{peak:.2g}")], "amplitude")),
        ImagePanel(spec_title, source.rgba, _time_axis(start, duration), y, source.colourbar),
        ImagePanel("Component activations H (\u25c2 selected components)", h.rgba,
                   _time_axis(start, duration), _index_axis(k, "component", True),
                   h.colourbar, marks=[i + 0.5 for i in selected], smooth=k > 64,
                   weight=0.8),
        ImagePanel(interp, result.rgba, _time_axis(start, duration), y, result.colourbar),
        BarPanel("Relevance of each component to the explained class (blue: above tau)",
                 relevance, _index_axis(k, "component", False),
                 fs.axis(min(0.0, float(relevance.min(initial=0.0))) - 0.05,
                             max(1.0, float(relevance.max(initial=0.0))) + 0.05,
                             "relevance", count=5),
                 tau=float(exp.threshold), selected=frozenset(selected)),
    ]
    return FigureSpec(title, panels, width_in, height_in)


def format_of(path: Path) -> str:
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in figure.FORMATS:
        raise ExportError(f"cannot write {path}: a figure is .png, .svg or .pdf")
    return fmt


def write_figure(path: Path, spec: FigureSpec, dpi: int = DEFAULT_DPI) -> Path:
    """One file, its format from its suffix, written atomically."""
    fmt = format_of(path)

    def write(tmp: Path) -> None:
        figure.save(spec, tmp, fmt, dpi)
        if tmp.stat().st_size == 0:
            raise RuntimeError("Qt wrote nothing")

    return write_file(path, write)


def write_figures(paths: list[Path], spec: FigureSpec, dpi: int = DEFAULT_DPI) -> list[Path]:
    return [write_figure(p, spec, dpi) for p in paths]


def png_bytes(spec: FigureSpec, dpi: int = DEFAULT_DPI) -> bytes:
    """The figure as a PNG file's bytes, drawn in memory."""
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not figure.to_image(spec, dpi).save(buffer, "PNG"):
        raise RuntimeError("the PNG could not be encoded")
    return bytes(buffer.data())


def explanation_pictures(session: Session, kind: str = "log_mag",
                         dpi: int = DEFAULT_DPI) -> dict[str, bytes]:
    """Export's views.png (the four views) and relevance.png (the bars), drawn from the
    data as the figure is, in memory: they are written with the audio and the tables,
    all or none (export.export_all)."""
    spec = build_spec(session, kind)
    views = FigureSpec(spec.title, spec.panels[:-1], spec.width_in, 6.5)
    bars = FigureSpec(spec.title, spec.panels[-1:], spec.width_in, 3.0)
    return {"views.png": png_bytes(views, dpi), "relevance.png": png_bytes(bars, dpi)}


def files_said(written: list[Path]) -> str:
    """``exported 3 files to /x: a.png, a.svg, a.pdf``: the count is what was written."""
    if not written:
        return "exported no file"
    folder = written[0].parent
    noun = "file" if len(written) == 1 else "files"
    return f"exported {len(written)} {noun} to {folder}: " + ", ".join(
        str(p.relative_to(folder)) if p.is_relative_to(folder) else str(p) for p in written)


class FigureDialog(QDialog):
    """Where (the suffix picks the format), which other formats too, and the PNG's DPI."""

    def __init__(self, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("figure_dialog")
        self.setWindowTitle("Export figure")
        self.path_edit = QLineEdit(str(path))
        self.path_edit.setMinimumWidth(self.path_edit.fontMetrics().horizontalAdvance("x") * 60)
        browse = QPushButton("Browse...")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        self.also = {fmt: QCheckBox(fmt.upper()) for fmt in figure.FORMATS}
        formats = QHBoxLayout()
        for box in self.also.values():
            formats.addWidget(box)
        formats.addStretch(1)
        self.dpi = QSpinBox()
        self.dpi.setRange(72, 1200)
        self.dpi.setValue(DEFAULT_DPI)
        self.dpi.setSuffix(" dpi")
        self.dpi.setToolTip("Pixels per inch of the PNG; SVG and PDF are drawn as "
                            "vectors (the PDF's resolution is this too)")
        form = QFormLayout(self)
        form.addRow("File", row)
        form.addRow("Formats", formats)
        self.pixels = QLabel()
        self.dpi.valueChanged.connect(self._say_pixels)
        self._say_pixels(self.dpi.value())
        dpi_row = QHBoxLayout()
        dpi_row.addWidget(self.dpi)
        dpi_row.addWidget(self.pixels, 1)
        form.addRow("PNG resolution", dpi_row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.path_edit.textChanged.connect(self._tick_suffix)
        self._tick_suffix(str(path))

    def _say_pixels(self, dpi: int) -> None:
        w, h = SIZE_IN
        self.pixels.setText(f"{w:g} x {h:g} inches: {round(w * dpi)} x {round(h * dpi)} pixels")

    def _tick_suffix(self, text: str) -> None:
        fmt = Path(text).suffix.lower().lstrip(".")
        if fmt in self.also:
            self.also[fmt].setChecked(True)

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export figure", self.path_edit.text(),
                                              "PNG image (*.png);;SVG (*.svg);;PDF (*.pdf)")
        if path:
            self.path_edit.setText(path)

    def paths(self) -> list[Path]:
        """One file per format ticked, named as the file chosen."""
        base = Path(self.path_edit.text().strip())
        if base.suffix.lower().lstrip(".") in figure.FORMATS:
            base = base.with_suffix("")
        return [base.with_name(f"{base.name}.{fmt}") for fmt, box in self.also.items()
                if box.isChecked()]


class FigureExport:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.action = QAction("Export &figure...", host.window)
        self.action.setObjectName("export_figure")
        self.action.setStatusTip("Draw the waveform, spectrograms, H and the relevance "
                                 "bars as a figure (PNG, SVG, PDF) with title and scales")
        self.action.triggered.connect(lambda _c=False: self.ask())
        self.action.setEnabled(False)
        host.add_action("file", self.action, after="export")
        host.session.clip_changed.connect(lambda _c: self.action.setEnabled(True))
        host.session.bundle_changed.connect(lambda _b: self.action.setEnabled(False))

    def default_path(self) -> Path:
        s = self.host.session
        stem = Path(s.clip.source.name).stem if s.clip is not None else "figure"
        cls = s.class_name(s.explained_class()) if s.clip is not None else ""
        name = "-".join(w for w in (stem, cls.replace(" ", "_"), "figure") if w)
        return Path(self.host.settings.last_folder() or Path.home()) / f"{name}.png"

    def ask(self) -> None:
        dialog = FigureDialog(self.default_path(), self.host.window)
        if dialog.exec() == QDialog.DialogCode.Accepted and dialog.paths():
            self.export(dialog.paths(), dialog.dpi.value())

    def export(self, paths: list[Path], dpi: int = DEFAULT_DPI) -> None:
        """Build the figure now (the session as it is), draw and write it on the worker."""
        try:
            for p in paths:
                format_of(p)
            spec = build_spec(self.host.session, self.host.views.spectrum_kind)
        except ExportError as exc:
            self.host.show_error(str(exc))
            return
        self.host.status(f"drawing the figure ({len(paths)} files)...")
        self.host.worker.submit(FIGURE, write_figures, [Path(p) for p in paths], spec, dpi,
                                done=self._written, failed=self.host.show_error)

    def _written(self, written: list[Path]) -> None:
        log.info("figure written: %s", written)
        self.host.status(files_said(written))


def install(host: Host) -> FigureExport:
    return FigureExport(host)
