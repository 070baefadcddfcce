"""Train an L-MAC decoder (engine/explanation/lmac.py) against a frozen classifier.

Each batch of training clips is mixed at 0 dB with clips of other classes (the mixture
augmentation of the recipe; ``mix_probability`` of the clips), the classifier's
decision c on the mixture is the target, and the decoder's mask is trained by
l_in * CE(f(masked-in), c) - l_out * CE(f(masked-out), c) + l1 * mean |M|, the audio
resynthesised and run through the classifier's own front-end at every step.

Model selection is on the trainer's validation split of the training clips (fixed,
seeded validation mixtures), never on the test fold; the loss is the score. A silent
clip is never divided by: it is left unmixed, and its partner is never a silent clip.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engine.bundles.bundle import Bundle
from engine.dsp.features import FrontEndConfig, mel_db, stft
from engine.explanation.lmac import LMACWeights, guided_term, loss_terms, total_loss
from engine.models.lmac_decoder import LMACConfig, LMACDecoder
from engine.models.taps import LayerTaps
from engine.models.user_classifier import example_input
from engine.runtime.errors import L2IError
from engine.runtime.progress import TaskState
from trainer import distributed as D
from trainer import pipeline
from trainer.loop import LoopConfig, run_epochs
from trainer.train_classifier import validation_split

SINGLE_LABEL_ONLY = "L-MAC explains single-label classifiers only"


@dataclass
class LMACTrainConfig:
    epochs: int = 10
    batch_size: int = 16
    lr: float = 2e-4
    l_in: float = 4.0
    l_out: float = 0.2
    l1: float = 0.4
    guided: float = 0.0  # weight of guided fine-tuning's BCE (the recipe: 4); 0: off
    mix_probability: float = 1.0  # share of training clips mixed with another class's
    val_fraction: float = 0.15
    seed: int = 0
    adapter_channels: int = 64
    hidden: int = 128
    freq_cells: int = 8
    up_stages: int = 2
    init: str | None = None  # the bundle whose decoder was the start (recorded)

    def __post_init__(self) -> None:
        if not (isinstance(self.epochs, int) and self.epochs >= 1):
            raise L2IError("L-MAC: --epochs must be at least 1")
        if not (isinstance(self.batch_size, int) and self.batch_size >= 1):
            raise L2IError("L-MAC: --batch-size must be at least 1")
        if not self.lr > 0:
            raise L2IError("L-MAC: --lr must be > 0")
        if min(self.l_in, self.l_out, self.l1, self.guided) < 0:
            raise L2IError("L-MAC: --l-in, --l-out, --l1 and --guided must be >= 0")
        if not 0 <= self.mix_probability <= 1:
            raise L2IError("L-MAC: --mix-probability must lie in [0, 1]")

    def weights(self) -> LMACWeights:
        return LMACWeights(l_in=self.l_in, l_out=self.l_out, l1=self.l1, guided=self.guided)

    def decoder_config(self, map_shapes: list[list[int]]) -> LMACConfig:
        try:
            return LMACConfig(map_shapes=map_shapes, adapter_channels=self.adapter_channels,
                              hidden=self.hidden, freq_cells=self.freq_cells,
                              up_stages=self.up_stages)
        except ValueError as exc:
            raise L2IError(str(exc)) from None

    def to_dict(self) -> dict:
        return asdict(self)


class Mixer:
    """0 dB mixtures of clips with clips of other classes, at the clean clip's energy."""

    def __init__(self, waves: np.ndarray, labels: np.ndarray, probability: float) -> None:
        self.waves = waves
        self.labels = np.asarray(labels)
        self.energy = np.sqrt(np.square(waves, dtype=np.float64).sum(axis=1))
        self.probability = probability
        if len(np.unique(self.labels)) < 2 and probability > 0:
            raise L2IError("L-MAC's mixture augmentation needs clips of at least two classes")

    def __call__(self, rows: np.ndarray, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray]:
        """(mixtures, the clean clips' part of them), (B, N) float32 each."""
        clean = self.waves[rows].astype(np.float32)
        mixed = clean.copy()
        out_clean = clean.copy()
        for i, r in enumerate(rows):
            if self.energy[r] == 0 or rng.random() >= self.probability:
                continue
            others = np.flatnonzero((self.labels != self.labels[r]) & (self.energy > 0))
            if not len(others):
                continue
            o = others[rng.integers(len(others))]
            noise = self.waves[o] * (self.energy[r] / self.energy[o])
            m = clean[i] + noise
            gain = self.energy[r] / max(float(np.linalg.norm(m)), 1e-12)
            mixed[i] = m * gain
            out_clean[i] = clean[i] * gain
        return mixed, out_clean


def map_shapes(classifier: nn.Module, layers: list[str], kind: str,
               frontend: FrontEndConfig) -> list[list[int]]:
    try:
        with LayerTaps(classifier, layers) as taps, torch.no_grad():
            _, maps = taps(example_input(kind, frontend).to(next(_params(classifier))))
    except ValueError as exc:
        raise L2IError(str(exc)) from None
    return [list(m.shape[1:]) for m in maps]


def _params(model: nn.Module):
    for p in list(model.parameters()) + list(model.buffers()):
        yield p.device
    yield torch.device("cpu")


def train_lmac(classifier: nn.Module, kind: str, frontend: FrontEndConfig,
               layers: list[str], waves: np.ndarray, labels: np.ndarray,
               cfg: LMACTrainConfig, ctx: D.Context | None = None,
               checkpoint: Path | None = None, resume: bool = False,
               task: TaskState | None = None, init: LMACDecoder | None = None
               ) -> tuple[LMACDecoder, dict]:
    """``waves``: the training clips (N, samples) at the front-end's rate; ``labels``
    their classes (N,), used only to pick mixing partners and stratify validation.
    ``init``: a decoder of the same shape to start from (guided fine-tuning)."""
    ctx = ctx or D.Context()
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise L2IError(SINGLE_LABEL_ONLY)
    dev = ctx.device
    torch.manual_seed(cfg.seed)
    classifier.eval().requires_grad_(False).to(dev)  # frozen; gradients pass through it
    decoder = LMACDecoder(cfg.decoder_config(map_shapes(classifier, layers, kind, frontend)),
                          frontend)
    if init is not None:
        if init.config != decoder.config:
            raise L2IError("the bundle's L-MAC decoder has another shape than the one asked "
                           f"for: {init.config.to_dict()}")
        decoder.load_state_dict(init.state_dict())
    decoder.to(dev)
    net = D.wrap(ctx, decoder)
    weights = cfg.weights()
    tr, va = validation_split(labels, cfg.val_fraction, cfg.seed)
    mixer = Mixer(np.asarray(waves, dtype=np.float32), labels, cfg.mix_probability)
    n = int(np.shape(waves)[1])
    opt = torch.optim.Adam(decoder.parameters(), lr=cfg.lr)
    val_batches = [mixer(va[i:i + cfg.batch_size], np.random.default_rng([cfg.seed, 11, i]))
                   for i in range(0, len(va), cfg.batch_size)]

    def terms(model: nn.Module, mixed: np.ndarray, clean: np.ndarray
              ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x = torch.from_numpy(mixed).to(dev)
        S = stft(x, frontend)
        with LayerTaps(classifier, layers) as taps, torch.no_grad():
            logits, maps = taps(mel_db(S.abs(), frontend) if kind == "log_mel" else x)
        c = logits.argmax(dim=-1)
        M = model(maps, S.shape[-1])
        ce_in, ce_out, l1, both = loss_terms(classifier, kind, frontend, S, M, c, n)
        loss = total_loss(weights, ce_in, ce_out, l1)
        out = {"ce_in": ce_in, "ce_out": ce_out, "mask": l1,
               "keeps": (both[0].argmax(-1) == c).float().mean()}
        if weights.guided > 0:
            S_clean = stft(torch.from_numpy(clean).to(dev), frontend)
            g, _ = guided_term(M, S_clean.abs(), S.abs(), weights)
            loss = loss + weights.guided * g
            out["guided"] = g
        return loss, out

    def step(idx: torch.Tensor, epoch: int) -> dict[str, float]:
        rows = tr[idx.numpy()]
        rng = np.random.default_rng([cfg.seed, epoch, int(idx[0]), len(idx)])
        loss, out = terms(net, *mixer(rows, rng))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item()} | {k: v.item() for k, v in out.items()}

    def validate() -> tuple[float | None, dict[str, float]]:
        if not val_batches:
            return None, {}
        sums: dict[str, float] = {}
        count = 0
        with torch.no_grad():
            for mixed, clean in val_batches:
                loss, out = terms(decoder, mixed, clean)
                b = len(mixed)
                count += b
                for k, v in ({"loss": loss} | out).items():
                    sums[k] = sums.get(k, 0.0) + b * float(v)
        means = {f"val_{k}": v / count for k, v in sums.items()}
        return -means["val_loss"], means

    loop = LoopConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                      warmup_epochs=min(1.0, cfg.epochs / 10), seed=cfg.seed, stage="L-MAC")
    res = run_epochs(ctx, loop, decoder, opt, len(tr), step, validate, checkpoint, resume,
                     task)
    return decoder.cpu().eval(), {"history": res.history, "best_epoch": res.best_epoch,
                                  "validation_clips": int(len(va)),
                                  "train_clips": int(len(tr))}


def lmac_stage(bundle: Bundle, p: pipeline.Prepared, cfg: LMACTrainConfig,
               layers: list[str] | None = None, ctx: D.Context | None = None,
               resume: bool = False, checkpoint: Path | None = None,
               task: TaskState | None = None) -> Bundle:
    """Train a decoder for ``bundle``'s classifier on ``p``'s training clips and attach
    it to the bundle (the caller saves it). ``layers``: default the interpreter's. With
    ``cfg.guided`` and a bundle that has a decoder already, that decoder is the start."""
    ctx = ctx or D.Context()
    if bundle.multilabel or p.dataset.multilabel:
        raise L2IError(SINGLE_LABEL_ONLY)
    layers = list(layers or bundle.layers)
    init = bundle.lmac if cfg.guided > 0 and bundle.lmac is not None else None
    if init is not None and layers != bundle.lmac_layers:
        raise L2IError("guided fine-tuning starts from the bundle's decoder: tap its layers "
                       f"({','.join(bundle.lmac_layers)})")
    rows = p.train_rows
    n = int(round(p.clip_seconds * p.frontend.sample_rate))
    waves = pipeline.ClipWaves([p.dataset.paths[i] for i in rows], p.frontend.sample_rate,
                               n)[:]
    # without labels each clip is its own class: any other clip is a mixing partner
    keys = p.dataset.labels[rows] if p.dataset.labelled else np.arange(len(rows))
    started = {"started_from": bundle.name} if init is not None else {}
    if init is not None:
        cfg.init = bundle.name
    decoder, info = train_lmac(bundle.classifier, bundle.classifier_input, p.frontend,
                               layers, waves, keys, cfg, ctx, checkpoint,
                               resume, task, init)
    bundle.classifier.cpu()
    return bundle.with_lmac(decoder, layers, pipeline.provenance(
        p, training=cfg.to_dict(), best_epoch=info["best_epoch"], history=info["history"],
        validation_clips=info["validation_clips"], **started))
