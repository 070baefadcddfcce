"""Contaminated copies of clips (the literature's out-of-domain protocol, DESIGN.md).

Each copy is w_s s/||s|| + w_n n/||n||, scaled back to the energy of s: the front-end
and the classifier are level-sensitive, so only the signal-to-contaminant ratio changes.
Weights: mixture 0.8 / 0.2 (n: a clip of another class), white noise 1 / 0.5, speech
0.8 / 0.2 (n: a spoken digit of ../shared/data/fsdd at a random offset).
The label of a contaminated copy is the clean clip's label. The signal helpers (``mix``,
``place``, ``fit_length``) live in engine/tools/corruption.py, which the app uses too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from engine.dsp.audio import load_audio
from engine.runtime.errors import L2IError
from engine.tools.corruption import fit_length, mix, place

KINDS = ("mixture", "white", "speech")
WEIGHTS = {"mixture": (0.8, 0.2), "white": (1.0, 0.5), "speech": (0.8, 0.2)}
COPIES = 2


class Contaminator:
    """Seeded contaminated copies; ``others(label, rng)`` returns a clip of another class
    (the caller knows the dataset) for mixtures."""

    def __init__(self, kind: str, sample_rate: int, seed: int = 0,
                 others: Callable[[object, np.random.Generator], np.ndarray] | None = None,
                 speech_dir: Path | None = None) -> None:
        if kind not in KINDS:
            raise L2IError(f"unknown contamination '{kind}' (choose from {', '.join(KINDS)})")
        self.kind, self.sr = kind, sample_rate
        self.rng = np.random.default_rng([seed, KINDS.index(kind)])
        self.others = others
        self.speech: list[Path] = []
        if kind == "mixture" and others is None:
            raise L2IError("mixtures need other clips to mix with")
        if kind == "speech":
            folder = speech_dir if speech_dir is not None else Path("../shared/data/fsdd")
            self.speech = sorted(folder.rglob("*.wav")) if folder.is_dir() else []
            if not self.speech:
                raise L2IError(f"no spoken-digit WAV files under {folder} (--speech DIR)")

    def noise_for(self, wave: np.ndarray, label: object) -> np.ndarray:
        if self.kind == "white":
            return self.rng.standard_normal(len(wave)).astype(np.float32)
        if self.kind == "mixture":
            return fit_length(self.others(label, self.rng), len(wave))
        digit = load_audio(self.speech[int(self.rng.integers(len(self.speech)))], self.sr)
        return place(digit, len(wave), self.rng)

    def copies(self, wave: np.ndarray, label: object) -> list[np.ndarray]:
        ws, wn = WEIGHTS[self.kind]
        return [mix(wave, self.noise_for(wave, label), ws, wn) for _ in range(COPIES)]


def other_class_picker(load: Callable[[int], np.ndarray], labels: np.ndarray,
                       rows: Sequence[int]) -> Callable[[object, np.random.Generator],
                                                        np.ndarray]:
    """others(label, rng): a clip among ``rows`` whose label differs from ``label``."""
    rows = np.asarray(rows)

    def pick(label: object, rng: np.random.Generator) -> np.ndarray:
        differ = [r for r in rows if not np.array_equal(labels[r], label)]
        if not differ:
            raise L2IError("mixtures need clips of at least two classes")
        return load(int(differ[int(rng.integers(len(differ)))]))

    return pick
