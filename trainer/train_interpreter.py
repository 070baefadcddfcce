"""Train Psi and Theta against a frozen classifier and a frozen NMF dictionary.

Loss per batch (means, not sums): w_fid * L_fid + alpha * ||X - W H||^2 + beta * ||H||_1.
The classifier never changes, so its probabilities and tapped maps are computed once
per clip before training, into an on-disk cache (trainer/frozen_cache.py) from which
each batch reads its rows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engine.dsp.features import FrontEndConfig
from engine.dsp.nmf import refine
from engine.explanation.metrics import multilabel_fidelity, topk_fidelity
from engine.models.interpreter import Interpreter, InterpreterConfig
from engine.models.taps import LayerTaps
from engine.runtime.errors import L2IError
from engine.runtime.progress import TaskState
from trainer import distributed as D
from trainer.faithful_loss import faithfulness_terms
from trainer.features_cache import default_cache_dir
from trainer.focus_training import MixtureBatch, MixturePool, separation_loss
from trainer.frozen_cache import frozen_outputs
from trainer.global_batch import BatchShare, globalise, localise
from trainer.loop import LoopConfig, run_epochs
from trainer.nmf_loss import NMFStats, nmf_loss, nmf_stats
from trainer.train_classifier import _autocast, soft_loss, validation_split

# Psi's sizes by name: the paper's, and one whose training epoch costs about a quarter
# on a CPU (BENCHMARKS.md), for iterating; EVALUATION.md says what it costs in quality
PSI_SIZES = {"paper": {"adapter_channels": 128, "hidden": 256, "temporal_stride": 1},
             "fast": {"adapter_channels": 128, "hidden": 128, "temporal_stride": 4}}


@dataclass
class InterpreterTrainConfig:
    pooling: str = "attention"
    alpha: float = 10.0
    beta: float = 0.8
    fidelity_weight: float = 1.0
    fidelity_boost_epoch: int = 20  # the fidelity weight doubles from this epoch on
    epochs: int = 35
    batch_size: int = 32  # the global batch: under torchrun the ranks share each batch
    lr: float = 2e-4
    val_fraction: float = 0.15
    seed: int = 0
    # faithfulness-aware terms (trainer/faithful_loss.py); 0 = the paper's loss
    faith_in: float = 0.0
    faith_out: float = 0.0
    faith_size: float = 1.0  # with either term: penalises large masks (trivially faithful)
    mask_domain: str = "log"  # "linear": masks scale |S|, at training and explain time
    init: str | None = None  # the bundle whose interpreter is the starting point (recorded)
    # Psi's size (engine.models.interpreter.InterpreterConfig); the defaults are the paper's
    adapter_channels: int = 128
    hidden: int = 256
    temporal_stride: int = 1
    # focus (trainer/focus_training.py): weight of the separation term on synthetic
    # mixtures, and how many mixtures join each batch of clean clips; 0 = off
    focus: float = 0.0
    focus_mixtures: int = 16
    focus_selection: str = "hard"  # the training mask: "hard" (r > tau, as explained) or "soft"
    focus_tau: float = 0.1
    # explanations refine H on the input (InterpreterConfig.refine_iterations); focus
    # training makes its masks the same way
    refine_iterations: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def faithful(self) -> bool:
        return self.faith_in > 0 or self.faith_out > 0


def loss_terms(interp: nn.Module, maps: list[torch.Tensor], X: torch.Tensor | None,
               target: torch.Tensor, W: torch.Tensor, multilabel: bool,
               stats: NMFStats | None = None, n_frames: int | None = None
               ) -> tuple[torch.Tensor, ...]:
    """(L_fid, L_nmf, L_1, logits, H, z) for one batch; X is (B, F, T) log-magnitude,
    or None with ``stats`` (this batch's rows of ``nmf_stats``) and ``n_frames``."""
    H, logits, z = interp(maps, X.shape[-1] if X is not None else n_frames)
    H = H.float()
    fid = soft_loss(logits.float(), target, multilabel)
    nmf = nmf_loss(H, X, W, stats)
    l1 = H.mean()
    return fid, nmf, l1, logits, H, z.float()


def warm_start(interp: Interpreter, init: Interpreter) -> None:
    """Copy ``init``'s weights into ``interp``; one clear error when they cannot fit."""
    a, b = interp.config, init.config
    for name in ("k", "n_classes", "map_shapes", "pooling", "adapter_channels", "hidden",
                 "attention_hidden", "freq_cells", "temporal_stride"):
        if getattr(a, name) != getattr(b, name):
            raise L2IError(f"--init: the bundle's interpreter has {name} "
                           f"{getattr(b, name)}, this one needs {getattr(a, name)}")
    interp.load_state_dict(init.state_dict())


def train_interpreter(
    classifier: nn.Module,
    layers: list[str],
    W: torch.Tensor,
    log_mag: np.ndarray,
    log_mel: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    multilabel: bool,
    cfg: InterpreterTrainConfig,
    ctx: D.Context | None = None,
    checkpoint: Path | None = None,
    resume: bool = False,
    task: TaskState | None = None,
    frontend: FrontEndConfig | None = None,
    init: Interpreter | None = None,
    waves: np.ndarray | None = None,
    cache_dir: Path | None = None,
) -> tuple[Interpreter, dict]:
    """``frontend``: the classifier's log-mel settings; needed by the faithfulness terms,
    which feed masked spectrograms back to the classifier. ``init``: an interpreter of
    the same shape to start from (fine-tuning, e.g. with the faithfulness terms).
    ``waves``: the clips' waveforms (N, samples), which focus training mixes.
    ``cache_dir``: where the classifier's outputs are cached (``CACHE/frozen``; the
    feature cache's folder by default); under torchrun one every rank sees."""
    ctx = ctx or D.Context()
    if cfg.faithful and frontend is None:
        raise L2IError("faithfulness-aware training needs a classifier that reads log-mel")
    if cfg.focus > 0 and (frontend is None or waves is None):
        raise L2IError("focus training needs a classifier that reads log-mel and the "
                       "clips' waveforms")
    torch.manual_seed(cfg.seed)
    dev = ctx.device
    frozen = frozen_outputs(classifier, layers, log_mel, multilabel,
                            cache_dir or default_cache_dir(), ctx, task=task)
    if cfg.faithful:  # gradients flow through the classifier to the masks, never into it
        classifier.eval().requires_grad_(False)
    try:  # the settings and the tapped layers are the user's choice (flags, the wizard)
        icfg = InterpreterConfig(k=int(W.shape[1]), n_classes=n_classes,
                                 map_shapes=[list(m.shape[1:]) for m in frozen.maps],
                                 pooling=cfg.pooling, mask_domain=cfg.mask_domain,
                                 adapter_channels=cfg.adapter_channels, hidden=cfg.hidden,
                                 temporal_stride=cfg.temporal_stride,
                                 refine_iterations=cfg.refine_iterations)
    except ValueError as exc:
        raise L2IError(str(exc)) from None
    interp = Interpreter(icfg)
    if init is not None:
        warm_start(interp, init)
    # batch norm and dropout over the global batch: R ranks train as one process does
    share = BatchShare()
    interp = globalise(interp, share).to(dev)
    net = D.wrap(ctx, interp)
    W = W.to(dev).float()
    # unlabelled data (labels all -1, one key) is split at random, by the seed alone
    keys = labels.argmax(axis=1) if labels.ndim == 2 else labels
    tr, va = validation_split(keys, cfg.val_fraction, cfg.seed)
    opt = torch.optim.Adam(interp.parameters(), lr=cfg.lr)

    stats = nmf_stats(W, log_mag, task=task)  # the NMF loss without forming W H
    focus = _Focus(classifier, layers, W, cfg, frontend, waves, labels, tr, va, multilabel,
                   dev) if cfg.focus > 0 else None
    n_frames = int(log_mag.shape[-1])

    def batch(rows, need_x: bool = False):
        """maps, X (None when the NMF statistics stand in for it), target, statistics"""
        rows = np.sort(np.asarray(rows))
        X = torch.from_numpy(np.asarray(log_mag[rows], dtype=np.float32)).to(dev) \
            if need_x or stats is None else None
        return ([_tensor(m[rows], dev) for m in frozen.maps], X,
                _tensor(frozen.probabilities[rows], dev),
                stats.rows(rows, dev) if stats is not None else None)

    def step(idx: torch.Tensor, epoch: int) -> dict[str, float]:
        maps, X, target, st = batch(tr[idx.numpy()], need_x=cfg.faithful)
        w_fid = cfg.fidelity_weight * (2.0 if epoch >= cfg.fidelity_boost_epoch else 1.0)
        with _autocast(dev):
            fid, nmf, l1, _, H, z = loss_terms(net, maps, X, target, W, multilabel, st,
                                               n_frames)
        loss = w_fid * fid + cfg.alpha * nmf + cfg.beta * l1
        out = {"fidelity": fid.item(), "nmf": nmf.item(), "l1": l1.item()}
        if cfg.faithful:
            keep, lose, size = faithfulness_terms(classifier, H, z, interp.class_weights, W,
                                                  X, target, frontend, cfg.mask_domain,
                                                  multilabel)
            loss = loss + cfg.faith_in * keep + cfg.faith_out * lose + cfg.faith_size * size
            out |= {"keep": keep.item(), "lose": lose.item(), "mask": size.item()}
        loss_here = loss * share.weight  # DDP averages: the global batch's mean
        if focus is not None:
            # every rank draws the global batch's mixtures, and keeps its share of them
            rng = np.random.default_rng([cfg.seed, epoch, share.index])
            mixtures = focus.pool.draw(cfg.focus_mixtures, rng, dev)
            clean = (share.size, share.lo, share.hi)
            share.size = len(mixtures.classes)
            share.lo, share.hi = D.block(ctx, share.size)
            mix_loss, sep = focus.loss(net, _rows(mixtures, share.lo, share.hi), w_fid,
                                       interp.class_weights)
            loss_here = loss_here + mix_loss * share.weight
            share.size, share.lo, share.hi = clean
            loss = loss + mix_loss
            out["separation"] = sep.item()
        opt.zero_grad(set_to_none=True)
        loss_here.backward()
        opt.step()
        return {"loss": loss.item(), **out}

    def validate() -> tuple[float | None, dict[str, float]]:
        if len(va) == 0:
            return None, {}
        rows = va
        sums = np.zeros(3)
        probs = []
        with torch.no_grad():
            for i in range(0, len(rows), cfg.batch_size):
                maps, X, target, st = batch(rows[i:i + cfg.batch_size])
                with _autocast(dev):
                    fid, nmf, l1, logits, _, _ = loss_terms(interp, maps, X, target, W,
                                                            multilabel, st, n_frames)
                n = len(target)
                sums += n * np.array([fid.item(), nmf.item(), l1.item()])
                logits = logits.float()
                probs.append(torch.sigmoid(logits) if multilabel else logits.softmax(-1))
        p_int = torch.cat(probs).cpu().numpy()
        p_clf = np.asarray(frozen.probabilities[np.sort(rows)])
        if multilabel:
            score = multilabel_fidelity(p_clf, p_int)["micro_auprc"]
        else:
            score = topk_fidelity(p_clf, p_int, ks=(1,))["top1"]
        fid, nmf, l1 = sums / len(rows)
        total = fid + cfg.alpha * nmf + cfg.beta * l1
        extra = {}
        if focus is not None and focus.val is not None:
            with torch.no_grad():
                sep = focus.loss(interp, focus.val, 1.0, interp.class_weights)[1].item()
            total += cfg.focus * sep
            extra = {"val_separation": sep}
        return score - 1e-4 * total, {"val_fidelity": score, "val_fid_loss": fid,
                                      "val_nmf": nmf, "val_l1": l1, **extra}

    loop = LoopConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                      warmup_epochs=min(1.0, cfg.epochs / 10), seed=cfg.seed,
                      stage="interpreter")
    try:
        res = run_epochs(ctx, loop, interp, opt, len(tr), step, validate, checkpoint, resume,
                         task, share=share)
    finally:
        if focus is not None:
            focus.close()
    return localise(interp).cpu(), {"history": res.history, "best_epoch": res.best_epoch,
                          "validation_clips": int(len(va)), "train_clips": int(len(tr))}




def _tensor(rows: np.ndarray, device: torch.device) -> torch.Tensor:
    """Rows read from the cache (a fresh array: fancy indexing copies) as a tensor."""
    return torch.from_numpy(np.asarray(rows)).to(device)


def _rows(mb: MixtureBatch, lo: int, hi: int) -> MixtureBatch:
    return MixtureBatch(*(getattr(mb, f.name)[lo:hi] for f in fields(MixtureBatch)))


class _Focus:
    """The mixture half of focus training: a pool of training clips to mix, the frozen
    classifier's taps to read the mixtures, and fixed validation mixtures."""

    def __init__(self, classifier: nn.Module, layers: list[str], W: torch.Tensor,
                 cfg: InterpreterTrainConfig, frontend: FrontEndConfig, waves: np.ndarray,
                 labels: np.ndarray, tr: np.ndarray, va: np.ndarray, multilabel: bool,
                 device: torch.device) -> None:
        if multilabel:
            raise L2IError("focus training needs single-label data (one class per clip)")
        self.cfg, self.W, self.multilabel = cfg, W, multilabel
        self.taps = LayerTaps(classifier.eval(), layers)
        waves = np.asarray(waves, dtype=np.float32)
        self.pool = MixturePool(waves[tr], labels[tr], frontend)
        self.val: MixtureBatch | None = None
        if len(va) and len(np.unique(labels[va])) > 1:
            self.val = MixturePool(waves[va], labels[va], frontend).draw(
                min(64, 2 * len(va)), np.random.default_rng([cfg.seed, 7]), device)

    def loss(self, net: nn.Module, mb: MixtureBatch, w_fid: float, theta: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """(the mixtures' share of the loss, the separation term alone)."""
        with torch.no_grad():
            logits, maps = self.taps(mb.log_mel)
            target = torch.softmax(logits.float(), dim=-1)
        with _autocast(mb.log_mag.device):
            fid, nmf, l1, _, H, z = loss_terms(net, maps, mb.log_mag, target, self.W,
                                               self.multilabel)
        H = refine(mb.log_mag, self.W, H.float(), self.cfg.refine_iterations)
        # theta is detached: the separation term moves what the interpreter sees (H, z),
        # not the class weights that make its decision (fidelity stays theirs to keep)
        sep = separation_loss(self.W, H, z.float(), theta.detach().float(), mb,
                              self.cfg.focus_tau if self.cfg.focus_selection == "hard"
                              else None)
        c = self.cfg
        return w_fid * fid + c.alpha * nmf + c.beta * l1 + c.focus * sep, sep

    def close(self) -> None:
        self.taps.remove()
