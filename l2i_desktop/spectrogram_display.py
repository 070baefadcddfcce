"""Spectrograms as pictures the way the user chose to see them (``model.display``):
levels in dB, a colour map, rows on a linear, log or mel frequency axis labelled in Hz.

A picture of a 5-s clip (513 x 432 cells to 256 rows: dB, rows, levels, colours) takes
about 8 ms of CPU time here (median of 20, 7-9 ms from run to run; 9-30 ms of wall time
on the shared 2-core machine, by its load), so the views recolour on the UI thread when
a setting changes instead of asking the worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyqtgraph as pg

from l2i_desktop.model.display import (
    DisplaySettings,
    FrequencyScale,
    hz_label,
    mel_band_centres,
    to_rows,
)

DB_FLOOR = -140.0  # digital silence: below any real recording's noise floor
AUTO_SPAN_DB = 80.0  # auto range: the loudest cells and 80 dB under them
ROWS = 256  # a few hundred screen pixels high


@lru_cache(maxsize=8)
def colormap(name: str) -> pg.ColorMap:
    if name == "greys":
        return pg.ColorMap([0.0, 1.0], [(0, 0, 0), (255, 255, 255)])
    return pg.colormap.get(name)


@lru_cache(maxsize=8)
def lookup_table(name: str) -> np.ndarray:
    return colormap(name).getLookupTable(nPts=256, alpha=True)


def magnitude_db(log_mag: np.ndarray, n_fft: int) -> np.ndarray:
    """log(1 + |X|) to dB full scale: 0 dB is a full-scale sine's peak bin (a Hann
    window of n_fft samples sums to n_fft / 2, the sine's bin holds half of it)."""
    mag = np.expm1(np.maximum(np.asarray(log_mag, np.float32), 0.0))
    ref = n_fft / 4.0
    return np.maximum(20.0 * np.log10(np.maximum(mag, 1e-12) / ref), DB_FLOOR)


def auto_levels(db: np.ndarray) -> tuple[float, float]:
    """From the 99.5th percentile (a few loud cells must not darken the rest) down
    AUTO_SPAN_DB, or to the quietest cell if that is nearer."""
    hi = float(np.percentile(db, 99.5))
    lo = max(float(db.min()), hi - AUTO_SPAN_DB)
    return (lo, hi) if hi > lo else (hi - 1.0, hi)


def levels_of(db: np.ndarray, settings: DisplaySettings) -> tuple[float, float]:
    if settings.auto_range:
        return auto_levels(db)
    return settings.floor_db, settings.ceiling_db


def rgba(values: np.ndarray, levels: tuple[float, float], name: str) -> np.ndarray:
    lo, hi = levels
    scaled = (np.asarray(values, np.float32) - lo) * (255.0 / max(hi - lo, 1e-12))
    return lookup_table(name)[np.clip(scaled, 0, 255).astype(np.uint8)]


# the component in focus, in a colour that stands out on each colour map
OVERLAY = {"magma": ((0, 229, 255), "cyan"), "inferno": ((0, 229, 255), "cyan"),
           "viridis": ((255, 64, 160), "pink"), "greys": ((255, 140, 0), "orange")}


def overlay_rgba(contribution: np.ndarray, rgb: tuple[int, int, int] = OVERLAY["magma"][0]
                 ) -> np.ndarray:
    """A translucent picture of one component's part of the spectrogram in ``rgb``:
    opaque where it is loudest, clear where it is under 2% of that."""
    c = np.nan_to_num(np.asarray(contribution, np.float32))
    peak = float(c.max(initial=0.0))
    share = np.clip(c / peak, 0.0, 1.0) if peak > 0 else np.zeros_like(c)
    alpha = np.where(share < 0.02, 0.0, 40 + 190 * np.sqrt(share))
    rgba = np.empty(c.shape + (4,), np.uint8)
    rgba[..., :3] = rgb
    rgba[..., 3] = alpha.astype(np.uint8)
    return rgba


@dataclass
class Layout:
    """Where a clip's spectrogram rows sit: the frequency of each STFT bin and of each
    mel band, and the scale the axis uses."""

    scale: FrequencyScale
    bin_hz: np.ndarray
    mel_hz: np.ndarray

    @classmethod
    def of(cls, settings: DisplaySettings, sample_rate: int, n_bins: int, n_mels: int,
           f_min: float = 0.0, f_max: float | None = None) -> Layout:
        nyquist = sample_rate / 2
        return cls(FrequencyScale(settings.scale, nyquist), np.linspace(0, nyquist, n_bins),
                   mel_band_centres(n_mels, f_min, f_max or nyquist))

    def rows(self, values: np.ndarray, mel: bool = False) -> np.ndarray:
        """``values`` (one row per bin, or per mel band) on the axis' ROWS rows."""
        return to_rows(values, self.mel_hz if mel else self.bin_hz, self.scale, ROWS)

    def rect(self, duration: float) -> tuple[float, float, float, float]:
        lo, hi = self.scale.span
        return 0.0, lo, duration, hi - lo

    def value_at(self, grid: np.ndarray, t_frac: float, pos: float) -> float | None:
        """The value of a ROWS-row picture ``grid`` at a fraction of the clip's length
        and a frequency-axis position (None outside)."""
        lo, hi = self.scale.span
        row = int((pos - lo) / max(hi - lo, 1e-12) * grid.shape[0])
        col = int(t_frac * grid.shape[1])
        if 0 <= row < grid.shape[0] and 0 <= col < grid.shape[1]:
            return float(grid[row, col])
        return None


def colorbar(label: str) -> pg.ColorBarItem:
    """A narrow bar beside an image view, its axis in dB (not draggable: the range is
    set from the menu, where it can be typed)."""
    bar = pg.ColorBarItem(values=(0.0, 1.0), width=12, colorMap=colormap("magma"),
                          interactive=False, colorMapMenu=False,
                          pen="#404040")
    bar.getAxis("right").setWidth(44)
    bar.getAxis("right").setLabel(label)
    return bar


class FrequencyAxis(pg.AxisItem):
    """A frequency axis in Hz whatever the scale: round frequencies placed where the
    scale puts them, as many as fit (about one per 28 px), finer when zoomed in."""

    def __init__(self) -> None:
        super().__init__("left")
        self.freq_scale: FrequencyScale | None = None

    def set_scale(self, scale: FrequencyScale) -> None:
        self.freq_scale = scale
        self.picture = None  # pyqtgraph caches the drawn ticks
        self.update()

    def tickValues(self, minVal, maxVal, size):  # noqa: N802,N803 - pyqtgraph's names
        if self.freq_scale is None or self.freq_scale.kind == "linear":
            return super().tickValues(minVal, maxVal, size)
        lo_hz, hi_hz = self.freq_scale.to_hz(minVal), self.freq_scale.to_hz(maxVal)
        most = max(2, int(size / 28))
        chosen: list[float] = []
        for steps in ((1,), (1, 2, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9)):
            hz = np.array([s * 10.0 ** e for e in range(1, 6) for s in steps])
            hz = hz[(hz >= lo_hz) & (hz <= hi_hz)]
            if len(hz) > most and chosen:
                break
            chosen = list(hz)
        return [(1.0, [float(self.freq_scale.to_pos(f)) for f in chosen])]

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph's name
        if self.freq_scale is None:
            return super().tickStrings(values, scale, spacing)
        hz = [self.freq_scale.to_hz(v) for v in values]
        return [hz_label(float(f"{h:.3g}")) for h in hz]
