"""The epoch loop every trainer shares: schedule, shards, checkpoints, best model, resume.

A trainer supplies ``step(indices, epoch) -> {loss terms}`` for one batch and
``validate() -> (score, metrics)`` (higher score is better). ``batch_size`` is the global
batch: under torchrun each rank's ``indices`` are its contiguous share of the same global
batch of one seeded permutation (trainer/global_batch.py says how a trainer makes the
ranks' gradients those of the whole batch), so the batches, the steps per epoch and the
learning-rate schedule do not depend on the number of ranks. The loop reports progress
to the TaskState, checks for cancellation between batches, writes a checkpoint after
every epoch (rank 0), and restores the best-scoring weights at the end.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from engine.runtime.errors import L2IError
from engine.runtime.progress import TaskState, report
from trainer import distributed as D
from trainer.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from trainer.global_batch import BatchShare


@dataclass
class LoopConfig:
    epochs: int
    batch_size: int
    lr: float
    warmup_epochs: float = 1.0
    seed: int = 0
    stage: str = "training"


@dataclass
class LoopResult:
    history: list[dict] = field(default_factory=list)
    best_score: float = -math.inf
    best_epoch: int = -1


def lr_at(cfg: LoopConfig, progress: float) -> float:
    """Linear warm-up then cosine decay, as a function of epochs done (fractional)."""
    if progress < cfg.warmup_epochs:
        return cfg.lr * max(progress, 0.05) / cfg.warmup_epochs
    span = max(cfg.epochs - cfg.warmup_epochs, 1e-9)
    t = min(1.0, (progress - cfg.warmup_epochs) / span)
    return cfg.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t)))


def run_epochs(
    ctx: D.Context,
    cfg: LoopConfig,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    n_train: int,
    step: Callable[[torch.Tensor, int], dict[str, float]],
    validate: Callable[[], tuple[float | None, dict[str, float]]],
    checkpoint: Path | None,
    resume: bool = False,
    task: TaskState | None = None,
    generators: tuple[torch.Generator, ...] = (),
    share: BatchShare | None = None,
) -> LoopResult:
    """Train; ``validate`` returning a None score (no validation data) keeps the last
    epoch. ``generators`` are private random streams (augmentation) saved with the
    checkpoint so that a resumed run continues exactly as an uninterrupted one.
    ``share``, when given, is set before each step to this rank's part of the batch.
    Every rank steps on every batch, also with no share of it (a short last batch on
    many ranks), so that collective calls stay in step; such a step's terms are not
    counted."""
    result = LoopResult()
    best_state = copy.deepcopy(model.state_dict())
    start = 0
    if resume and checkpoint is not None:
        state = load_checkpoint(checkpoint)
        if state is not None:
            try:
                model.load_state_dict(state["model"])
                optimizer.load_state_dict(state["optimizer"])
            except (RuntimeError, ValueError, KeyError) as exc:
                raise L2IError(f"{checkpoint} was written with other settings "
                               f"({str(exc).splitlines()[0][:120]}); delete it or run "
                               "without --resume") from None
            best_state = state["best_state"]
            result = LoopResult(list(state["history"]), state["best_score"],
                                state["best_epoch"])
            start = int(state["epoch"]) + 1
            set_rng_state(state["rng"])
            for g, gs in zip(generators, state.get("generators", [])):
                g.set_state(gs)
    steps_per_epoch = max(1, -(-n_train // cfg.batch_size))
    counted = [0] * cfg.epochs  # steps whose terms this rank adds up
    for epoch in range(start, cfg.epochs):
        model.train()
        # the same permutation on every rank (one process's shard is all of it)
        order = D.shard(D.Context(), n_train, cfg.seed * 1000 + epoch, shuffle=True)
        sums: dict[str, float] = {}
        for b in range(steps_per_epoch):
            # in order: a trainer that sorts its rows (to read them faster) then has the
            # rows in the same places on one rank and on many (dropout masks go by place)
            batch = order[b * cfg.batch_size:(b + 1) * cfg.batch_size].sort().values
            lo, hi = D.block(ctx, len(batch))
            if len(batch) == 0 or (hi == lo and not ctx.distributed):
                continue
            if share is not None:
                share.size, share.lo, share.hi, share.world, share.index = \
                    len(batch), lo, hi, ctx.world_size, b
            for group in optimizer.param_groups:
                group["lr"] = lr_at(cfg, epoch + b / steps_per_epoch)
            terms = step(batch[lo:hi], epoch)
            if hi == lo:
                continue
            counted[epoch] += 1
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + v
            report(task, cfg.stage, epoch * steps_per_epoch + b + 1,
                   cfg.epochs * steps_per_epoch, f"epoch {epoch + 1}/{cfg.epochs}", **terms)
        model.eval()
        score, metrics = validate()
        if score is None:  # nothing to select on: the latest weights are the best
            score = epoch
        score = float(score)
        # plain floats: numpy scalars in the history would make the checkpoint
        # unreadable with weights_only=True (and so the run not resumable)
        row = {"epoch": epoch + 1,
               **{k: float(v) / max(counted[epoch], 1) for k, v in sums.items()},
               **{k: float(v) for k, v in metrics.items()}}
        result.history.append(row)
        if score > result.best_score:
            result.best_score, result.best_epoch = score, epoch + 1
            best_state = copy.deepcopy(model.state_dict())
        if checkpoint is not None and ctx.is_main:
            save_checkpoint(checkpoint, {
                "epoch": epoch, "model": model.state_dict(),
                "optimizer": optimizer.state_dict(), "best_state": best_state,
                "history": result.history, "best_score": result.best_score,
                "best_epoch": result.best_epoch, "rng": rng_state(),
                "generators": [g.get_state() for g in generators],
            })
        report(task, cfg.stage + " epochs", epoch + 1, cfg.epochs,
               f"epoch {epoch + 1}/{cfg.epochs}", **{k: float(v) for k, v in row.items()})
        D.barrier(ctx)
    model.load_state_dict(best_state)
    model.eval()
    return result
