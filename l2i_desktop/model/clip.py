"""What an analysis is of (a file, a part of one, a recording, live input) and the
engine's answer for it, ready to draw."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the window starts before torch is imported (engine types: annotations)
    from engine.explanation.explain import Analysis, Explanation


@dataclass(frozen=True)
class ClipSource:
    """``path`` is None for sound that has no file (a recording, live input): nothing
    tests a made-up path for existence any more.

    >>> ClipSource.file(Path("/tmp/dog.wav")).name, ClipSource.recording().path
    ('dog.wav', None)
    """

    name: str
    path: Path | None = None
    start_s: float = 0.0  # where a window of a long file begins

    @classmethod
    def file(cls, path: Path, start_s: float = 0.0) -> ClipSource:
        return cls(Path(path).name, Path(path), float(start_s))

    @classmethod
    def recording(cls) -> ClipSource:
        return cls("recording")

    @classmethod
    def live(cls) -> ClipSource:
        return cls("live input")

    @property
    def is_file(self) -> bool:
        return self.path is not None


@dataclass
class ClipResult:
    source: ClipSource
    analysis: Analysis
    explanation: Explanation
    envelope: np.ndarray  # (2, n) min and max per drawing bucket
    duration_s: float
    # of the log-magnitude, for tools that colour their own pictures (jobs.colorize)
    levels: tuple[float, float]

    @property
    def path(self) -> Path | None:
        """The file analysed, or None for a recording or live input."""
        return self.source.path
