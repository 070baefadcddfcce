"""Time and peak memory of the timeline of long recordings (engine.tools.timeline), streamed
from a file written at the bundle's rate:

    python scripts/timeline_memory.py --minutes 10 60 [--hop SECONDS] [--bundle B.l2i]

The files are written first; each length is then measured in a fresh process that writes
nothing (peak RSS only ever grows within one): the bundle is loaded and a 30-s recording
(three batches of windows) is put through first, so the baseline already holds the
model and its working memory; the growth past it is what the length costs. ``--whole``
decodes the file at once first instead of streaming it, for comparison. ``decoded_mb``
is what the recording takes decoded as float32, as ``engine.dsp.audio.load_audio`` would
hold it. One JSON line per length.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from long_clip_memory import peak_mb, write_clip  # noqa: E402

from engine.bundles.bundle import load_bundle  # noqa: E402
from engine.dsp.audio import load_audio  # noqa: E402
from engine.explanation.explain import Explainer  # noqa: E402
from engine.tools.timeline import compute_timeline  # noqa: E402
from resources import default_bundle_path  # noqa: E402


def rss_mb() -> float | None:
    """Resident memory now (Linux), to tell a transient peak from an accumulation."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20
    except (OSError, IndexError, ValueError):
        return None


def measure(clip: Path, warm: Path, hop_s: float | None, bundle_path: Path, threads: int,
            whole: bool = False) -> dict:
    """Run in a process that has written nothing: the files come from the parent."""
    torch.set_num_threads(threads)
    bundle = load_bundle(bundle_path)
    rate = bundle.frontend.sample_rate
    with Explainer(bundle) as ex:
        compute_timeline(ex, warm)
        base, base_now = peak_mb(), rss_mb()
        start = time.perf_counter()
        # --whole: the recording decoded at once first, to show what streaming saves
        source = load_audio(clip, rate) if whole else clip
        timeline = compute_timeline(ex, source, hop_s)
        seconds = time.perf_counter() - start
        peak, now = peak_mb(), rss_mb()
    minutes = timeline.duration_s / 60
    return {"minutes": round(minutes, 2), "source": "decoded array" if whole else "stream",
            "bundle": bundle.name, "windows": len(timeline.starts), "hop_s": timeline.hop_s,
            "threads": threads, "seconds": round(seconds, 1),
            "windows_per_s": round(len(timeline.starts) / seconds, 1),
            "realtime_factor": round(minutes * 60 / seconds, 1),
            "baseline_mb": round(base, 1), "peak_mb": round(peak, 1),
            "growth_mb": round(peak - base, 1),
            "resident_growth_mb": None if now is None else round(now - base_now, 1),
            "decoded_mb": round(timeline.duration_s * rate * 4 / 2**20, 1),
            "file_mb": round(clip.stat().st_size / 2**20, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, nargs="+", default=[10, 60])
    ap.add_argument("--hop", type=float, default=None, help="seconds (default: half a window)")
    ap.add_argument("--bundle", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--whole", action="store_true", help="decode the whole file first")
    ap.add_argument("--clip", type=Path, help="measure this file, in this process")
    ap.add_argument("--warm", type=Path, help="with --clip: the warm-up recording")
    a = ap.parse_args()
    bundle = a.bundle or default_bundle_path()
    if a.clip is not None:
        row = measure(a.clip, a.warm, a.hop, bundle, a.threads, a.whole)
        print(json.dumps(row), flush=True)
        return
    rate = load_bundle(bundle).frontend.sample_rate
    with tempfile.TemporaryDirectory() as tmp:
        warm = write_clip(Path(tmp) / "warm.wav", 30, rate)
        for minutes in a.minutes:
            clip = write_clip(Path(tmp) / "long.wav", minutes * 60, rate)
            cmd = [sys.executable, __file__, "--clip", str(clip), "--warm", str(warm),
                   "--bundle", str(bundle), "--threads", str(a.threads)]
            cmd += ["--hop", str(a.hop)] if a.hop is not None else []
            cmd += ["--whole"] if a.whole else []
            subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
