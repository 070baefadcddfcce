"""SLIME's settings, free of torch: the window's SLIME panel shows the defaults at
start, before any model is loaded (engine.tools.slime re-exports them)."""

from __future__ import annotations

from dataclasses import dataclass

from engine.runtime.errors import L2IError

SEGMENTATIONS = ("time", "freq", "patches")
MAX_SECONDS = 60.0  # n_samples forward passes of the whole clip: beyond this, minutes


@dataclass(frozen=True)
class SlimeConfig:
    segmentation: str = "patches"
    time_segments: int = 10
    freq_bands: int = 8
    patches: tuple[int, int] = (5, 4)  # time segments x frequency bands
    n_samples: int = 300  # perturbed inputs, the all-on one included
    batch_size: int = 16
    seed: int = 0
    kernel_width: float = 0.25  # of the exponential kernel on the cosine distance
    ridge: float = 1.0  # L2 penalty of the surrogate (as LIME's default Ridge)
    top: int = 3  # at most this many segments are selected ...
    threshold: float = 0.1  # ... each with weight / max |weight| above this (as tau)

    def validate(self) -> SlimeConfig:
        if self.segmentation not in SEGMENTATIONS:
            raise L2IError(f"segments must be one of {', '.join(SEGMENTATIONS)}, "
                           f"not {self.segmentation!r}")
        sizes = (self.time_segments, self.freq_bands, *self.patches)
        if min(sizes) < 1:
            raise L2IError("segment counts must be at least 1")
        if self.n_samples < 2 or self.batch_size < 1:
            raise L2IError("SLIME needs at least 2 samples and a batch of at least 1")
        if self.kernel_width <= 0 or self.ridge < 0:
            raise L2IError("the kernel width must be > 0 and the ridge penalty >= 0")
        if self.top < 1 or not 0.0 <= self.threshold < 1.0:
            raise L2IError("top must be >= 1 and the threshold in [0, 1)")
        return self
