"""Batches (#24): `l2i report` over a folder against one `l2i explain` per clip in a loop,
and against itself unbatched, side by side (interleaved round by round), each a fresh
process through the real entry point, CPU, the shipped bundle.

- loop: ``l2i explain CLIP --out DIR`` once per clip (what a user scripts without report);
- report, one by one: ``l2i report FOLDER --batch 1``;
- report, batched: ``l2i report FOLDER --batch N`` (clips of one length together).

Throughput is clips per second of the whole command, start-up included. Then, in this
process (start-up left out), milliseconds per clip of ``batch_report`` as it was (PNG
at zlib level 6, one clip at a time) and as it is (level 1, batches of 8), with the two
in between, interleaved round by round.

    python benchmarks/bench_report.py [--clips 16] [--rounds 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ESC10, ROOT, machine, write_json

from engine.bundles.bundle import load_bundle
from engine.tools.report import png
from engine.tools.report.run import batch_report
from resources import default_bundle_path


def clips(n: int) -> list[Path]:
    """``n`` real ESC-10 clips of fold 1 (5 s each), classes in turn."""
    folders = sorted(p for p in ESC10.iterdir() if p.is_dir())
    per = [sorted(f.glob("1-*.ogg")) for f in folders]
    out = []
    for i in range(n):
        out.append(per[i % len(per)][i // len(per)])
    return out


def l2i(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "trainer.cli", *args], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def in_process(folder: Path, n: int, rounds: int) -> dict:
    """Per-clip milliseconds of batch_report for (zlib level, batch) pairs, medians."""
    bundle = load_bundle(default_bundle_path())
    scratch = Path(tempfile.mkdtemp(prefix="l2i-bench-report-in-"))
    batch_report(folder, scratch / "warm-up", bundle, batch=1)
    times: dict[str, list[float]] = {}
    for r in range(rounds):
        for level in (6, 1):
            for batch in (1, 8):
                png.LEVEL = level
                t = time.perf_counter()
                batch_report(folder, scratch / f"{r}-{level}-{batch}", bundle, batch=batch)
                times.setdefault(f"zlib {level}, batch {batch}", []).append(
                    (time.perf_counter() - t) / n * 1000)
    shutil.rmtree(scratch, ignore_errors=True)
    med = {k: round(statistics.median(v), 1) for k, v in times.items()}
    return {"ms_per_clip": med, "runs": times,
            "now_vs_before": round(med["zlib 6, batch 1"] / med["zlib 1, batch 8"], 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=16)
    ap.add_argument("--loop-clips", type=int, default=6,
                    help="clips for the one-process-per-clip loop (it is slow)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    chosen = clips(a.clips)
    work = Path(tempfile.mkdtemp(prefix="l2i-bench-report-"))
    folder = work / "clips"
    folder.mkdir()
    for path in chosen:
        (folder / path.name).symlink_to(path)
    common = ["--device", "cpu"]

    def loop() -> float:
        t = time.perf_counter()
        for path in chosen[: a.loop_clips]:
            out = work / "explained"
            l2i("explain", str(path), "--out", str(out), *common)
            shutil.rmtree(out)
        return a.loop_clips / (time.perf_counter() - t)

    def report(batch: int) -> float:
        out = work / f"report-{batch}"
        t = time.perf_counter()
        l2i("report", str(folder), "--out", str(out), "--batch", str(batch), *common)
        elapsed = time.perf_counter() - t
        shutil.rmtree(out)  # the next round explains them all again
        return len(chosen) / elapsed

    runs: dict[str, list[float]] = {"loop": [], "report_unbatched": [], "report_batched": []}
    for _ in range(a.rounds):
        runs["loop"].append(loop())
        runs["report_unbatched"].append(report(1))
        runs["report_batched"].append(report(a.batch))
    med = {k: statistics.median(v) for k, v in runs.items()}
    inside = in_process(folder, len(chosen), max(3, a.rounds))
    result = {
        "clips": len(chosen), "loop_clips": a.loop_clips, "batch": a.batch,
        "rounds": a.rounds, "clips_per_s": {k: round(v, 3) for k, v in med.items()},
        "runs": runs,
        "batched_vs_loop": round(med["report_batched"] / med["loop"], 2),
        "batched_vs_unbatched": round(med["report_batched"] / med["report_unbatched"], 2),
        "in_process": inside,
        "machine": machine(),
    }
    shutil.rmtree(work, ignore_errors=True)
    print(result)
    write_json(a.json, result)


if __name__ == "__main__":
    main()
