"""One code path for one process or many under ``torchrun`` (DDP; rank 0 writes).

Nothing to configure: when torchrun sets WORLD_SIZE > 1 the process group starts with
NCCL on CUDA and gloo on CPU; otherwise every helper is a no-op for a single process.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from engine.runtime.devices import resolve_device
from engine.runtime.errors import L2IError

# how long a process waits for the others to join, or at a collective call (seconds)
TIMEOUT_ENV = "L2I_DIST_TIMEOUT"


@dataclass(frozen=True)
class Context:
    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup(device: str = "auto") -> Context:
    """Start (or join) the process group when launched by torchrun.

    A world that cannot form is one line (an L2IError), not a hang: missing variables
    are named, and a process whose peers do not join within ``L2I_DIST_TIMEOUT`` seconds
    (default 600) says so.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Context(device=resolve_device(device))
    missing = [v for v in ("RANK", "MASTER_ADDR", "MASTER_PORT") if not os.environ.get(v)]
    if missing:
        raise L2IError(f"WORLD_SIZE is {world} but {', '.join(missing)} "
                       f"{'is' if len(missing) == 1 else 'are'} not set: launch with "
                       "torchrun (docs/scale.md), or unset WORLD_SIZE for one process")
    rank = int(os.environ["RANK"])
    if not 0 <= rank < world:
        raise L2IError(f"RANK is {rank}, outside 0..{world - 1} (WORLD_SIZE {world})")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device)
    if dev.type == "cuda":
        if local >= torch.cuda.device_count():
            raise L2IError(f"LOCAL_RANK {local} but this node has "
                           f"{torch.cuda.device_count()} GPU(s): start at most that many "
                           "processes per node (--nproc_per_node)")
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        seconds = float(os.environ.get(TIMEOUT_ENV, "600"))
        try:
            dist.init_process_group("nccl" if dev.type == "cuda" else "gloo",
                                    timeout=dt.timedelta(seconds=seconds))
        except (RuntimeError, ValueError) as exc:  # torch's DistStoreError is a RuntimeError
            where = f"{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}"
            raise L2IError(f"rank {rank} of {world} could not join the others at {where} "
                           f"within {seconds:g} s ({str(exc).splitlines()[0][:160]})") \
                from None
    return Context(rank=rank, world_size=world, device=dev)


def barrier(ctx: Context) -> None:
    if ctx.distributed:
        dist.barrier()


def shard(ctx: Context, n: int, epoch_seed: int, shuffle: bool) -> torch.Tensor:
    """This rank's indices of 0..n-1 for one epoch (same permutation on every rank).

    Every rank gets the same count (padded by wrapping), as DistributedSampler does, so
    collective calls stay in step.
    """
    order = torch.randperm(n, generator=torch.Generator().manual_seed(epoch_seed)) \
        if shuffle else torch.arange(n)
    per = -(-n // ctx.world_size)
    padded = torch.cat([order, order[: per * ctx.world_size - n]]) if n else order
    return padded[ctx.rank::ctx.world_size]


def block(ctx: Context, n: int, rank: int | None = None) -> tuple[int, int]:
    """This rank's contiguous share [lo, hi) of 0..n-1: sizes differ by at most one and
    the blocks of ranks 0..world-1, in order, tile 0..n-1 (a rank may get none).

    >>> [block(Context(rank=r, world_size=3), 7) for r in range(3)]
    [(0, 3), (3, 5), (5, 7)]
    """
    r = ctx.rank if rank is None else rank
    per, extra = divmod(n, ctx.world_size)
    lo = r * per + min(r, extra)
    return lo, lo + per + (1 if r < extra else 0)


def wrap(ctx: Context, model: torch.nn.Module) -> torch.nn.Module:
    if not ctx.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return DDP(model, device_ids=ids)


def cleanup(ctx: Context) -> None:
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()
