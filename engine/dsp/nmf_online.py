"""Sparse NMF a mini-batch at a time, for training frames that exceed memory.

The full-batch ``nmf.fit`` keeps every frame's activations (K x N: 344 GB at K = 100 for
the 860 million frames of AudioSet). Here only the dictionary and two running statistics
are kept: for each mini-batch X_b, H_b is fitted with W fixed (``nmf.transform``), then
A = r A + X_b H_b^T and B = r B + H_b H_b^T, and W takes the unit-norm multiplicative
step of the full-batch fit with A and B (Mairal et al., 2010, with Le Roux's update). The
forgetting factor r = 1 - b / N makes A and B an average over about the last pass.

Euclidean only (beta = 2). Distributed: every process fits its own slice of each
mini-batch and the statistics are summed (``nmf.Shard``), one collective call per step.

>>> import numpy as np
>>> X = np.random.default_rng(0).random((16, 500)).astype(np.float32)
>>> res = fit_online([X], nmf.NMFConfig(k=4, iterations=2, online_batch=100))
>>> res.W.shape, len(res.objective)
((16, 4), 2)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from engine.dsp import nmf
from engine.runtime.progress import TaskState, report


def _batches(chunks: Sequence, size: int, order: np.ndarray, device: torch.device
             ) -> Iterator[torch.Tensor]:
    """The frames of the chunks, in ``order`` of chunks, as F x <= size tensors."""
    for c in order:
        X = nmf._to_device(np.asarray(chunks[int(c)]), device)
        for a in range(0, X.shape[1], size):
            yield X[:, a:a + size]


def fit_online(chunks: Sequence, cfg: nmf.NMFConfig, device: str | torch.device = "cpu",
               task: TaskState | None = None, shard: nmf.Shard | None = None,
               h_steps: int = 30) -> nmf.NMFResult:
    """``cfg.iterations`` passes over the frames in mini-batches of ``cfg.online_batch``
    frames over all processes. ``objective``: per pass, the summed cost of each batch
    at the moment it was fitted (a running estimate; ``score`` gives the exact one)."""
    if cfg.beta != 2:
        raise ValueError("the mini-batch dictionary is Euclidean only (beta 2)")
    widths = nmf._widths(chunks)
    shard = shard or nmf.Shard.alone(sum(widths))
    if not shard.total:
        raise ValueError("no training frames for the dictionary")
    device = torch.device(device)
    mu = float(cfg.sparsity)
    # each process takes its share of every global batch; all take the same number of steps
    local = max(1, -(-cfg.online_batch * max(sum(widths), 1) // shard.total))
    steps = sum(-(-w // local) for w in widths)  # batches never span two chunks
    if shard.world > 1:  # the most any process needs; one slot per process, summed
        slots = torch.zeros(shard.world)
        slots[shard.rank] = steps
        steps = int(nmf._summed(shard, slots)[0].max())
    W = nmf.normalise_columns(nmf._to_device(
        nmf.init_dictionary(chunks, cfg.k, cfg.seed, shard), device).clamp_min(nmf.EPS))
    A = torch.zeros_like(W)
    B = torch.zeros(cfg.k, cfg.k, device=device)
    keep = 1.0 - min(1.0, cfg.online_batch / shard.total)
    rng = np.random.default_rng(cfg.seed)
    history: list[float] = []
    for it in range(cfg.iterations):
        order = rng.permutation(len(widths))  # a new order of the chunks every pass
        batches = _batches(chunks, local, order, device)
        cost = 0.0
        for _ in range(steps):
            X = next(batches, None)
            if X is None:  # this process has run out; it still takes part in the sums
                XHt, HHt, part = torch.zeros_like(W), torch.zeros_like(B), 0.0
            else:
                H = nmf.transform(X, W, mu, 2.0, h_steps)
                XHt, HHt = X @ H.T, H @ H.T
                part = nmf.objective(X, W, H, 2.0, mu)
            if shard.world > 1:
                XHt, HHt, part = nmf._summed(shard, XHt, HHt, part)
            A.mul_(keep).add_(XHt)
            B.mul_(keep).add_(HHt)
            W = nmf._update_w(W, A, lambda w: w @ B, cfg.w_steps)
            cost += part
        history.append(cost)
        report(task, "dictionary", it + 1, cfg.iterations, objective=cost)
    return nmf.NMFResult(W=nmf.normalise_columns(W).cpu().numpy(), objective=history,
                         config=cfg)


def score(chunks: Sequence, W: np.ndarray | torch.Tensor, sparsity: float,
          iterations: int = 100, shard: nmf.Shard | None = None,
          device: str | torch.device = "cpu") -> float:
    """D(X | W H) + mu ||H||_1 over all frames, H fitted with W fixed: one measure for
    dictionaries learnt any way (full batch, mini-batch, another library)."""
    device = torch.device(device)
    Wt = torch.as_tensor(np.asarray(W), dtype=torch.float32, device=device)
    total = 0.0
    for c in range(len(chunks)):
        X = nmf._to_device(np.asarray(chunks[c]), device)
        total += nmf.objective(X, Wt, nmf.transform(X, Wt, sparsity, 2.0, iterations),
                               2.0, sparsity)
    if shard is not None and shard.world > 1:
        total = nmf._summed(shard, total)[0]
    return total
