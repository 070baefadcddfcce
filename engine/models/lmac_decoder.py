"""L-MAC's decoder (Paissan, Ravanelli, Subakan, ICML 2024): the classifier's tapped hidden
layers -> a mask M in [0, 1] over the linear-magnitude STFT (F x T).

The maps are brought to one grid as the L2I interpreter's Psi does (its ``_Adapter``:
a 1x1 conv per layer, then pooling or interpolation to ``freq_cells`` x T0), mixed,
upsampled twice per stage in frequency and time, and read out as one logit per cell.
The classifier's frequency axis is mel-spaced, so the coarse cells are laid evenly on
the mel scale of the bundle's front-end and each linear STFT bin takes the logit
interpolated at its own mel position; time is interpolated linearly to the T frames.
A learned per-cell offset lets a layer without a frequency axis (C x T, a transformer's
tokens) still give a mask that varies with frequency.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from engine.dsp.features import FrontEndConfig
from engine.models.interpreter import _Adapter


@dataclass
class LMACConfig:
    map_shapes: list[list[int]]  # per tapped layer, without batch: [C, F', T'] or [C, T']
    adapter_channels: int = 64
    hidden: int = 128
    freq_cells: int = 8  # the grid's height before upsampling
    up_stages: int = 2  # each doubles frequency and time and halves the channels

    def __post_init__(self) -> None:
        for name, low, high in (("adapter_channels", 1, 4096), ("hidden", 4, 4096),
                                ("freq_cells", 1, 64), ("up_stages", 0, 4)):
            v = getattr(self, name)
            if not (isinstance(v, int) and not isinstance(v, bool) and low <= v <= high):
                raise ValueError(f"L-MAC {name} must be an integer in {low}..{high}: {v!r}")
        if self.hidden >> self.up_stages < 1:
            raise ValueError("L-MAC hidden channels run out before the last upsampling")
        if not isinstance(self.map_shapes, list) or not self.map_shapes:
            raise ValueError("the L-MAC decoder needs at least one tapped layer")
        for s in self.map_shapes:
            if not (isinstance(s, list) and len(s) in (2, 3) and all(
                    isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 65536
                    for v in s)):
                raise ValueError(f"tapped maps must be C x F x T or C x T, got {s!r}")

    @property
    def mask_cells(self) -> int:
        """Frequency cells of the coarse mask (before the mel-to-linear interpolation)."""
        return self.freq_cells << self.up_stages

    def to_dict(self) -> dict:
        return asdict(self)


def slaney_mel(hz: torch.Tensor) -> torch.Tensor:
    """The Slaney mel scale the front-end's filter bank uses: linear below 1 kHz (3 mel
    per 200 Hz), logarithmic above (27 mel per factor 6.4)."""
    log_part = 15.0 + torch.log(hz.clamp_min(1000.0) / 1000.0) / (math.log(6.4) / 27.0)
    return torch.where(hz < 1000.0, 3.0 * hz / 200.0, log_part)


def mel_positions(frontend: FrontEndConfig, cells: int) -> torch.Tensor:
    """(F,) the fractional cell index (0 .. cells - 1) of each linear STFT bin, the cells
    laid evenly on the front-end's (Slaney) mel scale between f_min and f_max; bins
    outside take the nearest end."""
    f_max = frontend.f_max if frontend.f_max is not None else frontend.sample_rate / 2
    hz = torch.linspace(0, frontend.sample_rate / 2, frontend.n_freqs, dtype=torch.float64,
                        device="cpu")  # real numbers even while a bundle is checked on meta
    lo, hi = slaney_mel(torch.tensor([float(frontend.f_min), float(f_max)],
                                     dtype=torch.float64, device="cpu")).tolist()
    mel = slaney_mel(hz)
    pos = (mel - lo) / max(hi - lo, 1e-9) * (cells - 1)
    return pos.clamp(0, cells - 1).float()


class LMACDecoder(nn.Module):
    def __init__(self, cfg: LMACConfig, frontend: FrontEndConfig) -> None:
        super().__init__()
        self.config = cfg
        a, h, fc = cfg.adapter_channels, cfg.hidden, cfg.freq_cells
        self.adapters = nn.ModuleList(_Adapter(s, a, fc) for s in cfg.map_shapes)
        self.mix = nn.Sequential(nn.Conv2d(a * len(cfg.map_shapes), h, 3, padding=1,
                                           bias=False), nn.BatchNorm2d(h), nn.ReLU())
        self.freq_offset = nn.Parameter(torch.zeros(1, h, fc, 1))
        stages = []
        for i in range(cfg.up_stages):
            c_in, c_out = h >> i, h >> (i + 1)
            stages += [nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                       nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                       nn.BatchNorm2d(c_out), nn.ReLU()]
        self.up = nn.Sequential(*stages)
        self.out = nn.Conv2d(h >> cfg.up_stages, 1, 3, padding=1)
        pos = mel_positions(frontend, cfg.mask_cells)
        low = pos.floor().long().clamp(max=cfg.mask_cells - 1)
        # not saved: derived from the front-end, which the manifest already holds
        self.register_buffer("_low", low, persistent=False)
        self.register_buffer("_high", (low + 1).clamp(max=cfg.mask_cells - 1),
                             persistent=False)
        self.register_buffer("_frac", pos - low, persistent=False)

    def logits(self, maps: list[torch.Tensor], n_frames: int) -> torch.Tensor:
        """(B, F, T) pre-sigmoid mask."""
        t0 = max(m.shape[-1] for m in maps)
        x = torch.cat([ad(m, t0) for ad, m in zip(self.adapters, maps)], dim=1)
        x = self.up(self.mix(x) + self.freq_offset)
        coarse = self.out(x)[:, 0]  # (B, mask_cells, T1)
        coarse = F.interpolate(coarse, size=n_frames, mode="linear", align_corners=False)
        frac = self._frac.to(coarse.dtype)[:, None]
        return coarse[:, self._low] * (1 - frac) + coarse[:, self._high] * frac

    def forward(self, maps: list[torch.Tensor], n_frames: int) -> torch.Tensor:
        """M in [0, 1], (B, F, T)."""
        return torch.sigmoid(self.logits(maps, n_frames))
