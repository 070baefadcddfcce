"""Augmentations for log-mel (dB) batches: gain, time shift, SpecAugment, mixing."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torchaudio.transforms as T


@dataclass
class AugmentConfig:
    gain_db: float = 6.0
    shift: bool = True
    freq_mask: int = 24
    time_mask: int = 48
    masks: int = 2
    mix_probability: float = 0.5
    mix_alpha: float = 0.4

    def to_dict(self) -> dict:
        return asdict(self)


class Augmenter:
    def __init__(self, cfg: AugmentConfig, generator: torch.Generator | None = None) -> None:
        self.cfg = cfg
        self.freq = T.FrequencyMasking(cfg.freq_mask, iid_masks=True) if cfg.freq_mask else None
        self.time = T.TimeMasking(cfg.time_mask, iid_masks=True) if cfg.time_mask else None
        self.gen = generator

    def _rand(self, *shape: int, device) -> torch.Tensor:
        return torch.rand(*shape, generator=self.gen).to(device)

    def __call__(self, mel: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor,
                                                                          torch.Tensor]:
        """mel (B, M, T) in dB, target (B, C) probabilities -> augmented copies."""
        cfg, b, dev = self.cfg, mel.shape[0], mel.device
        if cfg.gain_db:
            mel = mel + (self._rand(b, 1, 1, device=dev) * 2 - 1) * cfg.gain_db
        if cfg.shift:
            shifts = (self._rand(b, device="cpu") * mel.shape[-1]).long()
            mel = torch.stack([torch.roll(m, int(s), dims=-1) for m, s in zip(mel, shifts)])
        if cfg.mix_probability > 0 and b > 1:
            mel, target = self._mix(mel, target)
        fill = float(mel.mean())
        for _ in range(cfg.masks):
            if self.freq is not None:
                mel = self.freq(mel, fill)
            if self.time is not None:
                mel = self.time(mel, fill)
        return mel, target

    def _mix(self, mel: torch.Tensor, target: torch.Tensor):
        """Mix pairs of clips as sounds (in power, not in dB); labels mix in proportion."""
        b, dev = mel.shape[0], mel.device
        dist = torch.distributions.Beta(self.cfg.mix_alpha, self.cfg.mix_alpha)
        lam = dist.sample((b,)).to(dev)
        lam = torch.maximum(lam, 1 - lam)  # the first clip stays the main one
        use = self._rand(b, device=dev) < self.cfg.mix_probability
        lam = torch.where(use, lam, torch.ones_like(lam))
        perm = torch.randperm(b, generator=self.gen).to(dev)
        l3 = lam.view(b, 1, 1)
        power = l3 * torch.pow(10.0, mel / 10) + (1 - l3) * torch.pow(10.0, mel[perm] / 10)
        mixed = 10 * torch.log10(power.clamp_min(1e-10))
        mixed_target = lam.view(b, 1) * target + (1 - lam.view(b, 1)) * target[perm]
        return mixed, mixed_target
