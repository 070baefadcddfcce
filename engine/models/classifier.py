"""The built-in classifier (a VGG-style CNN after Kumar et al., 2018) and its registry.

Input: log-mel in dB shaped (B, n_mels, T). Blocks of [3x3 conv + BN + ReLU] x n and a
2x2 max-pool; ceil-mode pooling so even a one-frame clip keeps one cell per block.
The last three block outputs are what the interpreter reads by default.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
from torch import nn


@dataclass
class VGGConfig:
    widths: list[int] = field(default_factory=lambda: [16, 32, 64, 128, 256, 512])
    convs_per_block: int = 1
    dropout: float = 0.3

    def to_dict(self) -> dict:
        return asdict(self)


class VGGClassifier(nn.Module):
    """Returns class logits (B, C); named blocks ``block1``.. for hidden-layer taps."""

    def __init__(self, n_classes: int, config: VGGConfig | None = None) -> None:
        super().__init__()
        cfg = config or VGGConfig()
        self.config = cfg
        self.input_norm = nn.BatchNorm2d(1)
        blocks = []
        ch = 1
        for width in cfg.widths:
            layers: list[nn.Module] = []
            for _ in range(cfg.convs_per_block):
                layers += [nn.Conv2d(ch, width, 3, padding=1, bias=False),
                           nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
                ch = width
            layers.append(nn.MaxPool2d(2, ceil_mode=True))
            blocks.append(nn.Sequential(*layers))
        self.blocks = nn.ModuleList(blocks)
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(2 * ch, n_classes)

    def block_names(self) -> list[str]:
        return [f"blocks.{i}" for i in range(len(self.blocks))]

    def features(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.input_norm(mel.unsqueeze(1))
        for block in self.blocks:
            x = block(x)
        return x

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.features(mel).mean(dim=2)  # collapse frequency: (B, C, T')
        pooled = torch.cat([x.mean(dim=2), x.amax(dim=2)], dim=1)
        return self.head(self.dropout(pooled))


ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {}


def register(name: str) -> Callable:
    def deco(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        ARCHITECTURES[name] = fn
        return fn
    return deco


@register("vgg")
def _build_vgg(n_classes: int, config: dict) -> nn.Module:
    return VGGClassifier(n_classes, vgg_config(config))


def vgg_config(config: dict) -> VGGConfig:
    """Settings from a manifest or a user, checked before any layer is made."""
    known = VGGConfig.__dataclass_fields__
    unknown = set(config) - set(known)
    if unknown:
        raise ValueError(f"unknown VGG settings: {sorted(unknown)}")
    cfg = VGGConfig(**config)
    widths = cfg.widths
    if not (isinstance(widths, list) and 1 <= len(widths) <= 16
            and all(isinstance(w, int) and not isinstance(w, bool) and 1 <= w <= 8192
                    for w in widths)):
        raise ValueError(f"VGG widths must be 1 to 16 channel counts in 1..8192: {widths!r}")
    if not (isinstance(cfg.convs_per_block, int) and 1 <= cfg.convs_per_block <= 8):
        raise ValueError(f"convs_per_block must be 1..8: {cfg.convs_per_block!r}")
    if not (isinstance(cfg.dropout, (int, float)) and 0 <= cfg.dropout < 1):
        raise ValueError(f"dropout must lie in [0, 1): {cfg.dropout!r}")
    return cfg


def build_classifier(architecture: str, n_classes: int, config: dict) -> nn.Module:
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown classifier architecture {architecture!r}; "
                         f"known: {', '.join(sorted(ARCHITECTURES))}")
    return ARCHITECTURES[architecture](n_classes, dict(config))


def default_taps(model: nn.Module) -> list[str]:
    """The last three conv blocks of the built-in CNN, the paper's choice."""
    if isinstance(model, VGGClassifier):
        return model.block_names()[-3:]
    raise ValueError("no default layers for this model; name the layers to tap")
