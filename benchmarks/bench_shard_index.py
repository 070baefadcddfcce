"""Finding the clips of a shard set: through the sidecar indexes `l2i pack` writes, and
by the header pass over each tar (shards without indexes), side by side on ESC-10's
400 clips. Each timed load starts as a new process would (empty per-process caches);
the files are in the page cache (warm), so a cold disk's seeks are not in the numbers.

    python benchmarks/bench_shard_index.py [--clips-per-shard N] [--json out.json]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from common import ESC10, ROOT, machine, side_by_side, write_json

sys.path.insert(0, str(ROOT))

from engine.dsp import shard_index, shards  # noqa: E402
from trainer.cli import main  # noqa: E402


def load_all(tars: list[Path]) -> int:
    shards._indexes.clear()
    shard_index._sums.clear()
    return sum(len(shards.index(t)) for t in tars)


def run(clips_per_shard: int | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        with_index = Path(tmp) / "with"
        extra = [] if clips_per_shard is None else ["--clips-per-shard", str(clips_per_shard)]
        assert main(["pack", str(ESC10), "--out", str(with_index), "--name", "esc10",
                     *extra]) == 0
        without = Path(tmp) / "without"
        shutil.copytree(with_index, without)
        for p in without.glob("*.idx.json"):
            p.unlink()
        a, b = sorted(with_index.glob("*.tar")), sorted(without.glob("*.tar"))
        clips = load_all(a)
        assert clips == load_all(b)
        index_bytes = sum(p.stat().st_size for p in with_index.glob("*.idx.json"))
        t = side_by_side({"sidecar": lambda: load_all(a), "header_pass": lambda: load_all(b)},
                         repeats=9)
    per400 = {k: v * 400 / clips for k, v in t.items()}
    return {"clips": clips, "shards": len(a), "index_bytes_per_clip": index_bytes / clips,
            "seconds_per_400_clips": per400,
            "us_per_clip": {k: v * 1e6 / clips for k, v in t.items()},
            "speedup": t["header_pass"] / t["sidecar"]}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips-per-shard", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    result = {"machine": machine(), **run(args.clips_per_shard)}
    print(result)
    write_json(args.json, result)
