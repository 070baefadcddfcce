"""What the engine worker computes for the window: plain numpy results, ready to draw.

These functions run on the worker thread only; views just display their results.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPainter

from engine.dsp.audio import load_audio, resample
from engine.runtime.preload import preload_torch_libraries
from engine.runtime.progress import TaskState, check
from l2i_desktop.model.clip import ClipResult, ClipSource

if TYPE_CHECKING:  # torch is first imported here, on the worker, by open_bundle
    from engine.explanation.explain import Analysis, Explainer, Explanation, Rendering

MAX_PICTURE_ROWS = 256
_LUT = pg.colormap.get("magma").getLookupTable(nPts=256, alpha=True)


def display_levels(values: np.ndarray) -> tuple[float, float]:
    """Colour range from the minimum to the 99.5th percentile: a few loud cells must not
    turn the rest of the picture black."""
    return float(values.min()), float(np.percentile(values, 99.5))


def colorize(values: np.ndarray, levels: tuple[float, float] | None = None) -> np.ndarray:
    """RGBA uint8 picture of a 2-D array: drawing it costs the UI thread nothing."""
    lo, hi = levels if levels is not None else display_levels(values)
    rows = values.shape[0]
    if rows > MAX_PICTURE_ROWS:  # a few hundred screen pixels high: keep the peaks
        step = -(-rows // MAX_PICTURE_ROWS)
        padded = np.pad(values, ((0, -rows % step), (0, 0)), constant_values=lo)
        values = padded.reshape(-1, step, values.shape[1]).max(axis=1)
    scaled = (values - lo) * (255.0 / max(hi - lo, 1e-12))
    return _LUT[np.clip(scaled, 0, 255).astype(np.uint8)]


@dataclass
class BundleResult:
    explainer: Explainer
    patterns: list[QImage]  # a tiny mask of each component's spectral pattern


def open_bundle(path: Path, trust_code: bool = False) -> BundleResult:
    """The previous model is closed later, by a job queued after every job that may
    still use it (MainWindow._bundle_opened). The first bundle's load is where torch is
    imported: on the worker, while the window is already shown."""
    preload_torch_libraries()  # the slow dlopens first, without the GIL: the UI paints
    from engine.bundles.bundle import load_bundle
    from engine.explanation.explain import Explainer

    explainer = Explainer(load_bundle(path, trust_code=trust_code))
    W = explainer.bundle.W.cpu().numpy()
    return BundleResult(explainer, [pattern_image(W[:, k]) for k in range(W.shape[1])])


def pattern_image(column: np.ndarray, width: int = 60, height: int = 18) -> QImage:
    """One spectral pattern, low frequencies left, energy as height: opaque bars on a
    clear ground, made off the UI thread; the table colours it in the scheme shown
    (side_panels.pattern_icon)."""
    bins = np.array_split(np.asarray(column, float), width)
    levels = np.array([b.max() for b in bins])
    levels = levels / max(levels.max(), 1e-12)
    img = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(Qt.GlobalColor.transparent)
    painter = QPainter(img)
    painter.setPen(QColor("black"))
    for x, v in enumerate(levels):
        painter.drawLine(x, height - 1, x, height - 1 - int(v * (height - 2)))
    painter.end()
    return img


def envelope(wave: np.ndarray, buckets: int = 1500) -> np.ndarray:
    """Min and max of the waveform in ``buckets`` equal slices (for drawing)."""
    n = max(1, len(wave) // buckets)
    usable = wave[: len(wave) // n * n].reshape(-1, n) if len(wave) >= n else wave[None, :]
    return np.stack([usable.min(axis=1), usable.max(axis=1)])


def analyse_clip(explainer: Explainer, source: ClipSource | Path, target: int | None,
                 tau: float, recorded: tuple[np.ndarray, int] | None = None,
                 task: TaskState | None = None) -> ClipResult:
    """A file, or a ``recorded`` (wave, rate) pair from ``source``; ``task`` can cancel a
    long analysis between blocks (engine.explanation.long_clips)."""
    if not isinstance(source, ClipSource):
        source = ClipSource.file(Path(source))
    if recorded is None:
        wave = load_audio(source.path, explainer.cfg.sample_rate)
    else:
        wave = resample(np.asarray(recorded[0], np.float32), recorded[1],
                        explainer.cfg.sample_rate)
    analysis = explainer.analyse(wave, task)
    check(task)
    explanation = explainer.explain(analysis, target, tau, with_components=False)
    # the views colour the values themselves, with the user's display settings
    # (spectrogram_display); these levels serve the tools that draw their own pictures
    levels = display_levels(analysis.log_mag.cpu().numpy())
    return ClipResult(source, analysis, explanation, envelope(wave),
                      len(wave) / explainer.cfg.sample_rate, levels)


@dataclass
class Explained:
    """An explanation; one made with components muted or soloed comes with the
    ``rendering`` of what they leave of it."""

    explanation: Explanation
    rendering: Rendering | None = None


def explain(explainer: Explainer, analysis: Analysis, target: int, tau: float,
            muted: frozenset[int] = frozenset(),
            soloed: frozenset[int] = frozenset()) -> Explained:
    """Explain ``target``; with ``muted``/``soloed`` (kept across an undo) the
    interpretation plays what they leave of the new selection."""
    exp = explainer.explain(analysis, target, tau, with_components=False)
    chosen = set(exp.selected)
    if not (muted & chosen or soloed & chosen):
        return Explained(exp)
    solo = [k for k in exp.selected if k in soloed]
    active = solo or [k for k in exp.selected if k not in muted]
    return Explained(exp, explainer.render(analysis, active))


def render(explainer: Explainer, analysis: Analysis, indices: list[int]) -> Rendering:
    return explainer.render(analysis, indices)


def component(explainer: Explainer, analysis: Analysis, k: int) -> np.ndarray:
    return explainer.component_audio(analysis, [k])[k]


def export_data(folder: Path, explainer: Explainer, clip: ClipResult, explanation: Explanation,
                rendering: Rendering, files: dict[str, bytes] | None = None) -> list[Path]:
    """Audio (interpretation, residual, each selected component), the CSVs and ``files``
    (the pictures, drawn on the UI thread), moved into ``folder`` together
    (export.export_all)."""
    from l2i_desktop import export

    cfg = explainer.cfg
    return export.export_all(folder, explainer, clip, explanation, rendering,
                             cfg.hop_length / cfg.sample_rate, files)
