"""The interpreter: Psi maps tapped hidden layers to NMF activations H (K x T);
Theta pools H over time and mimics the classifier with a bias-free linear layer."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class InterpreterConfig:
    k: int
    n_classes: int
    map_shapes: list[list[int]]  # per tapped layer, without batch: [C, F', T'] or [C, T']
    pooling: str = "attention"  # or "max"
    adapter_channels: int = 128
    hidden: int = 256
    attention_hidden: int = 256
    attention_dropout: float = 0.4
    freq_cells: int = field(default=0)  # 0: derived from the shallowest 2-D map
    # the 1-D convs run on ceil(T / temporal_stride) frames and H is then interpolated to
    # T: most of Psi's cost at stride 1 (the paper's layout), 1/stride of it otherwise
    temporal_stride: int = 1
    mask_domain: str = "log"  # how explanations apply masks (engine.explanation.masks.apply_mask)
    # explanations refine H on the input itself (engine.dsp.nmf.refine, W fixed) before any
    # mask is made: 0 = the interpreter's H as it is (the paper)
    refine_iterations: int = 0
    refine_sparsity: float = 0.0

    def __post_init__(self) -> None:
        if self.pooling not in ("attention", "max"):
            raise ValueError(f"pooling must be 'attention' or 'max', not {self.pooling!r}")
        for name in ("k", "n_classes", "adapter_channels", "hidden", "attention_hidden"):
            v = getattr(self, name)
            if not (isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 65536):
                raise ValueError(f"interpreter {name} must be an integer in 1..65536: {v!r}")
        if not (isinstance(self.attention_dropout, (int, float))
                and 0 <= self.attention_dropout < 1):
            raise ValueError(f"attention_dropout must lie in [0, 1): {self.attention_dropout!r}")
        if self.mask_domain not in ("log", "linear"):
            raise ValueError(f"mask_domain must be 'log' or 'linear': {self.mask_domain!r}")
        if not (isinstance(self.temporal_stride, int) and 1 <= self.temporal_stride <= 16):
            raise ValueError(f"temporal_stride must be an integer in 1..16: "
                             f"{self.temporal_stride!r}")
        if not (isinstance(self.refine_iterations, int) and 0 <= self.refine_iterations <= 1000):
            raise ValueError(f"refine_iterations must be an integer in 0..1000: "
                             f"{self.refine_iterations!r}")
        if not (isinstance(self.refine_sparsity, (int, float)) and self.refine_sparsity >= 0
                and self.refine_sparsity < 1e6):
            raise ValueError(f"refine_sparsity must be a number >= 0: {self.refine_sparsity!r}")
        if not isinstance(self.freq_cells, int) or self.freq_cells > 64:
            raise ValueError(f"freq_cells must be an integer up to 64: {self.freq_cells!r}")
        if not self.map_shapes:
            raise ValueError("the interpreter needs at least one tapped layer")
        for s in self.map_shapes:
            if len(s) not in (2, 3):
                raise ValueError(f"tapped maps must be C x F x T or C x T, got shape {s}")
        if self.freq_cells <= 0:
            heights = [s[1] for s in self.map_shapes if len(s) == 3]
            self.freq_cells = max(1, min(min(heights), 8)) if heights else 1

    def to_dict(self) -> dict:
        return asdict(self)


class _Adapter(nn.Module):
    """One tapped map -> (adapter_channels, freq_cells, T0)."""

    def __init__(self, shape: list[int], out_ch: int, freq_cells: int) -> None:
        super().__init__()
        self.two_d = len(shape) == 3
        conv = nn.Conv2d if self.two_d else nn.Conv1d
        bn = nn.BatchNorm2d if self.two_d else nn.BatchNorm1d
        self.proj = nn.Sequential(conv(shape[0], out_ch, 1, bias=False), bn(out_ch), nn.ReLU())
        self.freq_cells = freq_cells

    def forward(self, x: torch.Tensor, t0: int) -> torch.Tensor:
        x = self.proj(x)
        if self.two_d:
            return F.adaptive_avg_pool2d(x, (self.freq_cells, t0)) if x.shape[-1] >= t0 \
                else F.interpolate(F.adaptive_avg_pool2d(x, (self.freq_cells, x.shape[-1])),
                                   size=(self.freq_cells, t0), mode="bilinear",
                                   align_corners=False)
        x = F.interpolate(x, size=t0, mode="linear", align_corners=False)
        return x.unsqueeze(2).expand(-1, -1, self.freq_cells, -1)


class Psi(nn.Module):
    """Hidden-layer maps -> H in R+^{K x T}: align, concatenate, collapse frequency,
    upsample time to the STFT's T frames (or T / temporal_stride), 1-D convs to K
    channels, ReLU (then, with a stride, linear interpolation to T: H stays >= 0)."""

    def __init__(self, cfg: InterpreterConfig) -> None:
        super().__init__()
        a, h, fc = cfg.adapter_channels, cfg.hidden, cfg.freq_cells
        self.adapters = nn.ModuleList(_Adapter(s, a, fc) for s in cfg.map_shapes)
        self.mix = nn.Sequential(
            nn.Conv2d(a * len(cfg.map_shapes), h, 3, padding=1, bias=False),
            nn.BatchNorm2d(h), nn.ReLU(),
            nn.Conv2d(h, h, (fc, 1), bias=False),  # collapse frequency
            nn.BatchNorm2d(h), nn.ReLU(),
        )
        self.stride = cfg.temporal_stride
        self.temporal = nn.Sequential(
            nn.Conv1d(h, h, 5, padding=2, bias=False), nn.BatchNorm1d(h), nn.ReLU(),
            nn.Conv1d(h, h, 5, padding=2, bias=False), nn.BatchNorm1d(h), nn.ReLU(),
            nn.Conv1d(h, cfg.k, 5, padding=2),
        )

    def forward(self, maps: list[torch.Tensor], n_frames: int) -> torch.Tensor:
        t0 = max(m.shape[-1] for m in maps)
        x = torch.cat([ad(m, t0) for ad, m in zip(self.adapters, maps)], dim=1)
        x = self.mix(x).squeeze(2)  # (B, hidden, t0)
        coarse = -(-n_frames // self.stride)
        x = F.interpolate(x, size=coarse, mode="linear", align_corners=False)
        H = F.relu(self.temporal(x))
        if coarse != n_frames:
            H = F.interpolate(H, size=n_frames, mode="linear", align_corners=False)
        return H


class Theta(nn.Module):
    """Pools H over time (gated attention or max) and maps K -> C without bias."""

    def __init__(self, cfg: InterpreterConfig) -> None:
        super().__init__()
        self.pooling = cfg.pooling
        if cfg.pooling == "attention":
            self.att_v = nn.Linear(cfg.k, cfg.attention_hidden)
            self.att_u = nn.Linear(cfg.k, cfg.attention_hidden)
            self.att_w = nn.Linear(cfg.attention_hidden, 1)
            self.att_drop = nn.Dropout(cfg.attention_dropout)
        self.fc = nn.Linear(cfg.k, cfg.n_classes, bias=False)

    def pool(self, H: torch.Tensor) -> torch.Tensor:
        """z (B, K) from H (B, K, T)."""
        if self.pooling == "max":
            return H.amax(dim=-1)
        h = H.transpose(1, 2)  # (B, T, K)
        gate = torch.tanh(self.att_v(h)) * F.relu(self.att_u(h))
        a = torch.softmax(self.att_w(self.att_drop(gate)).squeeze(-1), dim=-1)  # (B, T)
        return torch.bmm(H, a.unsqueeze(-1)).squeeze(-1)

    def forward(self, H: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.pool(H)
        return self.fc(z), z


class Interpreter(nn.Module):
    def __init__(self, cfg: InterpreterConfig) -> None:
        super().__init__()
        self.config = cfg
        self.psi = Psi(cfg)
        self.theta = Theta(cfg)

    def forward(self, maps: list[torch.Tensor], n_frames: int):
        """Returns H (B, K, T), logits (B, C) and pooled z (B, K)."""
        H = self.psi(maps, n_frames)
        logits, z = self.theta(H)
        return H, logits, z

    @property
    def class_weights(self) -> torch.Tensor:
        """theta (C x K): the linear layer behind each class's relevance."""
        return self.theta.fc.weight
