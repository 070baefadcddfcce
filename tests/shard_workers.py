"""Worker processes for tests/test_sharded_features.py: each joins a gloo process group
as torchrun would set it up (environment variables), runs one job and writes its result
to an .npz or .pt file for the test to compare with a single process's."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import torch
import torch.multiprocessing as mp
from torch import nn

from engine.models.classifier import VGGClassifier


class CountingVGG(VGGClassifier):
    """A VGG classifier that counts its forward passes (a cache hit makes none)."""

    calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return super().forward(x)


class FatClassifier(nn.Module):
    """One tapped layer of 64 channels at full resolution: (64, 64, 64) float32, 1 MB a
    clip of 64 mel bands x 64 frames."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 64, 3, padding=1)
        self.head = nn.Linear(64, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.conv(x[:, None])).mean(dim=(2, 3)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(job, world: int, *args) -> None:
    """Run ``job(ctx, *args)`` on ``world`` processes (the ``spawn`` start method)."""
    mp.spawn(_enter, args=(world, free_port(), job, args), nprocs=world, join=True)


def _enter(rank: int, world: int, port: int, job, args) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      LOCAL_RANK=str(rank), WORLD_SIZE=str(world), OMP_NUM_THREADS="1")
    torch.set_num_threads(1)
    from trainer import distributed as D

    ctx = D.setup("cpu")
    try:
        job(ctx, *args)
    finally:
        D.cleanup(ctx)


def features_job(ctx, datasets: list[str], cache: str, out: str, seconds: float,
                 touch: str | None = None) -> None:
    """Every rank opens each dataset's features and writes what it reads; with ``touch``,
    rank 0 then changes that file's mtime and all compute once more."""
    from engine.dsp.features import FrontEndConfig
    from trainer import distributed as D
    from trainer.datasets import load_dataset
    from trainer.features_cache import compute_features

    for name in datasets:
        ds = load_dataset(name)
        rounds = 2 if touch else 1
        for r in range(rounds):
            f = compute_features(ds, FrontEndConfig(), seconds, Path(cache), ctx=ctx)
            n = len(f.log_mel)
            order = np.random.default_rng(ctx.rank).permutation(n)
            np.savez(Path(out) / f"{Path(name).name}-{r}-{ctx.rank}.npz",
                     log_mel=np.asarray(f.log_mel), log_mag=np.asarray(f.log_mag),
                     keep=f.keep, skipped=np.array([s[0] for s in f.skipped] + [""]),
                     folders=np.array([str(p) for p in f.folders]), order=order,
                     mel_gathered=f.log_mel[order], mag_span=f.log_mag[1:n - 1],
                     mag_row=f.log_mag[n - 1], mag_cut=f.log_mag[:, 3, 2:9],
                     mel_step=f.log_mel[::2])
            if touch and r == 0:
                D.barrier(ctx)
                if ctx.is_main:
                    st = os.stat(touch)
                    os.utime(touch, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
                D.barrier(ctx)


def interpreter_job(ctx, a: dict, out: str) -> None:
    """Train the interpreter that ``a`` (train_interpreter's arguments) describes and write
    this rank's weights and record."""
    from trainer.train_interpreter import train_interpreter

    interp, info = train_interpreter(a["classifier"], a["layers"], a["W"], a["log_mag"],
                                     a["log_mel"], a["labels"], a["n_classes"], False,
                                     a["cfg"], ctx, frontend=a.get("frontend"),
                                     waves=a.get("waves"))
    torch.save({"state": interp.state_dict(), "info": info},
               Path(out) / f"interpreter-{ctx.rank}.pt")


def classifier_job(ctx, mel: np.ndarray, labels: np.ndarray, cfg, out: str) -> None:
    from trainer.train_classifier import train_classifier

    model, info = train_classifier(mel, labels, 2, False, cfg, ctx)
    torch.save({"state": model.state_dict(), "info": info},
               Path(out) / f"classifier-{ctx.rank}.pt")


def frozen_job(ctx, clf, layers: list[str], inputs: np.ndarray, cache: str, out: str) -> None:
    """The classifier's outputs through the cache, twice: what this rank reads, how the
    maps are held, and how many forward passes each round took (``clf.calls``)."""
    from trainer.frozen_cache import frozen_outputs

    got, calls = [], []
    for _ in range(2):
        before = clf.calls
        got.append(frozen_outputs(clf, layers, inputs, False, Path(cache), ctx))
        calls.append(clf.calls - before)
    f = got[0]
    np.savez(Path(out) / f"frozen-{ctx.rank}.npz", probabilities=np.asarray(f.probabilities),
             calls=np.array(calls), folders=np.array([str(p) for p in f.folders]),
             again=np.array([str(p) for p in got[1].folders]),
             mapped=np.array([memory_mapped(m) for m in f.maps]),
             rows=f.maps[0][np.array([len(inputs) - 1, 0])],
             **{f"map{i}": np.asarray(m) for i, m in enumerate(f.maps)})


def memory_mapped(a) -> bool:
    """``a`` (an array or a RowConcat of them) reads from files, holding no rows."""
    parts = getattr(a, "parts", [a])
    return all(isinstance(p, np.memmap) for p in parts)


def rss_job(ctx, n: int, out: str) -> None:
    """Train an interpreter on ``n`` random clips of a classifier with 1 MB of maps a
    clip, and write the peak growth of this process's anonymous resident memory (the
    heap: file pages of the cache are the kernel's to drop) during the training."""
    import threading

    from trainer.train_interpreter import InterpreterTrainConfig, train_interpreter

    rng = np.random.default_rng(0)
    mel = rng.normal(size=(n, 64, 64)).astype(np.float32)
    mag = rng.random((n, 513, 64)).astype(np.float16)
    labels = np.arange(n) % 3
    W = torch.rand(513, 8, generator=torch.Generator().manual_seed(1))
    cfg = InterpreterTrainConfig(epochs=1, batch_size=8, adapter_channels=8, hidden=8,
                                 temporal_stride=4, val_fraction=0.0)
    clf = FatClassifier()
    base, peak, done = anon_kb(), [0], threading.Event()

    def sample() -> None:
        while not done.wait(0.002):
            peak[0] = max(peak[0], anon_kb())

    t = threading.Thread(target=sample)
    t.start()
    try:
        train_interpreter(clf, ["conv"], W, mag, mel, labels, 3, False, cfg, ctx,
                          cache_dir=Path(out) / f"cache-{n}")
    finally:
        done.set()
        t.join()
    peak[0] = max(peak[0], anon_kb())
    (Path(out) / f"rss-{n}.txt").write_text(str(peak[0] - base))


def anon_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    raise RuntimeError("no RssAnon in /proc/self/status")
