"""How much of an explanation's energy lies inside given time regions (a user's labels):
a check of where in time the interpretation puts its weight, beside where the input
clip has its own energy and how much of the clip's duration the regions cover.

Energy per STFT frame is the sum over frequency of |X|^2, with |X| = expm1(log1p|X|).
Frame ``t`` is centred at ``t * seconds_per_frame`` (a centred STFT) and stands for the
cell half a hop either side of that, cut to the clip; a cell partly inside the regions
counts in proportion.

>>> lm = np.log1p(np.array([[1.0, 0.0, 1.0, 0.0]]))  # energy in frames 0 and 2 only
>>> s = energy_shares(lm, lm, 1.0, [(0.0, 0.5)], duration=4.0)
>>> s.duration, s.interpretation, s.input
(0.125, 0.5, 0.5)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EnergyShares:
    """Shares in [0, 1]; None where there is no energy to share (a silent
    interpretation: no component selected, or all muted)."""

    duration: float  # of the clip's duration, inside the regions
    interpretation: float | None  # of the interpretation's energy, inside them
    input: float | None  # of the input clip's energy, inside them


def frame_energy(log_mag: np.ndarray) -> np.ndarray:
    """Energy of each frame (column) of an F x T log1p-magnitude spectrogram."""
    mag = np.expm1(np.clip(np.asarray(log_mag, dtype=np.float64), 0.0, None))
    return np.square(mag).sum(axis=0)


def merged(regions: Iterable[tuple[float, float]], duration: float) -> np.ndarray:
    """The union of ``regions`` cut to [0, duration], as sorted disjoint (R, 2) rows:
    overlapping labels must not count a moment twice."""
    cut = sorted((max(0.0, float(a)), min(duration, float(b))) for a, b in regions)
    out: list[list[float]] = []
    for a, b in cut:
        if b < a:
            continue  # wholly outside the clip
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return np.array(out, dtype=np.float64).reshape(-1, 2)


def frame_coverage(n_frames: int, seconds_per_frame: float, regions: np.ndarray,
                   duration: float) -> np.ndarray:
    """The part (0..1) of each frame's cell inside the (merged) regions. A cell cut
    to nothing by the clip's end (the STFT's padding) counts as inside if its edge is."""
    edges = np.clip((np.arange(n_frames + 1) - 0.5) * seconds_per_frame, 0.0, duration)
    edges[-1] = max(edges[-1], duration) if n_frames else 0.0
    lo, hi = edges[:-1], edges[1:]
    if len(regions) == 0:
        return np.zeros(n_frames)
    a, b = regions[:, :1], regions[:, 1:]  # (R, 1) against (T,)
    overlap = np.clip(np.minimum(b, hi) - np.maximum(a, lo), 0.0, None).sum(axis=0)
    width = hi - lo
    point = ((a <= lo) & (lo <= b)).any(axis=0)
    return np.where(width > 0, overlap / np.where(width > 0, width, 1.0), point * 1.0)


def share_inside(energy: np.ndarray, coverage: np.ndarray) -> float | None:
    total = float(energy.sum())
    if not total > 0:
        return None
    return float(np.clip((energy * coverage).sum() / total, 0.0, 1.0))


def energy_shares(interpretation_log_mag: np.ndarray, input_log_mag: np.ndarray | None,
                  seconds_per_frame: float, regions: Iterable[tuple[float, float]],
                  duration: float | None = None) -> EnergyShares:
    """The shares of the duration, of the interpretation's energy and of the input's
    energy inside ``regions`` ((start, end) seconds; overlaps count once, parts outside
    the clip not at all). ``duration`` defaults to the frames' span."""
    interp = frame_energy(interpretation_log_mag)
    duration = float(duration) if duration is not None else \
        interp.shape[0] * seconds_per_frame
    spans = merged(regions, duration)
    covered = float((spans[:, 1] - spans[:, 0]).sum()) if len(spans) else 0.0

    def inside(energy: np.ndarray) -> float | None:
        return share_inside(energy, frame_coverage(energy.shape[0], seconds_per_frame,
                                                   spans, duration))
    return EnergyShares(covered / duration if duration > 0 else 0.0, inside(interp),
                        inside(frame_energy(input_log_mag)) if input_log_mag is not None
                        else None)
