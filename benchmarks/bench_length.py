"""Cost of explaining against clip length (5 s, 30 s, 2 min, 10 min of real ESC-10
audio, clips laid end to end): wall time and peak memory, each length and each way in a
fresh process.

Two ways of explaining a whole clip, both with prediction, relevance, interpretation,
residual and the audio of every selected component:

- ``files``: ``l2i explain`` (``explain_to_folder``): the clip is read from a WAV file
  and everything is written to a folder, one component's audio at a time; what the
  command line does, and how the app treats components (one on demand);
- ``memory``: ``Explainer.analyse`` then ``explain`` with every component's audio held
  in memory at once (the library call).

    python benchmarks/bench_length.py [--lengths 5,30,120,600] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from common import DATA, ROOT, machine, write_json

CHILD = """
import json, sys, time
import soundfile as sf, torch
torch.set_grad_enabled(False)
from engine.bundles.bundle import load_bundle
from engine.explanation.explain import Explainer
from engine.tools.explain_files import explain_to_folder
from resources import DEFAULT_BUNDLE
way, clip, out = sys.argv[1:4]
def peak_mb():  # VmHWM: unlike ru_maxrss, not inherited from the parent across exec
    line = next(x for x in open("/proc/self/status") if x.startswith("VmHWM"))
    return int(line.split()[1]) / 1024
bundle = load_bundle(DEFAULT_BUNDLE)
base = peak_mb()
t0 = time.perf_counter()
if way == "files":
    doc = explain_to_folder(clip, bundle, out)
    selected = sum(c["selected"] for c in doc["components"])
else:
    ex = Explainer(bundle)
    wave = sf.read(clip, dtype="float32")[0]
    e = ex.explain(ex.analyse(wave), None, 0.1)
    selected = len(e.components)
t = time.perf_counter() - t0
print(json.dumps({"time_s": t, "peak_rss_mb": peak_mb(), "rss_before_mb": base,
                  "selected": selected}))
"""


def long_clip(seconds: float, path: Path) -> None:
    """ESC-10 fold-1 clips end to end, written as a 16-bit WAV at 44.1 kHz."""
    from engine.dsp.audio import load_audio
    clips = sorted((DATA / "esc10").rglob("1-*.ogg"))
    parts, n = [], 0
    while n < seconds * 44100:
        parts.append(load_audio(clips[len(parts) % len(clips)], 44100))
        n += len(parts[-1])
    sf.write(path, np.concatenate(parts)[: int(seconds * 44100)], 44100, subtype="PCM_16")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", default="5,30,120,600")
    ap.add_argument("--ways", default="files,memory")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for s in a.lengths.split(","):
            clip = Path(tmp) / f"{s}.wav"
            long_clip(float(s), clip)
            for way in a.ways.split(","):
                run = subprocess.run(
                    [sys.executable, "-c", CHILD, way, str(clip), str(Path(tmp) / "out")],
                    capture_output=True, text=True, cwd=ROOT,
                    env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
                row = {"seconds": float(s), "way": way}
                if run.returncode != 0:
                    row["error"] = run.stderr.strip().splitlines()[-1]
                else:
                    row |= json.loads(run.stdout.strip().splitlines()[-1])
                    row["time_per_minute_s"] = row["time_s"] / (float(s) / 60)
                rows.append(row)
                print(row, flush=True)
            clip.unlink()
    write_json(a.json, {"machine": machine(), "rows": rows})


if __name__ == "__main__":
    main()
