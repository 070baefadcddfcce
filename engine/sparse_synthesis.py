"""Audio of single components, computed only where they are active.

Component k's masked spectrum M_k X is zero in every frame where h_k(t) = 0, and the
interpreter's activations are sparse (on ESC-10 about 98 % of H is exactly 0), so the
inverse STFT needs an inverse FFT only for the active (k, t) pairs; the frames are then
overlap-added and divided by the window envelope, exactly as ``torch.istft`` does.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from engine.features import FrontEndConfig, _window, window_envelope
from engine.masks import apply_mask


def component_waves(log_mag: torch.Tensor, phase: torch.Tensor, W: torch.Tensor,
                    H: torch.Tensor, indices: Sequence[int], cfg: FrontEndConfig,
                    length: int, domain: str = "log", WH: torch.Tensor | None = None,
                    spectrum: torch.Tensor | None = None) -> torch.Tensor:
    """(len(indices), length) waveforms: ISTFT((e^{M_k X} - 1) e^{iP}) for each k, the
    same signals as ``resynthesise_many(apply_mask(X, soft_masks(W, H, indices)))``.
    ``WH`` and, for linear masks, the complex ``spectrum`` (e^X - 1) e^{iP}: when the
    caller has them, they are not recomputed (with linear masks M_k S is the whole job)."""
    n_fft, hop = cfg.n_fft, cfg.hop_length
    F, T = log_mag.shape
    idx = torch.as_tensor(list(indices), dtype=torch.long, device=H.device)
    total = n_fft + (T - 1) * hop
    out = log_mag.new_zeros((len(idx), total))
    j, t = torch.nonzero(H[idx] > 0, as_tuple=True)
    if len(j):
        k = idx[j]
        WH = W @ H if WH is None else WH
        den = torch.where(WH > 0, WH, torch.ones_like(WH))
        mask = torch.where(WH[:, t] > 0, W[:, k] * H[k, t] / den[:, t],
                           torch.zeros(F, len(t), device=H.device))
        if domain == "linear" and spectrum is not None:
            spec = mask * spectrum[:, t]
        else:
            X = apply_mask(log_mag[:, t], mask, domain)
            spec = torch.polar(torch.expm1(X.clamp_min(0.0)), phase[:, t])
        window = _window(n_fft, str(log_mag.device))
        frames = torch.fft.irfft(spec.T, n=n_fft) * window  # (pairs, n_fft)
        starts = j * total + t * hop
        where = (starts.unsqueeze(1) + torch.arange(n_fft, device=H.device)).flatten()
        out.view(-1).index_add_(0, where, frames.flatten())
    out /= window_envelope(n_fft, hop, T, str(log_mag.device))
    padded = max((T - 1) * hop, length)
    return out[:, n_fft // 2: n_fft // 2 + padded][:, :length]
