"""How spectrograms are shown: colour map, dB range and frequency scale (no Qt).

A way of looking, not an edit: it is not undone, and it is remembered between runs.
The views place every spectrogram on one frequency axis whose coordinate is the
scale's (Hz, log10 Hz or mel), so the input and the interpretation zoom together, and
label it in Hz whatever the scale.

>>> s = FrequencyScale("mel", 22050.0)
>>> round(s.to_hz(s.to_pos(1000.0)), 6)
1000.0
>>> d = Display()
>>> seen = []
>>> _ = d.changed.connect(seen.append)
>>> d.set(colormap="viridis"); seen[-1].colormap
'viridis'
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from l2i_desktop.model.events import Event

COLORMAPS = ("magma", "viridis", "inferno", "greys")
SCALES = ("linear", "log", "mel")
LOG_LOW_HZ = 20.0  # the log scale starts here: the threshold of hearing, not 0 Hz


@dataclass(frozen=True)
class DisplaySettings:
    colormap: str = "magma"
    scale: str = "linear"
    auto_range: bool = True  # True: each picture from its quietest cell to its 99.5th pct
    floor_db: float = -90.0  # dB full scale, when auto_range is off
    ceiling_db: float = -10.0

    def checked(self) -> DisplaySettings:
        """The same with anything unknown or impossible replaced by the default (a
        settings file edited by hand must not break the views)."""
        d = DisplaySettings()
        colormap = self.colormap if self.colormap in COLORMAPS else d.colormap
        scale = self.scale if self.scale in SCALES else d.scale
        floor, ceiling = float(self.floor_db), float(self.ceiling_db)
        if not (np.isfinite(floor) and np.isfinite(ceiling) and ceiling > floor):
            floor, ceiling = d.floor_db, d.ceiling_db
        return DisplaySettings(colormap, scale, bool(self.auto_range), floor, ceiling)


class Display:
    """The display settings of a window, evented: ``changed`` says the new settings."""

    def __init__(self, settings: DisplaySettings | None = None) -> None:
        self.settings = (settings or DisplaySettings()).checked()
        self.changed: Event[DisplaySettings] = Event("display changed")

    def set(self, **changes: object) -> None:
        """Change some settings; a range whose ceiling is not above its floor is
        refused (the range stays as it was), an unknown name becomes the default."""
        new = dataclasses.replace(self.settings, **changes)
        if not (np.isfinite(new.floor_db) and np.isfinite(new.ceiling_db)
                and new.ceiling_db > new.floor_db):
            new = dataclasses.replace(new, floor_db=self.settings.floor_db,
                                      ceiling_db=self.settings.ceiling_db)
        new = new.checked()
        if new != self.settings:
            self.settings = new
            self.changed.emit(new)


class FrequencyScale:
    """Hz <-> the position on a frequency axis, for a scale up to ``nyquist``."""

    def __init__(self, kind: str, nyquist: float) -> None:
        if kind not in SCALES:
            raise ValueError(f"unknown frequency scale {kind!r} (one of {SCALES})")
        self.kind = kind
        self.nyquist = float(nyquist)
        self.low_hz = LOG_LOW_HZ if kind == "log" else 0.0

    def to_pos(self, hz: np.ndarray | float) -> np.ndarray | float:
        hz = np.asarray(hz, np.float64)
        if self.kind == "log":
            out = np.log10(np.maximum(hz, self.low_hz))
        elif self.kind == "mel":
            out = hz_to_mel(hz)
        else:
            out = hz
        return float(out) if out.ndim == 0 else out

    def to_hz(self, pos: np.ndarray | float) -> np.ndarray | float:
        pos = np.asarray(pos, np.float64)
        if self.kind == "log":
            out = 10.0 ** pos
        elif self.kind == "mel":
            out = mel_to_hz(pos)
        else:
            out = pos
        return float(out) if out.ndim == 0 else out

    @property
    def span(self) -> tuple[float, float]:
        """The axis' positions from its lowest frequency to the Nyquist frequency."""
        return float(self.to_pos(self.low_hz)), float(self.to_pos(self.nyquist))

    def ticks(self) -> list[tuple[float, str]]:
        """Round frequencies for the axis, at their positions, labelled in Hz/kHz."""
        if self.kind == "linear":
            step = 2000.0 if self.nyquist > 8000 else 1000.0 if self.nyquist > 3000 else 500.0
            hz = np.arange(0.0, self.nyquist + 1, step)
        else:
            hz = np.array([f * m for m in (10, 100, 1000, 10000) for f in (1, 2, 5)])
            hz = hz[(hz >= max(self.low_hz, 1.0)) & (hz <= self.nyquist)]
            if self.kind == "mel":
                hz = np.concatenate([[0.0], hz[hz >= 100]])
        return [(float(self.to_pos(f)), hz_label(f)) for f in hz]


def hz_label(hz: float) -> str:
    """A frequency as an axis says it.

    >>> hz_label(500.0), hz_label(2000.0), hz_label(12500.0)
    ('500', '2k', '12.5k')
    """
    if hz >= 1000:
        return f"{hz / 1000:g}k"
    return f"{hz:g}"


# Slaney's mel scale (linear below 1 kHz, logarithmic above), as torchaudio's
# melscale_fbanks(mel_scale="slaney") that makes the classifier's input
_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOG_STEP = np.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    hz = np.asarray(hz, np.float64)
    linear = hz / _F_SP
    log_part = _MIN_LOG_MEL + np.log(np.maximum(hz, 1e-9) / _MIN_LOG_HZ) / _LOG_STEP
    return np.where(hz >= _MIN_LOG_HZ, log_part, linear)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, np.float64)
    return np.where(mel >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOG_STEP * (mel - _MIN_LOG_MEL)),
                    _F_SP * mel)


def mel_band_centres(n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    """The centre frequency of each of ``n_mels`` triangular mel bands in Hz."""
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    return edges[1:-1]


def to_rows(values: np.ndarray, row_hz: np.ndarray, scale: FrequencyScale,
            n_rows: int = 256) -> np.ndarray:
    """``values`` (rows at frequencies ``row_hz``, ascending) on ``n_rows`` rows equally
    spaced on ``scale``: a row that spans several source rows takes their maximum (a
    narrow peak stays visible), one that falls between two is interpolated."""
    values = np.asarray(values, np.float32)
    lo, hi = scale.span
    edges_hz = np.asarray(scale.to_hz(np.linspace(lo, hi, n_rows + 1)))
    centres_hz = np.asarray(scale.to_hz(np.linspace(lo, hi, 2 * n_rows + 1)[1::2]))
    # interpolated at each row's centre
    idx = np.clip(np.searchsorted(row_hz, centres_hz) - 1, 0, len(row_hz) - 2)
    w = np.clip((centres_hz - row_hz[idx]) / (row_hz[idx + 1] - row_hz[idx]), 0.0, 1.0)
    out = values[idx] * (1 - w)[:, None] + values[idx + 1] * w[:, None]
    # the maximum of the source rows inside each row, where there are two or more
    first = np.searchsorted(row_hz, edges_hz[:-1])
    last = np.searchsorted(row_hz, edges_hz[1:])
    many = np.nonzero(last - first >= 2)[0]
    if len(many):
        padded = np.vstack([values, values[-1:]])  # reduceat's indices must be < len
        pairs = np.stack([first[many], last[many]], axis=1).ravel()
        out[many] = np.maximum.reduceat(padded, pairs, axis=0)[0::2]
    return out
