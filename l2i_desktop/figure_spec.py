"""What a figure shows, as plain data (numpy, no Qt): a title and panels stacked top to
bottom. ``l2i_desktop.figure`` draws it; ``figure_export`` builds it from a session.
Sizes are inches; y of images and bars grows upwards, as on the views."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Colourbar:
    """How an image's values became colours: ``lut`` (N x 4 RGBA uint8) spans ``low``
    to ``high`` (values outside take its ends); ``unit`` says what the values are."""

    lut: np.ndarray
    low: float
    high: float
    unit: str = ""


@dataclass(frozen=True)
class Axis:
    """Ticks of one axis: (value, label) pairs within ``range``; empty labels: a tick
    mark alone."""

    range: tuple[float, float]
    ticks: list[tuple[float, str]]
    label: str = ""


@dataclass(frozen=True)
class ImagePanel:
    """An RGBA uint8 picture (rows x columns x 4), row 0 at the bottom of ``y``
    (as the views draw it), spread over ``x`` and ``y``. ``marks``: y values pointed
    at from the right edge (the selected components of H, say)."""

    title: str
    rgba: np.ndarray
    x: Axis
    y: Axis
    colourbar: Colourbar | None = None
    marks: list[float] = field(default_factory=list)
    smooth: bool = True  # False: each cell a sharp block (a few rows of H)
    weight: float = 1.0  # its share of the figure's height


@dataclass(frozen=True)
class WavePanel:
    """A waveform as its (2, n) min/max ``envelope`` over ``x``."""

    title: str
    envelope: np.ndarray
    x: Axis
    y: Axis
    weight: float = 0.6


@dataclass(frozen=True)
class BarPanel:
    """One bar per value at x = 0..n-1; bars in ``selected`` drawn in colour, the rest
    grey; ``tau`` a red dashed line (None: none)."""

    title: str
    values: np.ndarray
    x: Axis
    y: Axis
    tau: float | None = None
    selected: frozenset[int] = frozenset()
    weight: float = 0.9


Panel = ImagePanel | WavePanel | BarPanel


@dataclass(frozen=True)
class FigureSpec:
    title: list[str]  # one line each; the first one bold
    panels: list[Panel]
    width_in: float = 7.0
    height_in: float = 8.0
    shared_time: bool = True  # waveform and images on one time axis: labelled once


def nice_ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    """Round values (1, 2, 2.5 or 5 times a power of ten) from lo to hi, about ``count``.

    >>> nice_ticks(0, 5.0), nice_ticks(0, 22050, 5)[-1]
    ([0.0, 1.0, 2.0, 3.0, 4.0, 5.0], 20000.0)
    """
    span = hi - lo
    if not math.isfinite(span) or span <= 0:
        return [float(lo)]
    raw = span / max(count - 1, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * 0.999)
    first = math.ceil(lo / step - 1e-9) * step
    n = int(math.floor((hi - first) / step + 1e-9)) + 1
    return [round(first + i * step, 10) + 0.0 for i in range(n)]


def tick_label(value: float) -> str:
    """Shortest plain form: 2, 2.5, 0.25, -1e-05 stays readable.

    >>> tick_label(2.0), tick_label(0.25), tick_label(-0.5)
    ('2', '0.25', '-0.5')
    """
    return f"{value:.6g}"


def axis(lo: float, hi: float, label: str = "", count: int = 6) -> Axis:
    """An axis with round ticks."""
    return Axis((float(lo), float(hi)), [(v, tick_label(v)) for v in nice_ticks(lo, hi, count)],
                label)
