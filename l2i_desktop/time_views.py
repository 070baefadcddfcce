"""Waveform, spectrogram, component activations and interpretation on one time axis."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal


class TimeViews(pg.GraphicsLayoutWidget):
    hovered = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.setBackground("w")
        titles = ["Waveform", "Spectrogram log(1+|X|)", "Component activations H",
                  "Interpretation"]
        self.plots = []
        for row, title in enumerate(titles):
            p = self.addPlot(row=row, col=0, title=title)
            p.setMenuEnabled(False)
            p.showGrid(x=False, y=False)
            if self.plots:
                p.setXLink(self.plots[0])
            self.plots.append(p)
        self.wave_curve = self.plots[0].plot(pen=pg.mkPen("#1f4e79"))
        self.images = [pg.ImageItem(axisOrder="row-major") for _ in range(3)]
        for img, p in zip(self.images, self.plots[1:]):
            p.addItem(img)
            img.setColorMap(pg.colormap.get("magma"))
        self.plots[1].setLabel("left", "Hz")
        self.plots[2].setLabel("left", "k")
        self.plots[3].setLabel("left", "Hz")
        self.plots[3].setLabel("bottom", "time", units="s")
        self.cursors = [pg.InfiniteLine(0, angle=90, pen=pg.mkPen("#2ca02c", width=2))
                        for _ in self.plots]
        for c, p in zip(self.cursors, self.plots):
            p.addItem(c)
        self._marks: list[pg.InfiniteLine] = []
        self._scale = (1.0, 1.0, 1.0)  # seconds per frame, Hz per bin, duration
        self.scene().sigMouseMoved.connect(self._on_mouse)

    def show_clip(self, envelope: np.ndarray, duration: float, log_mag: np.ndarray,
                  H: np.ndarray, sample_rate: int) -> None:
        t = np.linspace(0, duration, envelope.shape[1])
        self.wave_curve.setData(np.repeat(t, 2), envelope.T.ravel())
        frames = log_mag.shape[1]
        nyquist = sample_rate / 2
        self._scale = (duration / frames, nyquist / (log_mag.shape[0] - 1), duration)
        self.images[0].setImage(log_mag, autoLevels=True)
        self.images[0].setRect(0, 0, duration, nyquist)
        self.images[1].setImage(H, autoLevels=True)
        self.images[1].setRect(0, 0, duration, H.shape[0])
        self.plots[0].setXRange(0, duration, padding=0)

    def show_interpretation(self, log_mag: np.ndarray, levels: tuple[float, float]) -> None:
        self.images[2].setImage(log_mag, levels=levels)
        self.images[2].setRect(0, 0, self._scale[2], self._scale[1] * (log_mag.shape[0] - 1))

    def mark_components(self, indices: list[int]) -> None:
        for m in self._marks:
            self.plots[2].removeItem(m)
        self._marks = [pg.InfiniteLine(k + 0.5, angle=0, pen=pg.mkPen("#00c8ff", width=1))
                       for k in indices]
        for m in self._marks:
            self.plots[2].addItem(m)

    def set_cursor(self, seconds: float) -> None:
        for c in self.cursors:
            c.setValue(seconds)

    def _on_mouse(self, pos) -> None:
        for i, p in enumerate(self.plots):
            if p.sceneBoundingRect().contains(pos):
                pt = p.vb.mapSceneToView(pos)
                text = f"t = {pt.x():.3f} s"
                if i in (1, 3):
                    text += f"   f = {pt.y():.0f} Hz"
                elif i == 2:
                    text += f"   component {int(pt.y())}"
                img = self.images[i - 1] if i else None
                if img is not None and img.image is not None:
                    h, w = img.image.shape
                    col = int(pt.x() / max(self._scale[0], 1e-9))
                    row = int(pt.y() / self._scale[1]) if i != 2 else int(pt.y())
                    if 0 <= row < h and 0 <= col < w:
                        text += f"   value {img.image[row, col]:.3f}"
                self.hovered.emit(text)
                return
