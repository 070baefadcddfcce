"""Audio of single components, computed only where they are active.

Component k's masked spectrum M_k X is zero in every frame where h_k(t) = 0, and the
interpreter's activations are sparse (on ESC-10 about 98 % of H is exactly 0), so the
inverse STFT needs an inverse FFT only for the active (k, t) pairs; the frames are then
overlap-added and divided by the window envelope, exactly as ``torch.istft`` does.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from engine.dsp.features import FrontEndConfig, _window, window_envelope
from engine.explanation.masks import apply_mask


def component_waves(log_mag: torch.Tensor, phase: torch.Tensor, W: torch.Tensor,
                    H: torch.Tensor, indices: Sequence[int], cfg: FrontEndConfig,
                    length: int, domain: str = "log", WH: torch.Tensor | None = None,
                    spectrum: torch.Tensor | None = None) -> torch.Tensor:
    """(len(indices), length) waveforms: ISTFT((e^{M_k X} - 1) e^{iP}) for each k, the
    same signals as ``resynthesise_many(apply_mask(X, soft_masks(W, H, indices)))``.
    ``WH`` and, for linear masks, the complex ``spectrum`` (e^X - 1) e^{iP}: when the
    caller has them, they are not recomputed (with linear masks M_k S is the whole job)."""
    n_fft, hop = cfg.n_fft, cfg.hop_length
    T = log_mag.shape[1]
    idx = torch.as_tensor(list(indices), dtype=torch.long, device=H.device)
    total = n_fft + (T - 1) * hop
    out = log_mag.new_zeros((len(idx), total))  # overlap-added frames, as torch.istft
    j, t = torch.nonzero(H[idx] > 0, as_tuple=True)
    if len(j) and n_fft % hop == 0:  # whole hop-long rows: n_fft / hop adds per frame
        frames = _active_frames(log_mag, phase, W, H, idx, j, t, cfg, domain, WH, spectrum)
        r = n_fft // hop
        rows = log_mag.new_zeros((len(idx) * (T + r - 1), hop))
        first = j * (T + r - 1) + t
        for i, part in enumerate(frames.reshape(len(j), r, hop).unbind(1)):
            rows.index_add_(0, first + i, part)
        out = rows.view(len(idx), total)
    elif len(j):
        frames = _active_frames(log_mag, phase, W, H, idx, j, t, cfg, domain, WH, spectrum)
        starts = j * total + t * hop
        where = (starts.unsqueeze(1) + torch.arange(n_fft, device=H.device)).flatten()
        out.view(-1).index_add_(0, where, frames.flatten())
    out /= window_envelope(n_fft, hop, T, str(log_mag.device))
    padded = max((T - 1) * hop, length)
    return out[:, n_fft // 2: n_fft // 2 + padded][:, :length]


def _active_frames(log_mag: torch.Tensor, phase: torch.Tensor, W: torch.Tensor,
                   H: torch.Tensor, idx: torch.Tensor, j: torch.Tensor, t: torch.Tensor,
                   cfg: FrontEndConfig, domain: str, WH: torch.Tensor | None,
                   spectrum: torch.Tensor | None) -> torch.Tensor:
    """Windowed inverse FFTs (pairs, n_fft) of the active (component j, frame t) pairs.
    Frames are gathered as rows of (T, F) copies: picking columns of F x T is slow."""
    k = idx[j]
    WH_t = (W @ H if WH is None else WH).T.contiguous()
    den = torch.where(WH_t > 0, WH_t, torch.ones_like(WH_t))[t]
    mask = torch.where(WH_t[t] > 0, W.T[k] * H[k, t].unsqueeze(1) / den,
                       torch.zeros_like(den))  # (pairs, F)
    if domain == "linear" and spectrum is not None:
        spec = mask * spectrum.T.contiguous()[t]
    else:
        X = apply_mask(log_mag.T.contiguous()[t], mask, domain)
        spec = torch.polar(torch.expm1(X.clamp_min(0.0)), phase.T.contiguous()[t])
    return torch.fft.irfft(spec, n=cfg.n_fft) * _window(cfg.n_fft, str(log_mag.device))
