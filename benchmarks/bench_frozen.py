"""What the on-disk cache of the frozen classifier's outputs costs an interpreter epoch:
the same training with the maps held in memory (as before trainer/frozen_cache.py) and
read from the cache's memory maps, interleaved; and whether storing them in float16
would change the trained interpreter.

    python benchmarks/bench_frozen.py [--clips 64] [--epochs 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import ESC10, machine, side_by_side, write_json

import trainer.train_interpreter as TI
from engine.bundles.bundle import load_bundle
from resources import DEFAULT_BUNDLE
from trainer import pipeline
from trainer.frozen_cache import FrozenOutputs, frozen_outputs


def train(p, rows, bundle, epochs: int, cache: Path, maps=None) -> TI.Interpreter:
    """One training; ``maps``: a function from the cached outputs to those to train on
    (held in memory, rounded)."""
    size = bundle.interpreter.config
    cfg = TI.InterpreterTrainConfig(epochs=epochs, adapter_channels=size.adapter_channels,
                                    hidden=size.hidden, temporal_stride=size.temporal_stride)
    real = TI.frozen_outputs
    if maps is not None:
        TI.frozen_outputs = lambda *a, **k: maps(real(*a, **k))
    try:
        interp, _ = TI.train_interpreter(
            bundle.classifier, bundle.layers, bundle.W, p.features.log_mag[rows],
            p.features.log_mel[rows], p.dataset.labels[rows], len(bundle.classes), False,
            cfg, cache_dir=cache)
    finally:
        TI.frozen_outputs = real
    return interp


def in_memory(f: FrozenOutputs, dtype=np.float32) -> FrozenOutputs:
    return FrozenOutputs(np.asarray(f.probabilities),
                         [np.asarray(m).astype(dtype).astype(np.float32) for m in f.maps],
                         f.folders)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=3, help="of the float16 comparison")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    cache = Path(tempfile.mkdtemp(prefix="bench-frozen-"))
    bundle = load_bundle(DEFAULT_BUNDLE)
    p = pipeline.prepare(ESC10, test_fold=1)  # the features: the default cache
    rows = p.train_rows[: a.clips]
    t0 = time.perf_counter()
    f = frozen_outputs(bundle.classifier, bundle.layers, p.features.log_mel[rows], False,
                       cache)
    first = time.perf_counter() - t0
    per_clip = sum(np.asarray(m[:1]).nbytes for m in f.maps)
    times = side_by_side({"in_memory": lambda: train(p, rows, bundle, 1, cache, in_memory),
                          "memmap_cache": lambda: train(p, rows, bundle, 1, cache)},
                         repeats=3)
    # float16 maps: the same training (same seed) on rounded maps
    x = torch.from_numpy(np.asarray(p.features.log_mel[rows[:16]], dtype=np.float32))
    with TI.LayerTaps(bundle.classifier, bundle.layers) as taps, torch.no_grad():
        _, probe = taps(x)
    full = train(p, rows, bundle, a.epochs, cache)
    half = train(p, rows, bundle, a.epochs, cache, lambda f: in_memory(f, np.float16))
    again = train(p, rows, bundle, a.epochs, cache)
    with torch.no_grad():
        hf, lf, _ = full.eval()(probe, x.shape[-1])
        hh, lh, _ = half.eval()(probe, x.shape[-1])
        ha, _, _ = again.eval()(probe, x.shape[-1])
    out = {"machine": machine(), "clips": len(rows), "map_bytes_per_clip": per_clip,
           "first_computation_s": first, "epoch_in_memory_s": times["in_memory"],
           "epoch_memmap_cache_s": times["memmap_cache"],
           "float16_H_max_abs_diff": float((hf - hh).abs().max()),
           "float16_H_rel_diff": float((hf - hh).norm() / hf.norm()),
           "float16_logits_max_abs_diff": float((lf - lh).abs().max()),
           "float16_top1_agreement": float((lf.argmax(1) == lh.argmax(1)).float().mean()),
           "float32_rerun_H_max_abs_diff": float((hf - ha).abs().max())}
    for k, v in out.items():
        print(f"{k:>30}: {v}")
    write_json(a.json, out)


if __name__ == "__main__":
    main()
