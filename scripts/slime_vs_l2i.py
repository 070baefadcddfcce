"""L2I against SLIME on held-out clips, measured the same way (engine/explanation/quality.py).

For every clip of the held-out fold (default: ESC-10 fold 1, the shipped bundle trained
on folds 2-5) and the classifier's own class c: L2I's explanation at tau, and SLIME's
with time segments, mel-spaced frequency bands and time-frequency patches. Each mask is
applied to the magnitude (phase kept), resynthesised and classified through the normal
front-end: FF = p_c - q_c on the masked-out audio, Fid-In and the probability kept o_c
on the masked-in audio. One JSON per clip under OUT/clips (a rerun skips finished clips),
OUT/summary.json, and the table between <!-- slime:begin --> and <!-- slime:end --> in
EVALUATION.md.

    OMP_NUM_THREADS=1 python scripts/slime_vs_l2i.py --samples 150
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import numpy as np
import torch

from engine.bundles.bundle import load_bundle
from engine.dsp.audio import load_audio
from engine.explanation.explain import Explainer
from engine.explanation.quality import clip_terms
from engine.tools import slime
from trainer.features_cache import fix_length

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- slime:begin -->", "<!-- slime:end -->"
MATCHED = "patches-matched"  # SLIME patches, as many as fit in L2I's share of the spectrogram
LABELS = {"l2i": "L2I (τ = {tau:g})", "time": "SLIME, 10 time segments",
          "freq": "SLIME, 8 mel bands", "patches": "SLIME, 5 x 4 patches",
          MATCHED: "SLIME, 5 x 4 patches, area matched to L2I's"}


def held_out(data: Path, fold: int) -> list[Path]:
    return sorted(data.glob(f"*/{fold}-*"), key=lambda p: (p.parent.name, p.name))


def _terms(p: np.ndarray, o: np.ndarray, q: np.ndarray, mask: torch.Tensor,
           seconds: float, **extra) -> dict:
    t = clip_terms(p, o, q, mask.cpu().numpy())
    c = int(np.argmax(p))
    return {"ff": t.faithfulness, "fid_in": t.fidelity_in, "kept": float(o[c]),
            "AI": t.increase, "AD": t.drop, "fraction": float(mask.float().mean()),
            "seconds": seconds, **extra}


def matched_selection(exp: slime.SlimeExplanation, budget: float, n_cells: int) -> list[int]:
    """Positive segments by weight while their area stays within ``budget`` (a share of
    the spectrogram); at least the best one."""
    chosen, area = [], 0.0
    for j in np.argsort(-exp.weights, kind="stable"):
        s = exp.segments[j]
        size = (s.t1 - s.t0) * (s.f1 - s.f0) / n_cells
        if exp.weights[j] <= 0 or (chosen and area + size > budget):
            break
        chosen.append(int(j))
        area += size
    return chosen


@torch.no_grad()
def one_clip(ex: Explainer, wave: np.ndarray, tau: float, samples: int,
             segmentations: list[str], seed: int) -> dict:
    t0 = time.perf_counter()
    a = ex.analyse(wave)
    t_analyse = time.perf_counter() - t0
    c = a.predicted
    t0 = time.perf_counter()
    chosen = ex.explain(a, c, tau, with_components=False).selected
    t_l2i = time.perf_counter() - t0 + t_analyse
    masks = {"l2i": slime.l2i_mask(ex, a, chosen)}
    seconds = {"l2i": t_l2i}
    extra: dict[str, dict] = {"l2i": {"selected": len(chosen)}}
    patches = None
    for seg in segmentations:
        cfg = slime.SlimeConfig(segmentation=seg, n_samples=samples, seed=seed, top=3,
                                threshold=tau)
        t0 = time.perf_counter()
        exp = slime.explain(ex, a, c, cfg)
        seconds[seg] = time.perf_counter() - t0 + t_analyse
        masks[seg] = torch.as_tensor(exp.mask)
        extra[seg] = {"selected": len(exp.selected), "r2": exp.score,
                      "weights": [float(w) for w in exp.weights]}
        if seg == "patches":
            patches = exp
    if patches is not None:  # the same surrogate, fewer segments: no new classification
        budget = float(masks["l2i"].mean())
        sel = matched_selection(patches, budget, a.log_mag.numel())
        z = np.zeros(len(patches.segments), np.uint8)
        z[sel] = 1
        sm = slime.segment_masks(patches.segments, *a.log_mag.shape)
        masks[MATCHED] = slime.mask_of(z, sm)
        seconds[MATCHED] = seconds["patches"]
        extra[MATCHED] = {"selected": len(sel)}
    names = list(masks)
    pairs = slime.masked_probabilities(ex, a, [masks[n] for n in names])
    p = a.probabilities
    return {"predicted": c, "p": float(p[c]),
            "methods": {n: _terms(p, o, q, masks[n], seconds[n], **extra[n])
                        for n, (o, q) in zip(names, pairs)}}


def summarise(clips: list[dict]) -> dict[str, dict]:
    names = list(clips[0]["methods"])
    out = {}
    for n in names:
        rows = [c["methods"][n] for c in clips]

        def col(k, rows=rows):
            return np.array([r[k] for r in rows], dtype=float)

        out[n] = {"clips": len(rows), "ff_median": float(np.median(col("ff"))),
                  "ff_mean": float(col("ff").mean()), "fid_in": float(col("fid_in").mean()),
                  "kept": float(col("kept").mean()), "AD": 100 * float(col("AD").mean()),
                  "fraction": float(col("fraction").mean()),
                  "selected": float(col("selected").mean()),
                  "seconds": float(col("seconds").mean())}
        if "r2" in rows[0]:
            out[n]["r2"] = float(col("r2").mean())
    return out


def table(summary: dict[str, dict], meta: dict) -> str:
    lines = ["| explanation | FF median | FF mean | Fid-In | p kept (mean o_c) | AD | "
             "share of spectrogram | selected | s / clip |",
             "|---|---|---|---|---|---|---|---|---|"]
    for n, s in summary.items():
        label = LABELS.get(n, n).format(tau=meta["tau"])
        unit = "components" if n == "l2i" else "segments"
        lines.append(f"| {label} | {s['ff_median']:.3f} | {s['ff_mean']:.3f} | "
                     f"{s['fid_in']:.3f} | {s['kept']:.3f} | {s['AD']:.1f} | "
                     f"{100 * s['fraction']:.1f} % | {s['selected']:.1f} {unit} | "
                     f"{s['seconds']:.2f} |")
    r2 = {n: s["r2"] for n, s in summary.items() if "r2" in s}
    lines.append("")
    lines.append(f"{meta['clips']} clips ({meta['data']}, fold {meta['fold']}), bundle "
                 f"`{meta['bundle']}`, the classifier's own class; SLIME: {meta['samples']} "
                 f"perturbed copies per clip and segmentation, seed {meta['seed']}, up to 3 "
                 f"segments with weight above τ x the largest; surrogate R² (weighted) "
                 + ", ".join(f"{n} {v:.2f}" for n, v in r2.items())
                 + f". Seconds per clip on {meta['machine']} (analysis included in both).")
    return "\n".join(lines) + "\n"


def write_block(doc: Path, body: str) -> None:
    text = doc.read_text()
    pattern = re.compile(re.escape(BEGIN) + r"\n.*?" + re.escape(END), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _m: f"{BEGIN}\n{body}{END}", text)
    else:
        text = text.rstrip("\n") + (
            "\n\n## SLIME, the perturbation baseline\n\n"
            "Produced by `python scripts/slime_vs_l2i.py` (engine/tools/slime.py).\n\n"
            f"{BEGIN}\n{body}{END}\n")
    doc.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "esc10")
    ap.add_argument("--fold", type=int, default=1)
    ap.add_argument("--bundle", type=Path, default=ROOT / "resources" / "default.l2i")
    ap.add_argument("--samples", type=int, default=150)
    ap.add_argument("--segmentations", default="time,freq,patches")
    ap.add_argument("--tau", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=None, help="first N clips only")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "slime")
    ap.add_argument("--doc", type=Path, default=ROOT / "EVALUATION.md")
    ap.add_argument("--no-doc", action="store_true")
    ap.add_argument("--machine", default="2 shared CPU cores, 1 torch thread")
    a = ap.parse_args()
    torch.set_num_threads(1)
    paths = held_out(a.data, a.fold)[:a.limit]
    if not paths:
        raise SystemExit(f"no clips of fold {a.fold} in {a.data}")
    bundle = load_bundle(a.bundle)
    n = int(round(float(bundle.manifest.get("clip_seconds", 5.0))
                  * bundle.frontend.sample_rate))
    segs = [s.strip() for s in a.segmentations.split(",") if s.strip()]
    folder = a.out / "clips"
    folder.mkdir(parents=True, exist_ok=True)
    settings = {"bundle": a.bundle.name, "samples": a.samples, "seed": a.seed,
                "tau": a.tau, "segmentations": segs}
    clips = []
    with Explainer(bundle) as ex:
        for i, path in enumerate(paths):
            f = folder / f"{path.stem}.json"
            if f.is_file():  # finished by an earlier run with the same settings
                done = json.loads(f.read_text())
                if done.get("settings") == settings:
                    clips.append(done)
                    continue
            r = one_clip(ex, fix_length(load_audio(path, ex.cfg.sample_rate), n), a.tau,
                         a.samples, segs, a.seed)
            r["clip"], r["settings"] = str(path.relative_to(a.data)), settings
            f.write_text(json.dumps(r))
            clips.append(r)
            m = r["methods"]
            print(f"[{i + 1}/{len(paths)}] {path.name}: " + "  ".join(
                f"{k} FF {v['ff']:.3f} ({v['seconds']:.1f} s)" for k, v in m.items()),
                flush=True)
    meta = {"clips": len(clips), "data": a.data.name, "fold": a.fold, "tau": a.tau,
            "bundle": a.bundle.name, "samples": a.samples, "seed": a.seed,
            "machine": a.machine}
    summary = summarise(clips)
    (a.out / "summary.json").write_text(json.dumps({"meta": meta, "summary": summary},
                                                   indent=2))
    body = table(summary, meta)
    print(body)
    if not a.no_doc:
        write_block(a.doc, body)
        print(f"-> {a.doc}")


if __name__ == "__main__":
    main()
