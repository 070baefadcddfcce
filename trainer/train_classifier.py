"""Train the built-in VGG-style CNN on cached log-mel features.

Model selection uses a stratified validation split carved from the training folds; the
test fold is never looked at here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from engine.models.classifier import VGGClassifier, VGGConfig
from engine.runtime.progress import TaskState
from trainer import distributed as D
from trainer.augment import AugmentConfig, Augmenter
from trainer.global_batch import BatchShare, globalise, localise
from trainer.loop import LoopConfig, run_epochs


@dataclass
class ClassifierTrainConfig:
    epochs: int = 60
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-2
    val_fraction: float = 0.15
    # whole recordings go to validation, so it cannot score a clip by a sibling it trained on
    val_by_recording: bool = False
    seed: int = 0
    model: VGGConfig = field(default_factory=VGGConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def to_dict(self) -> dict:
        return asdict(self)


def validation_split(keys: np.ndarray, fraction: float, seed: int,
                     groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) positions, stratified by class, reproducible from the seed. With
    ``groups``, whole groups go to validation (in random order, until the class's share is
    reached), and a class with a single group keeps it for training."""
    rng = np.random.default_rng(seed + 7919)
    val = []
    for key in np.unique(keys):
        members = rng.permutation(np.flatnonzero(keys == key))
        n_val = int(round(len(members) * fraction)) if len(members) > 1 else 0
        if groups is None:
            val.extend(members[:n_val].tolist())
            continue
        ids = np.unique(groups[members])
        if len(ids) < 2:
            continue
        taken: list[int] = []
        for g in rng.permutation(ids):
            if len(taken) >= n_val:
                break
            taken.extend(members[groups[members] == g].tolist())
        val.extend(taken)
    val_arr = np.array(sorted(val), dtype=int)
    train = np.setdiff1d(np.arange(len(keys)), val_arr)
    return train, val_arr


def targets_of(labels: np.ndarray, n_classes: int, multilabel: bool) -> torch.Tensor:
    if multilabel:
        return torch.as_tensor(labels, dtype=torch.float32)
    return F.one_hot(torch.as_tensor(labels, dtype=torch.long), n_classes).float()


def soft_loss(logits: torch.Tensor, target: torch.Tensor, multilabel: bool) -> torch.Tensor:
    if multilabel:
        return F.binary_cross_entropy_with_logits(logits, target)
    return -(target * F.log_softmax(logits, dim=-1)).sum(dim=-1).mean()


def _autocast(device: torch.device):
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")


def predict(model: torch.nn.Module, mel: torch.Tensor, device: torch.device,
            multilabel: bool, batch: int = 64) -> torch.Tensor:
    """Probabilities for (N, M, T) log-mel inputs, in batches, in eval mode."""
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(mel), batch):
            with _autocast(device):
                logits = model(mel[i:i + batch].to(device)).float()
            out.append(torch.sigmoid(logits) if multilabel else torch.softmax(logits, -1))
    return torch.cat(out).cpu() if out else torch.zeros(0)


def train_classifier(
    log_mel: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    multilabel: bool,
    cfg: ClassifierTrainConfig,
    ctx: D.Context | None = None,
    checkpoint: Path | None = None,
    resume: bool = False,
    task: TaskState | None = None,
    groups: np.ndarray | None = None,
) -> tuple[VGGClassifier, dict]:
    """Returns the best model on the validation split and its training record.
    ``groups``: each clip's recording, used when ``cfg.val_by_recording``."""
    ctx = ctx or D.Context()
    torch.manual_seed(cfg.seed)
    keys = labels.argmax(axis=1) if multilabel else labels
    if cfg.val_by_recording and groups is None:
        raise ValueError("val_by_recording needs each clip's recording (groups)")
    tr, va = validation_split(keys, cfg.val_fraction, cfg.seed,
                              groups if cfg.val_by_recording else None)
    mel = torch.from_numpy(np.asarray(log_mel, dtype=np.float32))
    target = targets_of(labels, n_classes, multilabel)
    model = VGGClassifier(n_classes, cfg.model)
    share = BatchShare()
    if ctx.distributed:  # batch norm over the global batch (augmentation stays per rank)
        globalise(model, share)
    model = model.to(ctx.device)
    net = D.wrap(ctx, model)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    aug_gen = torch.Generator().manual_seed(cfg.seed + ctx.rank)
    aug = Augmenter(cfg.augment, aug_gen)

    def step(idx: torch.Tensor, epoch: int) -> dict[str, float]:
        rows = torch.as_tensor(tr)[idx]
        x, y = mel[rows].to(ctx.device), target[rows].to(ctx.device)
        if len(rows):  # a rank with no share of a short last batch still steps, on nothing
            x, y = aug(x, y)
        with _autocast(ctx.device):
            loss = soft_loss(net(x).float(), y, multilabel)
        opt.zero_grad(set_to_none=True)
        (loss * share.weight).backward()  # DDP averages: the global batch's mean
        opt.step()
        return {"loss": loss.item()}

    def validate() -> tuple[float | None, dict[str, float]]:
        if len(va) == 0:
            return None, {}
        probs = predict(model, mel[va], ctx.device, multilabel)
        loss = float(soft_loss(torch.log(probs.clamp_min(1e-7)) if not multilabel
                               else torch.logit(probs.clamp(1e-6, 1 - 1e-6)),
                               target[va], multilabel))
        if multilabel:
            from engine.explanation.metrics import auprc
            score = auprc(labels[va], probs.numpy())["macro_auprc"]
        else:
            score = float((probs.argmax(1).numpy() == labels[va]).mean())
        # ties on a small validation set are broken by the loss
        return score - 1e-4 * loss, {"val_score": score, "val_loss": loss}

    loop = LoopConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                      warmup_epochs=min(3.0, cfg.epochs / 10), seed=cfg.seed,
                      stage="classifier")
    res = run_epochs(ctx, loop, model, opt, len(tr), step, validate, checkpoint, resume, task,
                     generators=(aug_gen,), share=share)
    localise(model)
    return model, {"history": res.history, "best_epoch": res.best_epoch,
                   "validation_clips": int(len(va)), "train_clips": int(len(tr))}
