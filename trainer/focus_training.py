"""Training the interpreter to explain a class by *that* class's sound (issue: focus).

The paper's loss never shows the interpreter a mixture, so on one its selected
components keep much of the other sound (EVALUATION.md, Focus). Here, besides the
clean clips, every batch holds synthetic mixtures of two training clips of different
classes at 0 dB. Their sources are known, so for each source's class c the explanation
of c on the mixture, made differentiable as in the faithfulness terms (every component
weighted by relu(r_k), its relevance for c), is pulled toward that source:

    L_sep = mean over both sources of  ln(||M_c S_m - S_c||^2 / ||S_c||^2)

on the complex STFT (S_m the mixture's, S_c the source's; M_c the soft mask). It is the
negative signal-to-error ratio of the masked mixture (in nepers of power: dB / 4.34),
which is what the focus metric's SI-SDR rewards. The interpreter reads the classifier's
hidden layers on the mixture, computed here each step (the classifier stays frozen).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.dsp.features import FrontEndConfig, analyse
from engine.explanation.focus import PEAK
from engine.runtime.errors import L2IError
from trainer.faithful_loss import soft_relevance


@dataclass
class MixtureBatch:
    log_mag: torch.Tensor  # (B, F, T) of the mixtures
    log_mel: torch.Tensor  # (B, M, T): the classifier's input
    spectrum: torch.Tensor  # (B, F, T) complex, the mixtures'
    sources: torch.Tensor  # (B, 2, F, T) complex, the two sources as mixed
    classes: torch.Tensor  # (B, 2) long


class MixturePool:
    """Draws 0 dB mixtures of two clips of different classes from training waveforms.

    The mix is the evaluation's (engine.explanation.focus.mix_pair: equal energy, common gain to a
    peak of 0.9), with the peak drawn in [PEAK / 4, PEAK] so that the level the
    classifier sees varies as it does in real recordings."""

    def __init__(self, waves: np.ndarray, labels: np.ndarray, frontend: FrontEndConfig
                 ) -> None:
        labels = np.asarray(labels)
        if labels.ndim != 1:
            raise L2IError("focus training needs single-label data (one class per clip)")
        if len(np.unique(labels)) < 2:
            raise L2IError("focus training needs clips of at least two classes")
        waves = np.asarray(waves, dtype=np.float32)
        energy = np.sqrt(np.square(waves, dtype=np.float64).sum(axis=1))
        keep = energy > 0  # a silent clip cannot be brought to 0 dB
        self.waves = waves[keep] / energy[keep, None].astype(np.float32)
        self.labels = labels[keep]
        self.cfg = frontend

    def draw(self, n: int, rng: np.random.Generator, device: torch.device) -> MixtureBatch:
        first = rng.integers(len(self.labels), size=n)
        second = np.empty_like(first)
        for i, a in enumerate(first):
            others = np.flatnonzero(self.labels != self.labels[a])
            second[i] = others[rng.integers(len(others))]
        pair = np.stack([self.waves[first], self.waves[second]], axis=1)  # (n, 2, N)
        mixed = pair.sum(axis=1)
        peak = PEAK * 2.0 ** -rng.uniform(0, 2, size=n)
        gain = peak / np.abs(mixed).max(axis=1).clip(1e-9)
        pair = (pair * gain[:, None, None]).astype(np.float32)
        x = torch.from_numpy(pair).to(device)
        spec = analyse(torch.cat([x.sum(dim=1), x.flatten(0, 1)]), self.cfg, device)
        S = spec.spectrum
        classes = torch.from_numpy(np.stack([self.labels[first], self.labels[second]], 1))
        return MixtureBatch(spec.log_mag[:n], spec.log_mel[:n], S[:n],
                            S[n:].reshape(n, 2, *S.shape[1:]), classes.long().to(device))


def separation_loss(W: torch.Tensor, H: torch.Tensor, z: torch.Tensor, theta: torch.Tensor,
                    batch: MixtureBatch, hard_tau: float | None = None) -> torch.Tensor:
    """L_sep (see the module's docstring), averaged over the mixtures and both sources.

    ``hard_tau``: the mask keeps exactly the components with r_k > tau, as explanations
    do, while the gradient is that of relu(r) (a straight-through estimate); None: every
    component weighted by relu(r_k)."""
    WH = torch.matmul(W, H)
    losses = []
    for j in range(batch.classes.shape[1]):
        weights = soft_relevance(z, theta, batch.classes[:, j])
        if hard_tau is not None:
            weights = (weights > hard_tau).to(weights.dtype) + weights - weights.detach()
        mask = _mask_with(WH, W, H, weights)
        target = batch.sources[:, j]
        err = (mask * batch.spectrum - target).abs().square().sum(dim=(1, 2))
        ref = target.abs().square().sum(dim=(1, 2))
        losses.append(torch.log(err + 1e-8) - torch.log(ref + 1e-8))
    return torch.stack(losses).mean()


def _mask_with(WH: torch.Tensor, W: torch.Tensor, H: torch.Tensor, weights: torch.Tensor
               ) -> torch.Tensor:
    """soft_mask with W H computed once for both sources. Weights lie in [0, 1], so the
    mask does too; it is not clamped, which would stop the gradient at exactly 0 (where
    no selected component is active, the mask is exactly 0)."""
    part = torch.matmul(W, weights.unsqueeze(-1) * H)
    return torch.where(WH > 0, part / WH.clamp_min(1e-12), torch.zeros_like(WH))
