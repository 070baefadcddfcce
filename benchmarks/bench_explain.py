"""Explaining one 5-s ESC-10 clip with the default bundle, against one classifier forward
pass on the same clip, side by side:

- explain: prediction, relevance, interpretation, residual and the audio of every
  selected component (tau 0.1), from the waveform;
- all K components resynthesised;
- a toggle: one component muted, new interpretation audio;
- a reference-style pipeline (features with librosa, components resynthesised one by
  one with librosa's ISTFT), the same models.

    python benchmarks/bench_explain.py [--repeats 7] [--json out.json]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import librosa
import numpy as np
import torch
from common import esc10_clip, machine, side_by_side, write_json

from engine.bundles.bundle import load_bundle
from engine.dsp.audio import load_audio
from engine.explanation.explain import Explainer
from engine.explanation.masks import relevance, select, soft_masks
from resources import DEFAULT_BUNDLE


def reference_explain(ex: Explainer, wave: np.ndarray, tau: float) -> list[np.ndarray]:
    """The reference code's way: librosa features, then one ISTFT per component."""
    cfg = ex.cfg
    S = librosa.stft(wave, n_fft=cfg.n_fft, hop_length=cfg.hop_length, center=True)
    mag, phase = np.abs(S), np.angle(S)
    mel = librosa.feature.melspectrogram(S=mag ** 2, sr=cfg.sample_rate, n_mels=cfg.n_mels,
                                         htk=False, norm="slaney")
    log_mel = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=cfg.top_db)
    X = torch.from_numpy(np.log1p(mag).astype(np.float32))
    with torch.no_grad():
        x = torch.from_numpy(log_mel.astype(np.float32)).unsqueeze(0)
        logits, maps = ex.taps(x)
        H, _, z = ex.bundle.interpreter(maps, X.shape[-1])
        c = int(logits.argmax())
        r = relevance(z[0], ex.bundle.interpreter.class_weights[c])
        chosen = select(r, tau)
        masks = soft_masks(ex.bundle.W, H[0], chosen)
    out = []
    for m in masks:
        Xk = (m * X).numpy()
        out.append(librosa.istft(np.expm1(Xk) * np.exp(1j * phase),
                                 hop_length=cfg.hop_length, n_fft=cfg.n_fft,
                                 length=len(wave)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--tau", type=float, default=0.1)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    torch.set_grad_enabled(False)
    ex = Explainer(load_bundle(a.bundle))
    wave = load_audio(esc10_clip(), ex.cfg.sample_rate)
    an = ex.analyse(wave)
    e = ex.explain(an, None, a.tau)
    toggled = e.selected[1:]
    every = list(range(ex.bundle.k))
    mel = an.log_mel.unsqueeze(0)
    reference_explain(ex, wave, a.tau)  # librosa's first-call (numba) cost stays out
    t = side_by_side({
        "forward": lambda: ex.classify(mel),
        "explain": lambda: ex.explain(ex.analyse(wave), None, a.tau),
        "all_components": lambda: ex.component_audio(an, every),
        "toggle": lambda: ex.render(an, toggled),
        "reference": lambda: reference_explain(ex, wave, a.tau),
    }, repeats=a.repeats)
    out = {"machine": machine(), "clip": esc10_clip().name, "selected": len(e.selected),
           "seconds": t,
           "explain_vs_forward": t["explain"] / t["forward"],
           "all_components_vs_forward": t["all_components"] / t["forward"],
           "toggle_vs_forward": t["toggle"] / t["forward"],
           "speedup_vs_reference": t["reference"] / t["explain"]}
    for k, v in out.items():
        print(f"{k:>28}: {v}")
    write_json(a.json, out)


if __name__ == "__main__":
    main()
