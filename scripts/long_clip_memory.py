"""Peak memory and time of a long recording through the engine and the window's path.

    python scripts/long_clip_memory.py --seconds 3600 [--bundle B.l2i] [--app]

Without --bundle, an untrained bundle of the paper's size (VGG widths 16..512, K = 100)
is built: memory does not depend on the weights. The clip is written to a temporary
folder a minute at a time. Prints one JSON line (RELIABILITY.md quotes the numbers).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.bundles.bundle import Bundle, load_bundle, make_manifest  # noqa: E402
from engine.dsp.audio import load_audio  # noqa: E402
from engine.dsp.features import FrontEndConfig  # noqa: E402
from engine.explanation.explain import Explainer  # noqa: E402
from engine.models.classifier import VGGClassifier, VGGConfig, default_taps  # noqa: E402
from engine.models.interpreter import Interpreter, InterpreterConfig  # noqa: E402
from engine.models.taps import LayerTaps  # noqa: E402


def paper_sized_bundle(k: int = 100, n_classes: int = 10) -> Bundle:
    fe = FrontEndConfig()
    clf = VGGClassifier(n_classes, VGGConfig()).eval()
    layers = default_taps(clf)
    with LayerTaps(clf, layers) as taps, torch.no_grad():
        _, maps = taps(torch.zeros(1, fe.n_mels, 100))
    icfg = InterpreterConfig(k=k, n_classes=n_classes,
                             map_shapes=[list(m.shape[1:]) for m in maps])
    W = torch.rand(fe.n_freqs, k)
    manifest = make_manifest(name="paper-sized", frontend=fe,
                             classes=[f"c{i}" for i in range(n_classes)], multilabel=False,
                             classifier_arch="vgg", classifier_config=clf.config.to_dict(),
                             layers=layers, dictionary={"k": k}, interpreter=icfg)
    return Bundle(manifest, clf, Interpreter(icfg).eval(), W / W.norm(dim=0, keepdim=True))


def write_clip(path: Path, seconds: float, rate: int = 44100) -> Path:
    n = rate * 60
    minute = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / rate)
              + 0.05 * np.random.default_rng(0).standard_normal(n)).astype(np.float32)
    with sf.SoundFile(str(path), "w", rate, 1, "PCM_16", format="WAV") as f:
        for start in range(0, int(seconds * rate), n):
            f.write(minute[: min(n, int(seconds * rate) - start)])
    return path


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3600)
    ap.add_argument("--bundle", type=Path, default=None)
    ap.add_argument("--app", action="store_true", help="jobs.analyse_clip (the window's open path)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    bundle = load_bundle(args.bundle) if args.bundle else paper_sized_bundle()
    row: dict = {"seconds": args.seconds, "bundle": bundle.name, "path": "engine"}
    with tempfile.TemporaryDirectory() as tmp:
        clip = write_clip(Path(tmp) / "long.wav", args.seconds)
        row["base_mb"] = round(peak_mb())
        start = time.perf_counter()
        with Explainer(bundle) as ex:
            if args.app:
                from l2i_desktop import jobs

                row["path"] = "app (jobs.analyse_clip)"
                jobs.analyse_clip(ex, clip, None, 0.1)
            else:
                analysis = ex.analyse(load_audio(clip, ex.cfg.sample_rate))
                row["analyse_peak_mb"] = round(peak_mb())
                row["analyse_s"] = round(time.perf_counter() - start, 1)
                exp = ex.explain(analysis, threshold=0.1, with_components=False)
                row["selected"] = len(exp.selected)
    row["peak_mb"] = round(peak_mb())
    row["total_s"] = round(time.perf_counter() - start, 1)
    print(json.dumps(row))


if __name__ == "__main__":
    main()
