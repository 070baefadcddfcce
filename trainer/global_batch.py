"""Training on R ranks as on one process with the same (global) batch.

The loop (trainer/loop.py) splits every global batch of ``batch_size`` clips into the
ranks' contiguous shares; what makes the ranks' work add up to one process's:

- ``BatchShare.weight`` scales a rank's mean loss so that DDP's average of the ranks'
  gradients is the gradient of the global batch's mean (shares differ by one clip when
  the batch does not divide, and a rank may have none in a short last batch);
- ``GlobalBatchNorm`` normalises with the statistics of the global batch (all-reduced,
  gradients through them too), as one process's BatchNorm does; off the process group,
  or in eval mode, it is plain BatchNorm;
- ``GlobalDropout`` draws the mask of the whole global batch from the same random
  stream on every rank and keeps this rank's rows, so every rank and a single process
  draw the same masks, and their random streams stay in step.

``globalise(model, share)`` swaps a model's BatchNorm and Dropout layers for these (the
same parameters and buffers, so state dicts and optimizers are unchanged);
``localise(model)`` swaps them back once training is over.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


@dataclass
class BatchShare:
    """This rank's part of the global batch being trained on: rows [lo, hi) of ``size``."""

    size: int = 0
    lo: int = 0
    hi: int = 0
    world: int = 1
    index: int = 0  # the batch's number in its epoch

    @property
    def rows(self) -> int:
        return self.hi - self.lo

    @property
    def weight(self) -> float:
        """The factor on this rank's mean loss: DDP averages gradients over ranks."""
        return self.rows * self.world / self.size if self.size else 0.0


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class _SumOverRanks(torch.autograd.Function):
    """The sum of a tensor over the ranks; its gradient is the sum of theirs (each rank's
    loss depends on every rank's rows through the shared statistics)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class GlobalBatchNorm(_BatchNorm):
    """BatchNorm (any input of 2+ dimensions, channels second) over the global batch."""

    def __init__(self, like: _BatchNorm) -> None:
        super().__init__(like.num_features, like.eps, like.momentum, like.affine,
                         like.track_running_stats)
        self.local_type = type(like)
        # the very same tensors: optimizers and state dicts see no change
        self.weight, self.bias = like.weight, like.bias
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            setattr(self, name, getattr(like, name))
        self.train(like.training)

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and _distributed()):
            return super().forward(x)
        dims = [0] + list(range(2, x.dim()))
        shape = [1, -1] + [1] * (x.dim() - 2)
        xf = x.float()
        count = torch.tensor([x.numel() / max(x.shape[1], 1)], dtype=xf.dtype,
                             device=x.device)
        total = _SumOverRanks.apply(torch.cat([xf.sum(dims), count]))
        n = total[-1]
        mean = total[:-1] / n
        d = xf - mean.view(shape)
        var = _SumOverRanks.apply(d.square().sum(dims)) / n
        y = d * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None \
                    else 1.0 / float(self.num_batches_tracked)
                unbiased = var * n / (n - 1) if float(n) > 1 else var
                self.running_mean.mul_(1 - m).add_(m * mean.detach())
                self.running_var.mul_(1 - m).add_(m * unbiased.detach())
        return y.to(x.dtype)


class GlobalDropout(nn.Module):
    def __init__(self, like: nn.Dropout, share: BatchShare) -> None:
        super().__init__()
        self.p, self.share = like.p, share
        self.train(like.training)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        s = self.share
        whole = s.size > 0 and s.rows == x.shape[0]  # else (another batch): a mask of its own
        rows = s.size if whole else x.shape[0]
        keep = torch.empty((rows, *x.shape[1:]), dtype=x.dtype, device=x.device)
        keep.bernoulli_(1 - self.p)
        if whole:
            keep = keep[s.lo:s.hi]
        return x * keep / (1 - self.p)


def globalise(model: nn.Module, share: BatchShare) -> nn.Module:
    """Swap ``model``'s BatchNorm and Dropout layers in place (see the module's text)."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, _BatchNorm) and not isinstance(child, GlobalBatchNorm):
                setattr(parent, name, GlobalBatchNorm(child))
            elif type(child) is nn.Dropout:
                setattr(parent, name, GlobalDropout(child, share))
    return model


def localise(model: nn.Module) -> nn.Module:
    """Put back plain BatchNorm and Dropout layers (same tensors, same state dict)."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, GlobalBatchNorm):
                plain = child.local_type(child.num_features, child.eps, child.momentum,
                                         child.affine, child.track_running_stats)
                plain.weight, plain.bias = child.weight, child.bias
                for buf in ("running_mean", "running_var", "num_batches_tracked"):
                    setattr(plain, buf, getattr(child, buf))
                setattr(parent, name, plain.train(child.training))
            elif isinstance(child, GlobalDropout):
                setattr(parent, name, nn.Dropout(child.p).train(child.training))
    return model


__all__ = ["BatchShare", "GlobalBatchNorm", "GlobalDropout", "globalise", "localise"]
