"""Relevance, selection and soft-mask resynthesis (the paper's Algorithm 2)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from engine.dsp.features import FrontEndConfig, resynthesise


def relevance(z: torch.Tensor, theta_c: torch.Tensor) -> torch.Tensor:
    """r_k = z_k theta_ck / max_l |z_l theta_cl|; all zeros when every contribution is 0."""
    contrib = z * theta_c
    if contrib.dtype != torch.float64 and not torch.isfinite(contrib).all():
        # finite z and theta whose product overflows float32: the same ratios in float64
        return relevance(z.double(), theta_c.double()).to(contrib.dtype)
    peak = contrib.abs().amax(dim=-1, keepdim=True)
    return torch.where(peak > 0, contrib / torch.where(peak > 0, peak, 1.0),
                       torch.zeros_like(contrib))


def select(r: torch.Tensor, tau: float) -> list[int]:
    """Indices k with r_k > tau, most relevant first."""
    idx = torch.nonzero(r > tau).flatten()
    return idx[torch.argsort(r[idx], descending=True)].tolist()


def _safe_denominator(WH: torch.Tensor) -> torch.Tensor:
    # where the model predicts nothing, masks are 0 (not NaN): the residual keeps that energy
    return torch.where(WH > 0, WH, torch.ones_like(WH))


def soft_masks(W: torch.Tensor, H: torch.Tensor, indices: Sequence[int]) -> torch.Tensor:
    """M_k = w_k h_k^T / (W H) for each k in ``indices``: (n, F, T). Zero where W H = 0."""
    WH = W @ H
    den = _safe_denominator(WH)
    idx = torch.as_tensor(list(indices), dtype=torch.long, device=W.device)
    masks = W[:, idx].T.unsqueeze(-1) * H[idx].unsqueeze(1)  # (n, F, T)
    return torch.where(WH > 0, masks / den, torch.zeros_like(masks))


def group_mask(W: torch.Tensor, H: torch.Tensor, indices: Sequence[int],
               WH: torch.Tensor | None = None) -> torch.Tensor:
    """Sum of the soft masks of ``indices`` in one F x T product: W_L H_L / (W H).
    ``WH``: the product W H when the caller already has it."""
    WH = W @ H if WH is None else WH
    if len(indices) == 0:
        return torch.zeros_like(WH)
    idx = torch.as_tensor(list(indices), dtype=torch.long, device=W.device)
    part = W[:, idx] @ H[idx]
    return torch.where(WH > 0, part / _safe_denominator(WH), torch.zeros_like(WH))


MASK_DOMAINS = ("log", "linear")


def apply_mask(X: torch.Tensor, mask: torch.Tensor, domain: str = "log") -> torch.Tensor:
    """Masked log-magnitude. "log": the paper's M * X on X = log(1 + |S|); "linear": the
    mask scales the magnitude itself, log(1 + M |S|), so a mask of 1/2 halves the
    amplitude instead of taking the square root of (1 + |S|)."""
    if domain == "log":
        return mask * X
    if domain == "linear":
        return torch.log1p(mask * torch.expm1(X))
    raise ValueError(f"mask domain must be one of {MASK_DOMAINS}, not {domain!r}")


def split(X: torch.Tensor, W: torch.Tensor, H: torch.Tensor, indices: Sequence[int],
          domain: str = "log") -> tuple[torch.Tensor, torch.Tensor]:
    """(X_int, X_residual): what the selected components explain, and the rest."""
    mask = group_mask(W, H, indices)
    return apply_mask(X, mask, domain), apply_mask(X, 1 - mask, domain)


def resynthesise_many(log_mags: torch.Tensor, phase: torch.Tensor, cfg: FrontEndConfig,
                      length: int) -> torch.Tensor:
    """Waveforms (n, length) of n log-magnitude spectrograms sharing one phase."""
    if log_mags.shape[0] == 0:
        return log_mags.new_zeros((0, length))
    return resynthesise(log_mags, phase.expand_as(log_mags), cfg, length)
