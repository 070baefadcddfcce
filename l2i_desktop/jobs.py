"""What the engine worker computes for the window: plain numpy results, ready to draw.

These functions run on the worker thread only; views just display their results.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.audio import load_audio
from engine.bundle import load_bundle
from engine.explain import Analysis, Explainer, Explanation, Rendering


@dataclass
class ClipResult:
    path: Path
    analysis: Analysis
    explanation: Explanation
    envelope: np.ndarray  # (2, n) min and max per drawing bucket
    duration_s: float


def open_bundle(path: Path) -> Explainer:
    return Explainer(load_bundle(path))


def envelope(wave: np.ndarray, buckets: int = 4000) -> np.ndarray:
    """Min and max of the waveform in ``buckets`` equal slices (for drawing)."""
    n = max(1, len(wave) // buckets)
    usable = wave[: len(wave) // n * n].reshape(-1, n) if len(wave) >= n else wave[None, :]
    return np.stack([usable.min(axis=1), usable.max(axis=1)])


def analyse_clip(explainer: Explainer, path: Path, target: int | None, tau: float
                 ) -> ClipResult:
    wave = load_audio(path, explainer.cfg.sample_rate)
    analysis = explainer.analyse(wave)
    explanation = explainer.explain(analysis, target, tau, with_components=False)
    return ClipResult(Path(path), analysis, explanation, envelope(wave),
                      len(wave) / explainer.cfg.sample_rate)


def explain(explainer: Explainer, analysis: Analysis, target: int, tau: float) -> Explanation:
    return explainer.explain(analysis, target, tau, with_components=False)


def render(explainer: Explainer, analysis: Analysis, indices: list[int]) -> Rendering:
    return explainer.render(analysis, indices)


def component(explainer: Explainer, analysis: Analysis, k: int) -> np.ndarray:
    return explainer.component_audio(analysis, [k])[k]
