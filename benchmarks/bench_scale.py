"""The dictionary step at 1, 2 and 4 processes (gloo, CPU), and the mini-batch mode
against the full batch: the per-rank rates docs/scale.md projects from.

1. Per rank: seconds per full-batch iteration on the rank's block of real ESC-10
   training frames (fold 1 held out, F = 513, K = 100, mu 0.8, 3 H + 10 W steps), as
   (time of 7 iterations - time of 2) / 5, and the frames per second that makes. One
   thread per process: on a machine with fewer cores than processes the per-rank rate
   falls, and the JSON says how many cores there were.
2. The all-reduce of one iteration's sums (F K + K K + 1 numbers) on its own.
3. Full batch (``--iterations``) against the mini-batch mode (``--passes`` of
   ``--batch`` frames): time and the objective of each dictionary scored alike
   (nmf_online.score: H refitted with W fixed), and the memory each keeps.

    python benchmarks/bench_scale.py [--frames 40000] [--json out.json]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from common import ESC10, machine, write_json

from engine.dsp import nmf, nmf_online
from trainer import distributed as D

CFG = dict(k=100, sparsity=0.8, inner=3, inner_w=10, seed=0)


def training_frames(limit: int) -> np.ndarray:
    from trainer import pipeline

    p = pipeline.prepare(ESC10, test_fold=1)
    X = np.concatenate([np.asarray(p.features.log_mag[r], dtype=np.float32)
                        for r in p.train_rows], axis=1)
    keep = np.sort(np.random.default_rng(0).choice(X.shape[1], min(limit, X.shape[1]),
                                                   replace=False))
    return np.ascontiguousarray(X[:, keep])


def _rank(rank: int, world: int, store: str, X: np.ndarray, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank,
                            world_size=world)
    ctx = D.Context(rank=rank, world_size=world)
    lo, hi = D.block(ctx, X.shape[1])
    mine = [X[:, lo:hi]]

    def reduce(t: torch.Tensor) -> None:
        dist.all_reduce(t)
    shard = nmf.Shard(lo, X.shape[1], reduce, world, rank)

    def run(n: int) -> float:
        dist.barrier()
        t0 = time.perf_counter()
        nmf.fit(mine, nmf.NMFConfig(iterations=n, **CFG), shard=shard, resident=True)
        dist.barrier()
        return time.perf_counter() - t0
    short, long = run(2), run(7)
    stats = torch.zeros(X.shape[0] * CFG["k"] + CFG["k"] ** 2 + 1, dtype=torch.float64)
    dist.barrier()
    t0 = time.perf_counter()
    for _ in range(20):
        reduce(stats)
    reduce_s = (time.perf_counter() - t0) / 20
    if rank == 0:
        write_json(Path(out), {"seconds_per_iteration": (long - short) / 5,
                               "frames_per_rank": hi - lo, "all_reduce_s": reduce_s})
    dist.destroy_process_group()


def per_rank(X: np.ndarray, world: int) -> dict:
    import json

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        mp.spawn(_rank, args=(world, str(Path(tmp) / "store"), X, str(out)), nprocs=world)
        r = json.loads(out.read_text())
    r |= {"processes": world,
          "frames_per_second_per_rank": r["frames_per_rank"] / r["seconds_per_iteration"],
          "frames_per_second": X.shape[1] / r["seconds_per_iteration"]}
    return r


def full_against_online(X: np.ndarray, iterations: int, passes: int, batch: int) -> dict:
    torch.set_num_threads(1)
    chunks = [X[:, a:a + 16384] for a in range(0, X.shape[1], 16384)]
    t0 = time.perf_counter()
    full = nmf.fit(chunks, nmf.NMFConfig(iterations=iterations, **CFG))
    t_full = time.perf_counter() - t0
    t0 = time.perf_counter()
    online = nmf_online.fit_online(chunks, nmf.NMFConfig(iterations=passes,
                                                         online_batch=batch, **CFG))
    t_online = time.perf_counter() - t0
    start = nmf.init_dictionary(chunks, CFG["k"], CFG["seed"])
    s0, s_full, s_online = (nmf_online.score(chunks, W, CFG["sparsity"])
                            for W in (start, full.W, online.W))
    k, n, f = CFG["k"], X.shape[1], X.shape[0]
    return {"full_iterations": iterations, "full_s": t_full, "full_score": s_full,
            "online_passes": passes, "online_batch": batch, "online_s": t_online,
            "online_score": s_online, "start_score": s0,
            "online_score_vs_full": s_online / s_full, "full_vs_online_time": t_full / t_online,
            "full_keeps_mb": k * n * 4 / 2**20,
            "online_keeps_mb": (f * k + k * k + (f + k) * batch) * 4 / 2**20}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=40000)
    ap.add_argument("--worlds", default="1,2,4")
    ap.add_argument("--iterations", type=int, default=60)
    ap.add_argument("--passes", type=int, default=6)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    X = training_frames(a.frames)
    rows = []
    for w in map(int, a.worlds.split(",")):
        rows.append(per_rank(X, w))
        print(f"{w} process(es): {rows[-1]['seconds_per_iteration']:.3f} s/iteration, "
              f"{rows[-1]['frames_per_second_per_rank']:.0f} frames/s per rank, all-reduce "
              f"{rows[-1]['all_reduce_s'] * 1e3:.1f} ms", flush=True)
    versus = full_against_online(X, a.iterations, a.passes, a.batch)
    print(f"full batch {a.iterations} iterations: {versus['full_s']:.1f} s; mini-batch "
          f"{a.passes} passes of {a.batch}: {versus['online_s']:.1f} s; objective "
          f"{versus['online_score_vs_full']:.4f}x the full batch's")
    flat = {f"per_rank_frames_per_s_{r['processes']}": r["frames_per_second_per_rank"]
            for r in rows}
    flat |= {f"speedup_{r['processes']}": rows[0]["seconds_per_iteration"]
             / r["seconds_per_iteration"] for r in rows}
    write_json(a.json, {"machine": machine(), "frames": int(X.shape[1]), "config": CFG,
                        "per_rank": rows, "online": versus, **flat,
                        "online_score_vs_full": versus["online_score_vs_full"],
                        "full_vs_online_time": versus["full_vs_online_time"]})


if __name__ == "__main__":
    main()
