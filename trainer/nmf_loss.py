"""The interpreter's NMF loss ||X - W H||^2 without forming W H.

W is frozen and each clip's X never changes, so ||X||^2 and W^T X (K x T: five times
smaller than X at K = 100, F = 513) are computed once per clip, and

    ||X - W H||^2 = ||X||^2 - 2 <H, W^T X> + <H, (W^T W) H>

costs a K x K x T product per clip instead of an F x K x T one, forward and backward,
and a training step no longer reads X at all (the paper's loss).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.runtime.progress import TaskState, check

# W^T X for every clip is kept in memory only up to this size (about 1 500 five-second
# clips at K = 100); past it the loss forms W H per batch, as before
STATS_BUDGET_BYTES = 256 << 20


@dataclass
class NMFStats:
    WtX: torch.Tensor  # (N, K, T), float32
    sq: torch.Tensor  # (N,), ||X_n||^2 in float64
    gram: torch.Tensor  # (K, K), W^T W
    n_freqs: int

    def rows(self, rows: np.ndarray, device: torch.device) -> NMFStats:
        return NMFStats(self.WtX[rows].to(device), self.sq[rows].to(device),
                        self.gram.to(device), self.n_freqs)


def nmf_stats(W: torch.Tensor, log_mag, batch: int = 64,
              task: TaskState | None = None) -> NMFStats | None:
    """Per-clip statistics of ``log_mag`` (N, F, T), on the CPU; None when W^T X for
    every clip would take more than ``STATS_BUDGET_BYTES`` (then the loss forms W H)."""
    n, _, t = log_mag.shape
    k = W.shape[1]
    if n * k * t * 4 > STATS_BUDGET_BYTES:
        return None
    Wc = W.detach().float().cpu()
    WtX, sq = torch.empty(n, k, t), torch.empty(n, dtype=torch.float64)
    for i in range(0, n, batch):
        check(task)
        X = torch.from_numpy(np.asarray(log_mag[i:i + batch], dtype=np.float32))
        WtX[i:i + len(X)] = Wc.T @ X
        sq[i:i + len(X)] = X.double().square().sum(dim=(1, 2))
    return NMFStats(WtX, sq, Wc.T @ Wc, int(W.shape[0]))


def nmf_loss(H: torch.Tensor, X: torch.Tensor | None = None, W: torch.Tensor | None = None,
             stats: NMFStats | None = None) -> torch.Tensor:
    """mean((X - W H)^2) over a batch H (B, K, T): from ``stats`` (the rows of this
    batch) when given, else from X and W. Always in float32 or wider, outside autocast:
    the three terms nearly cancel."""
    with torch.autocast(device_type=H.device.type, enabled=False):
        H = H.float()
        if stats is None:
            return (X - torch.matmul(W, H)).square().mean()
        b, _, t = H.shape
        cross = (H * stats.WtX).sum()
        quad = (H * torch.matmul(stats.gram, H)).sum()
        total = stats.sq.sum() - 2.0 * cross.double() + quad.double()
        return (total / (b * stats.n_freqs * t)).float()
