"""Cost of explaining against clip length (5 s, 30 s, 2 min, 10 min of real ESC-10
audio, clips laid end to end): wall time and peak memory, each length in a fresh process.

    python benchmarks/bench_length.py [--lengths 5,30,120,600] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from common import ROOT, machine, write_json

CHILD = """
import json, resource, sys, time
import numpy as np, torch
torch.set_grad_enabled(False)
from engine.audio import load_audio
from engine.bundle import load_bundle
from engine.explain import Explainer
from resources import DEFAULT_BUNDLE
seconds = float(sys.argv[1])
ex = Explainer(load_bundle(DEFAULT_BUNDLE))
sr = ex.cfg.sample_rate
clips = sorted(__import__("pathlib").Path(sys.argv[2]).rglob("1-*.ogg"))
parts, n = [], 0
while n < seconds * sr:
    w = load_audio(clips[len(parts) % len(clips)], sr)
    parts.append(w)
    n += len(w)
wave = np.concatenate(parts)[: int(seconds * sr)]
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
a = ex.analyse(wave)
e = ex.explain(a, None, 0.1)
t = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "time_s": t, "peak_rss_mb": peak / 1024,
                  "rss_before_mb": base / 1024, "selected": len(e.selected)}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", default="5,30,120,600")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    rows = []
    for s in a.lengths.split(","):
        run = subprocess.run([sys.executable, "-c", CHILD, s, str(ROOT.parent / "shared" /
                                                                  "data" / "esc10")],
                             capture_output=True, text=True, cwd=ROOT,
                             env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
        if run.returncode != 0:
            rows.append({"seconds": float(s), "error": run.stderr.strip().splitlines()[-1]})
        else:
            rows.append(json.loads(run.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    ok = [r for r in rows if "time_s" in r]
    for r in ok:
        r["time_per_minute_s"] = r["time_s"] / (r["seconds"] / 60)
    write_json(a.json, {"machine": machine(), "rows": rows})


if __name__ == "__main__":
    main()
