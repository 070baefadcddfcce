"""Sparse NMF with unit-norm dictionary columns (Le Roux, Weninger and Hershey, 2015).

Minimises D_beta(X | W H) + mu * ||H||_1 with W, H >= 0 and ||w_k||_2 = 1, by
multiplicative updates. X is given as a sequence of column chunks (F x n_i arrays,
numpy memmaps included), so the training matrix never has to sit in memory at once
on the compute device; H is kept per chunk.

For beta = 2 an iteration needs W^T X (per chunk) and X H^T: two F x N x K products,
plus K x K terms. The product W H is never formed. The big products are reused for
``inner`` cheap updates of H and of W (accelerated MU, Gillis and Glineur, 2012).

Distributed (``shard``): each process holds its own frames and their H; the W update needs
only sums over frames (X H^T, H H^T and the objective's statistics), which are summed over
the processes, so every process takes the same W step. The start (W from K frames chosen
among all frames, H drawn per block of global frame positions) does not depend on how the
frames are split, so any number of processes learns the single-process dictionary.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from engine.runtime.progress import TaskState, report

EPS = 1e-10
H_BLOCK = 1 << 16  # H starts from one seeded draw per block of this many global frames


@dataclass(frozen=True)
class NMFConfig:
    k: int = 100
    sparsity: float = 0.8
    beta: float = 2.0
    iterations: int = 200
    inner: int = 1
    seed: int = 0
    inner_w: int = 0  # updates of W per pass (0: as many as ``inner``); they are cheap
    # frames per mini-batch (engine.dsp.nmf_online; ``iterations`` then counts passes);
    # 0: the full-batch fit, which keeps every frame's activations
    online_batch: int = 0

    @property
    def w_steps(self) -> int:
        return self.inner_w or self.inner

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class NMFResult:
    W: np.ndarray  # F x K, unit-norm columns
    objective: list[float] = field(default_factory=list)  # after each iteration
    config: NMFConfig = field(default_factory=NMFConfig)


@dataclass(frozen=True)
class Shard:
    """Where this process's frames sit among all processes' frames, in global order, and
    how to sum a tensor over the processes (in place; e.g. torch.distributed.all_reduce).
    """

    offset: int  # global position of this process's first frame
    total: int  # frames over all processes
    reduce: Callable[[torch.Tensor], object]
    world: int = 1  # processes: every one of them must make the same collective calls
    rank: int = 0

    @staticmethod
    def alone(frames: int) -> Shard:
        return Shard(0, frames, lambda t: None)


def _summed(shard: Shard, *values: float | torch.Tensor) -> list:
    """The values summed over the processes, in one collective call."""
    flat = torch.cat([torch.as_tensor(v, dtype=torch.float64).reshape(-1).cpu()
                      for v in values])
    shard.reduce(flat)
    out, at = [], 0
    for v in values:
        n = v.numel() if isinstance(v, torch.Tensor) else 1
        part = flat[at:at + n]
        out.append(part.reshape(v.shape).to(v.device, v.dtype) if isinstance(v, torch.Tensor)
                   else float(part))
        at += n
    return out


class _Frames:
    """Iterates the chunks as float32 tensors on the device, kept or reloaded."""

    def __init__(self, chunks: Sequence, device: torch.device, resident: bool) -> None:
        self.chunks, self.device = chunks, device
        self.kept = [_to_device(c, device) for c in chunks] if resident else None

    def __iter__(self):
        if self.kept is not None:
            yield from self.kept
        else:
            for c in self.chunks:
                yield _to_device(np.asarray(c), self.device)


def _to_device(chunk, device: torch.device) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(chunk, dtype=np.float32)) \
        if isinstance(chunk, np.ndarray) else torch.as_tensor(chunk, dtype=torch.float32)
    return t.to(device)


def normalise_columns(W: torch.Tensor) -> torch.Tensor:
    """Unit-norm columns; a column of (numerically) zero norm is dead and stays 0."""
    norms = torch.linalg.vector_norm(W, dim=0, keepdim=True)
    return torch.where(norms > EPS, W / norms.clamp_min(EPS), torch.zeros_like(W))


def _widths(chunks: Sequence) -> list[int]:
    widths = getattr(chunks, "widths", None)
    return list(widths) if widths is not None else [int(c.shape[1]) for c in chunks]


def init_dictionary(chunks: Sequence, k: int, seed: int, shard: Shard | None = None
                    ) -> np.ndarray:
    """K distinct training frames with a little positive noise, as unit-norm columns.

    Starting from real spectra converges in far fewer iterations than random W. With a
    ``shard``, the K frames are drawn among all processes' frames and each process fills
    in those it holds.
    """
    rng = np.random.default_rng(seed)
    sizes = np.array(_widths(chunks), dtype=np.int64)
    shard = shard or Shard.alone(int(sizes.sum()))
    picks = np.sort(rng.choice(shard.total, size=min(k, shard.total), replace=False)) \
        - shard.offset
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    n_freqs = int(np.asarray(chunks[0]).shape[0]) if len(chunks) else 0
    if shard.world > 1:  # a process without frames learns F from the others
        f_sum, holders = _summed(shard, float(n_freqs), float(n_freqs > 0))
        n_freqs = int(round(f_sum / max(holders, 1.0)))
    here = np.flatnonzero((picks >= 0) & (picks < offsets[-1]))
    owner = np.searchsorted(offsets, picks[here], side="right") - 1
    cols: dict[int, np.ndarray] = {}
    for c in np.unique(owner):  # each chunk is read once, however many picks it holds
        chunk = np.asarray(chunks[int(c)], dtype=np.float32)
        for j in here[owner == c]:
            cols[int(j)] = chunk[:, picks[j] - offsets[c]]
    W = np.zeros((n_freqs, k), dtype=np.float32)
    for j, col in cols.items():
        W[:, j] = col
    if shard.world > 1:  # the picked frames are spread over the processes
        W = _summed(shard, torch.from_numpy(W))[0].numpy()
    for j in range(len(picks), k):  # fewer frames than components: random columns
        W[:, j] = rng.random(n_freqs)
    W = W + 0.1 * W.mean() * rng.random(W.shape).astype(np.float32) + EPS
    return W / np.linalg.norm(W, axis=0, keepdims=True)


def initial_activations(k: int, widths: Sequence[int], seed: int, scale: float,
                        offset: int = 0) -> list[torch.Tensor]:
    """H at the start, cut into ``widths``: uniform in (0, 2 scale], drawn per block of
    ``H_BLOCK`` global frame positions, so a frame's start is the same however the frames
    are chunked or shared among processes."""
    total = int(sum(widths))
    parts, at = [], offset
    while at < offset + total:
        block = at // H_BLOCK
        lo, hi = block * H_BLOCK, (block + 1) * H_BLOCK
        gen = torch.Generator().manual_seed(
            int(np.random.SeedSequence([seed, block]).generate_state(1, np.uint64)[0] >> 1))
        # frames as rows: a shorter draw is a prefix of a longer one
        drawn = torch.rand(min(hi, offset + total) - lo, k, generator=gen)
        parts.append(drawn[at - lo:].T)
        at = min(hi, offset + total)
    H0 = torch.cat(parts, dim=1) if parts else torch.zeros(k, 0)
    return [h.contiguous() * 2 * scale + EPS for h in torch.split(H0, list(widths), dim=1)]


def _fits_in_memory(chunks: Sequence, device: torch.device) -> bool:
    """Keep X resident when it takes under a third of the free memory of the device."""
    need = sum(_widths(chunks)) * 4 * (np.asarray(chunks[0]).shape[0] if len(chunks) else 0)
    if device.type == "cuda":
        free = torch.cuda.mem_get_info(device)[0]
    else:
        try:
            free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            free = 8 << 30
    return need < free / 3


def _divergence(X: torch.Tensor, L: torch.Tensor, beta: float) -> torch.Tensor:
    if beta == 2:
        return 0.5 * (X - L).square().sum()
    if beta == 1:
        Xs = X.clamp_min(EPS)
        return (X * torch.log(Xs / L) - X + L).sum()
    return ((X.clamp_min(EPS) ** beta + (beta - 1) * L ** beta - beta * X * L ** (beta - 1))
            / (beta * (beta - 1))).sum()


def objective(X: torch.Tensor, W: torch.Tensor, H: torch.Tensor, beta: float, mu: float) -> float:
    """D_beta(X | W H) + mu ||H||_1 (for beta = 2, D is half the squared error)."""
    L = (W @ H).clamp_min(EPS)
    return float(_divergence(X, L, beta) + mu * H.sum())


def _update_h(X, W, H, WtW, mu, beta, inner, WtX=None):
    if beta == 2:
        WtX = W.T @ X if WtX is None else WtX
        for _ in range(inner):  # in place: no K x N temporaries beyond one
            den = (WtW @ H).add_(mu).clamp_min_(EPS)
            H = H * WtX
            H.div_(den)
        return H
    for _ in range(inner):
        L = (W @ H).clamp_min(EPS)
        num = W.T @ (X * L ** (beta - 2))
        den = W.T @ L ** (beta - 1) + mu
        H = H * num / den.clamp_min(EPS)
    return H


def _update_w_free(W, A, HHt, inner):
    """Lee and Seung's step for W when ||w_k|| is free (no L1 on H): W H is unchanged by
    moving the column norms into H, so they are renormalised at the end only."""
    for _ in range(inner):
        W = W * A / (W @ HHt).clamp_min(EPS)
    return W


def _update_w(W, A, B_of, inner):
    """Le Roux's update for unit-norm W; B_of(W) gives the denominator statistic."""
    for _ in range(inner):
        B = B_of(W)
        num = A + W * (B * W).sum(dim=0, keepdim=True)
        den = B + W * (A * W).sum(dim=0, keepdim=True)
        W = normalise_columns(W * num / den.clamp_min(EPS))
    return W


def fit(
    chunks: Sequence,
    cfg: NMFConfig,
    device: str | torch.device = "cpu",
    task: TaskState | None = None,
    W_init: np.ndarray | None = None,
    H_init: Sequence[np.ndarray] | None = None,
    resident: bool | None = None,
    shard: Shard | None = None,
) -> NMFResult:
    """Learn W from training frames given as F x n_i chunks.

    ``chunks`` is any sequence of F x n_i arrays (lists, numpy memmaps, or a lazy
    sequence that loads a chunk on access and may declare ``widths``). With
    ``resident`` False (the default when X would take over a third of the free memory)
    each chunk is loaded again at every iteration instead of being kept. ``shard``: this
    process's place among several (module docstring); every process gets the same W.
    """
    shard = shard or Shard.alone(sum(_widths(chunks)))
    if not shard.total:
        raise ValueError("no training frames for the dictionary")
    together = (lambda *v: _summed(shard, *v)) if shard.world > 1 else (lambda *v: list(v))
    device = torch.device(device)
    mu, beta = float(cfg.sparsity), float(cfg.beta)
    if resident is None:
        resident = _fits_in_memory(chunks, device)
    Xs = _Frames(chunks, device, resident)
    W = _to_device(W_init if W_init is not None
                   else init_dictionary(chunks, cfg.k, cfg.seed, shard), device)
    W = normalise_columns(W.clamp_min(EPS))
    x_sum, x_sq, n_cells = 0.0, 0.0, 0
    for x in Xs:
        x_sum, x_sq, n_cells = x_sum + float(x.sum()), x_sq + float(x.square().sum()), \
            n_cells + x.numel()
    x_sum, x_sq, n_cells = together(x_sum, x_sq, float(n_cells))
    scale = x_sum / n_cells / max(cfg.k, 1)
    if H_init is not None:
        Hs = [_to_device(h, device).clamp_min(EPS) for h in H_init]
    else:
        Hs = [h.to(device) for h in initial_activations(cfg.k, _widths(chunks), cfg.seed,
                                                         scale, shard.offset)]
    history: list[float] = []
    for it in range(cfg.iterations):
        WtW = W.T @ W
        if beta == 2:
            A = torch.zeros_like(W)
            HHt = torch.zeros(cfg.k, cfg.k, device=device)
            h_sum = 0.0
            for i, X in enumerate(Xs):
                H = _update_h(X, W, Hs[i], WtW, mu, beta, cfg.inner)
                Hs[i] = H
                A += X @ H.T
                HHt += H @ H.T
                h_sum += float(H.sum())
            A, HHt, h_sum = together(A, HHt, h_sum)
            if mu > 0:
                W = _update_w(W, A, lambda w, HHt=HHt: w @ HHt, cfg.w_steps)
            else:  # no sparsity: the norm of W is free, so the plain (faster) MU step
                W = _update_w_free(W, A, HHt, cfg.w_steps)
            # cost of (new W, new H) from the statistics alone: no F x N product
            fit_term = 0.5 * (x_sq - 2 * float((W * A).sum()) + float(((W.T @ W) * HHt).sum()))
            history.append(fit_term + mu * h_sum)
        else:
            A = torch.zeros_like(W)
            B = torch.zeros_like(W)
            total = 0.0
            for i, X in enumerate(Xs):
                H = _update_h(X, W, Hs[i], WtW, mu, beta, cfg.inner)
                Hs[i] = H
                L = (W @ H).clamp_min(EPS)
                A += (X * L ** (beta - 2)) @ H.T
                B += L ** (beta - 1) @ H.T
                total += float(_divergence(X, L, beta) + mu * H.sum())
            A, B, total = together(A, B, total)
            history.append(total)  # cost of (old W, new H): the one before the W step
            W = _update_w(W, A, lambda w, B=B: B, 1)
        report(task, "dictionary", it + 1, cfg.iterations, objective=history[-1])
    # unit-norm columns (already so with sparsity; for mu = 0 the scale moves into H)
    return NMFResult(W=normalise_columns(W).cpu().numpy(), objective=history, config=cfg)


def transform(
    X: torch.Tensor,
    W: torch.Tensor,
    sparsity: float = 0.8,
    beta: float = 2.0,
    iterations: int = 100,
) -> torch.Tensor:
    """Activations H (..., K, T) of a fixed dictionary W (F x K) for X (..., F, T)."""
    W = W.to(X.device, torch.float32)
    WtX = W.T @ X
    WtW = W.T @ W
    # a dictionary learnt on pure silence has only zero columns: 0/0 must not start H
    H = (WtX / WtW.diagonal().sum().clamp_min(EPS)).clamp_min(EPS) + EPS
    if beta == 2:
        return _update_h(X, W, H, WtW, sparsity, beta, iterations, WtX=WtX)
    return _update_h(X, W, H, WtW, sparsity, beta, iterations)


def refine(X: torch.Tensor, W: torch.Tensor, H: torch.Tensor, iterations: int,
           sparsity: float = 0.0) -> torch.Tensor:
    """``iterations`` multiplicative updates of H (..., K, T) toward X (..., F, T) with W
    fixed (Euclidean, L1 weight ``sparsity``): activations that fit the input frame by
    frame. A zero stays zero, so the components active in H are the only ones active in
    the result. Differentiable (no in-place steps), for training through it.

    >>> W = torch.eye(3)[:, :2]; X = torch.tensor([[2.0], [1.0], [0.5]])
    >>> refine(X, W, torch.tensor([[1.0], [0.0]]), 50).flatten().tolist()
    [2.0, 0.0]
    """
    if iterations <= 0:
        return H
    WtX = torch.matmul(W.T, X)
    WtW = W.T @ W
    for _ in range(iterations):
        H = H * WtX / (torch.matmul(WtW, H) + sparsity).clamp_min(EPS)
    return H
