"""L-MAC, the peer method (Paissan, Ravanelli, Subakan, ICML 2024; DESIGN.md): a decoder
reads the classifier's hidden layers and masks the linear-magnitude STFT.

Masked-in is M |X| and masked-out (1 - M) |X|, both with the input's phase: as the
STFT is complex, that is M S and (1 - M) S, resynthesised by the same inverse STFT the
L2I interpretations use (engine.dsp.features.istft), so a mask of ones gives the input
back and a mask of zeros silence. Both go through the classifier's own front-end.

Training loss, the classifier frozen, c its decision on the (mixed) input:
    l_in * CE(f(masked-in), c) - l_out * CE(f(masked-out), c) + l1 * mean |M|
and, optionally (guided fine-tuning), g * BCE(M, clean spectrogram binarised at 0.35)
on the mixtures whose clean source correlates with the mixture at >= 0.6.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.bundles.bundle import Bundle
from engine.dsp.features import FrontEndConfig, istft, mel_db, stft
from engine.explanation.long_clips import LONG_FRAMES
from engine.models.taps import LayerTaps
from engine.models.user_classifier import classifier_input
from engine.runtime.devices import resolve_device
from engine.runtime.errors import AudioError, BundleError, L2IError


@dataclass
class LMACWeights:
    """The SpeechBrain recipe's weights (hparams/lmac_cnn14.yaml)."""

    l_in: float = 4.0
    l_out: float = 0.2
    l1: float = 0.4
    guided: float = 0.0  # 0: off; the recipe's guided fine-tuning uses 4
    guide_threshold: float = 0.35  # the clean spectrogram (max-normalised) binarised here
    guide_correlation: float = 0.6  # only mixtures whose source correlates at least this

    def to_dict(self) -> dict:
        return asdict(self)


def masked_waves(S: torch.Tensor, M: torch.Tensor, cfg: FrontEndConfig, length: int
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """(masked-in, masked-out) waveforms (..., length) of a complex STFT S and a mask M
    of the same (..., F, T) shape. Differentiable in M."""
    both = istft(torch.stack([M * S, (1 - M) * S]), cfg, length)
    return both[0], both[1]


def classify(classifier: nn.Module, kind: str, waves: torch.Tensor, cfg: FrontEndConfig
             ) -> torch.Tensor:
    """Logits of (B, N) waveforms through the classifier's own front-end."""
    return classifier(classifier_input(kind, waves, cfg))


def loss_terms(classifier: nn.Module, kind: str, cfg: FrontEndConfig, S: torch.Tensor,
               M: torch.Tensor, c: torch.Tensor, length: int
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(CE of masked-in toward c, CE of masked-out toward c, mean |M|, the masked-in and
    masked-out logits stacked (2, B, C)). Gradients reach M through the frozen classifier."""
    w_in, w_out = masked_waves(S, M, cfg, length)
    logits = classify(classifier, kind, torch.cat([w_in, w_out]), cfg).float()
    l_in, l_out = logits[: len(c)], logits[len(c):]
    return (F.cross_entropy(l_in, c), F.cross_entropy(l_out, c), M.abs().mean(),
            torch.stack([l_in, l_out]))


def total_loss(w: LMACWeights, ce_in: torch.Tensor, ce_out: torch.Tensor, l1: torch.Tensor
               ) -> torch.Tensor:
    return w.l_in * ce_in - w.l_out * ce_out + w.l1 * l1


def guided_term(M: torch.Tensor, clean_mag: torch.Tensor, mix_mag: torch.Tensor,
                w: LMACWeights) -> tuple[torch.Tensor, int]:
    """(BCE of M toward the binarised clean spectrogram over the guided mixtures, how many
    were guided). Spectrograms are log1p magnitudes, max-normalised per clip (a silent
    clip stays 0, never divided by zero); correlation is the normalised
    cross-correlation of the clean and mixed log spectrograms."""
    clean = torch.log1p(clean_mag)
    mixed = torch.log1p(mix_mag)
    peak = clean.amax(dim=(-2, -1), keepdim=True)
    target = (clean / torch.where(peak > 0, peak, 1.0) > w.guide_threshold).to(M.dtype)
    a = clean - clean.mean(dim=(-2, -1), keepdim=True)
    b = mixed - mixed.mean(dim=(-2, -1), keepdim=True)
    den = (a.square().sum(dim=(-2, -1)) * b.square().sum(dim=(-2, -1))).sqrt()
    ncc = torch.where(den > 0, (a * b).sum(dim=(-2, -1)) / den.clamp_min(1e-20), 0.0)
    keep = ncc >= w.guide_correlation
    if not keep.any():
        return M.new_zeros(()), 0
    bce = F.binary_cross_entropy(M[keep].clamp(1e-6, 1 - 1e-6), target[keep])
    return bce, int(keep.sum())


def mask_statistics(M: np.ndarray | torch.Tensor) -> dict[str, float]:
    m = torch.as_tensor(M).float()
    return {"mean": float(m.mean()), "share_above_half": float((m > 0.5).float().mean())}


@dataclass
class LMACResult:
    """One clip explained by L-MAC: the classifier's probabilities on the clip, on the
    masked-in and the masked-out audio, the mask and both waveforms (bundle rate)."""

    probabilities: np.ndarray  # (C,)
    probabilities_in: np.ndarray
    probabilities_out: np.ndarray
    mask: np.ndarray  # (F, T) in [0, 1]
    interpretation: np.ndarray  # masked-in
    residual: np.ndarray  # masked-out

    @property
    def predicted(self) -> int:
        return int(np.argmax(self.probabilities))


class LMACExplainer:
    """Runs a bundle's L-MAC decoder on clips. Not thread-safe."""

    def __init__(self, bundle: Bundle, device: str | torch.device = "cpu") -> None:
        if bundle.lmac is None:
            raise BundleError(f"{bundle.name} has no L-MAC decoder: train one with "
                              "`l2i train lmac --into BUNDLE` (or use --method l2i)")
        if bundle.multilabel:
            raise L2IError("L-MAC explains single-label classifiers only")
        self.device = resolve_device(device)
        self.bundle = bundle.to(self.device)
        self.cfg: FrontEndConfig = bundle.frontend
        self.taps = LayerTaps(bundle.classifier, bundle.lmac_layers)

    def close(self) -> None:
        self.taps.remove()

    def __enter__(self) -> LMACExplainer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _input(self, S: torch.Tensor, waves: torch.Tensor) -> torch.Tensor:
        if self.bundle.classifier_input == "log_mel":
            return mel_db(S.abs(), self.cfg)
        return waves

    @torch.no_grad()
    def mask(self, waves: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(probabilities (B, C), M (B, F, T), S (B, F, T)) of (B, N) waveforms."""
        waves = waves.to(self.device, torch.float32)
        S = stft(waves, self.cfg)
        logits, maps = self.taps(self._input(S, waves))
        M = self.bundle.lmac(maps, S.shape[-1])
        if not (torch.isfinite(logits).all() and torch.isfinite(M).all()):
            raise L2IError("the model produced non-finite outputs for this clip")
        return torch.softmax(logits.float(), -1), M, S

    @torch.no_grad()
    def explain_batch(self, waves: np.ndarray | torch.Tensor) -> list[LMACResult]:
        """Clips of one length, (B, N) at the bundle's rate."""
        waves = torch.as_tensor(np.asarray(waves, dtype=np.float32))
        if waves.ndim != 2 or waves.shape[-1] == 0:
            raise AudioError("expected non-empty mono signals")
        if not torch.isfinite(waves).all():
            raise AudioError("the audio contains NaN or infinite samples")
        if self.cfg.n_frames(waves.shape[-1]) > LONG_FRAMES:  # one piece: memory grows with T
            seconds = (LONG_FRAMES - 1) * self.cfg.hop_length / self.cfg.sample_rate
            raise L2IError(f"L-MAC explains clips of up to {seconds:.0f} s in one piece; cut "
                           "longer recordings (the L2I method explains them whole)")
        p, M, S = self.mask(waves)
        w_in, w_out = masked_waves(S, M, self.cfg, waves.shape[-1])
        both = classify(self.bundle.classifier, self.bundle.classifier_input,
                        torch.cat([w_in, w_out]), self.cfg)
        q = torch.softmax(both.float(), -1).reshape(2, len(waves), -1)
        to = lambda t: t.cpu().numpy()  # noqa: E731
        return [LMACResult(to(p[i]), to(q[0, i]), to(q[1, i]), to(M[i]), to(w_in[i]),
                           to(w_out[i])) for i in range(len(waves))]

    def explain(self, wave: np.ndarray) -> LMACResult:
        return self.explain_batch(np.asarray(wave, dtype=np.float32)[None])[0]
