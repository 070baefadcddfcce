"""One interpreter training epoch on ESC-10 (fold 1 held out), ours against a
reference-style loop that reads the audio, recomputes the features (librosa) and the
frozen classifier's outputs at every batch. Same models, same batch size.

Ours computes the classifier's outputs once per run (features come from the cache), so
two numbers: a steady epoch, and a first epoch that includes that one-time work.

    python benchmarks/bench_epoch.py [--clips 320] [--bundle B.l2i] [--json out.json]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import librosa
import numpy as np
import torch
from common import ESC10, machine, write_json

from engine.bundles.bundle import load_bundle
from engine.dsp.features import FrontEndConfig
from engine.models.interpreter import Interpreter
from engine.models.taps import LayerTaps
from resources import DEFAULT_BUNDLE
from trainer import pipeline
from trainer.train_classifier import soft_loss
from trainer.train_interpreter import InterpreterTrainConfig, train_interpreter


def ours(p, rows, bundle, epochs: int) -> float:
    size = bundle.interpreter.config  # the same interpreter as the reference loop trains
    cfg = InterpreterTrainConfig(epochs=epochs, val_fraction=0.0,
                                 adapter_channels=size.adapter_channels, hidden=size.hidden,
                                 temporal_stride=size.temporal_stride)
    t0 = time.perf_counter()
    train_interpreter(bundle.classifier, bundle.layers, bundle.W, p.features.log_mag[rows],
                      p.features.log_mel[rows], p.dataset.labels[rows], len(bundle.classes),
                      False, cfg)
    return time.perf_counter() - t0


def reference_epoch(paths: list[Path], bundle, cfg: FrontEndConfig, batch: int = 32
                    ) -> float:
    interp = Interpreter(bundle.interpreter.config).train()
    opt = torch.optim.Adam(interp.parameters(), lr=2e-4)
    W = bundle.W.float()
    n = int(5.0 * cfg.sample_rate)
    t0 = time.perf_counter()
    with LayerTaps(bundle.classifier.eval(), bundle.layers) as taps:
        for i in range(0, len(paths), batch):
            X, mel = [], []
            for path in paths[i:i + batch]:
                wave, _ = librosa.load(path, sr=cfg.sample_rate, mono=True)
                wave = librosa.util.fix_length(wave, size=n)
                mag = np.abs(librosa.stft(wave, n_fft=cfg.n_fft, hop_length=cfg.hop_length))
                m = librosa.feature.melspectrogram(S=mag ** 2, sr=cfg.sample_rate,
                                                   n_mels=cfg.n_mels)
                mel.append(librosa.power_to_db(m, top_db=cfg.top_db))
                X.append(np.log1p(mag))
            X = torch.from_numpy(np.stack(X).astype(np.float32))
            with torch.no_grad():
                logits, maps = taps(torch.from_numpy(np.stack(mel).astype(np.float32)))
            H, ilogits, _ = interp(maps, X.shape[-1])
            loss = soft_loss(ilogits, logits.softmax(-1), False) + \
                10 * (X - W @ H).square().mean() + 0.8 * H.mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=320)
    ap.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE,
                    help="whose classifier, dictionary and interpreter size to train")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    bundle = load_bundle(a.bundle)
    p = pipeline.prepare(ESC10, test_fold=1)
    rows = p.train_rows[: a.clips]
    paths = [p.dataset.paths[r] for r in rows]
    reference_epoch(paths[:2], bundle, p.frontend)  # librosa's first-call cost stays out
    one, two = ours(p, rows, bundle, 1), ours(p, rows, bundle, 2)
    ref = reference_epoch(paths, bundle, p.frontend)
    steady = two - one
    out = {"machine": machine(), "clips": len(rows), "ours_first_epoch_s": one,
           "ours_steady_epoch_s": steady, "reference_epoch_s": ref,
           "speedup_steady": ref / steady, "speedup_first_epoch": ref / one}
    for k, v in out.items():
        print(f"{k:>22}: {v}")
    write_json(a.json, out)


if __name__ == "__main__":
    main()
