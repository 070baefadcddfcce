"""Batches (#24): `l2i report` over a folder against one `l2i explain` per clip in a loop,
and against itself unbatched, side by side (interleaved round by round), each a fresh
process through the real entry point, CPU, the shipped bundle.

- loop: ``l2i explain CLIP --out DIR`` once per clip (what a user scripts without report);
- report, one by one: ``l2i report FOLDER --batch 1``;
- report, batched: ``l2i report FOLDER --batch N`` (clips of one length together).

Throughput is clips per second of the whole command, start-up included.

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
    result = {
        "clips": len(chosen), "loop_clips": a.loop_clips, "batch": a.batch,
        "rounds": a.rounds, "clips_per_s": {k: round(v, 3) for k, v in med.items()},
        "runs": runs,
        "batched_vs_loop": round(med["report_batched"] / med["loop"], 2),
        "batched_vs_unbatched": round(med["report_batched"] / med["report_unbatched"], 2),
        "machine": machine(),
    }
    shutil.rmtree(work, ignore_errors=True)
    print(result)
    write_json(a.json, result)


if __name__ == "__main__":
    main()
