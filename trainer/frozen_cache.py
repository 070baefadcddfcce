"""The frozen classifier's outputs per clip, computed once into an on-disk cache.

The interpreter trains against the classifier's probabilities (N, C) and the maps of its
tapped layers (N, ...): 0.64 MB per 5-s clip in float32 for the shipped bundle's four
layers, terabytes at AudioSet's size. As the feature cache does (trainer/features_cache.py),
every rank computes its contiguous block of the clips into its own shard under
``CACHE/frozen/KEY/``, all wait once, then every rank maps all shards as one array
(trainer/row_concat.RowConcat); a batch reads only its rows.

A shard's key is what determines its contents: the classifier's weights (the bytes of its
state dict, not a file), its class, the tapped layers, softmax or sigmoid, and the block's
inputs (``inputs.fingerprint(lo, hi)`` where the inputs can name themselves cheaply, as
``pipeline.ClipWaves`` does by the files; else a hash of the rows' bytes). A second run,
and every rank, reuses it; any change computes anew. Stored in float32: a float16 copy
changed the trained interpreter measurably (docs/scale.md).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engine.models.taps import LayerTaps
from engine.runtime import atomic
from engine.runtime.progress import TaskState, check, report
from trainer import distributed as D
from trainer.row_concat import RowConcat

log = logging.getLogger(__name__)

CACHE_VERSION = 1
_HASH_ROWS = 64  # rows hashed at a time: the inputs may be a memory map of any size


@dataclass
class FrozenOutputs:
    """What the frozen classifier says about each clip, memory-mapped from the cache."""

    probabilities: np.ndarray | RowConcat  # (N, C) float32
    maps: list[np.ndarray | RowConcat]  # per layer, (N, ...) float32
    folders: list[Path]  # one per shard, in row order


def classifier_digest(model: nn.Module) -> str:
    """A hash of the weights themselves: the same classifier loaded from any file (or
    trained again to the same weights) has the same digest."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{type(model).__module__}.{type(model).__qualname__}".encode())
    for name, t in model.state_dict().items():
        t = t.detach().cpu().contiguous().reshape(-1)  # 0-d tensors too (batch counts)
        h.update(f"|{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def inputs_digest(inputs, lo: int, hi: int) -> str:
    """The identity of input rows lo..hi-1 (see the module's text)."""
    named = getattr(inputs, "fingerprint", None)
    if callable(named):
        return str(named(lo, hi))
    h = hashlib.blake2b(digest_size=16)
    for i in range(lo, hi, _HASH_ROWS):
        rows = np.ascontiguousarray(np.asarray(inputs[i:min(i + _HASH_ROWS, hi)]))
        h.update(f"{rows.dtype}|{rows.shape[1:]}|".encode())
        h.update(rows.view(np.uint8).reshape(-1).data)
    return h.hexdigest()


def frozen_outputs(classifier: nn.Module, layers: list[str], inputs, multilabel: bool,
                   cache_dir: Path, ctx: D.Context | None = None, batch: int = 32,
                   task: TaskState | None = None) -> FrozenOutputs:
    """``inputs``: the classifier's inputs, (N, ...) or anything sliceable into them
    (log-mel for most classifiers, waveforms for one that reads audio). With a
    distributed ``ctx`` a collective call: each rank computes its block, then all read
    all blocks."""
    ctx = ctx or D.Context()
    classifier.eval().to(ctx.device)  # the callers use it there too (focus, faithfulness)
    n = len(inputs)
    head = [CACHE_VERSION, classifier_digest(classifier), list(layers), bool(multilabel)]
    lo, hi = D.block(ctx, n)
    folder = None
    if hi > lo:  # a rank with no clips (more ranks than clips) only waits
        folder = _folder(cache_dir, head, inputs, lo, hi)
        _compute(folder, classifier, layers, inputs, (lo, hi), multilabel, ctx.device,
                 batch, task)
    # every rank learns every shard's folder once all are written (the gather waits for
    # all): no rank reads, let alone hashes, another's inputs
    folders = [Path(f) for f in _gather(ctx, None if folder is None else str(folder))
               if f is not None]
    if not folders:  # no clips at all: the callers refuse this before
        raise ValueError("frozen_outputs: no inputs")
    shards = [_open(f) for f in folders]
    if len(shards) == 1:
        return FrozenOutputs(shards[0][0], shards[0][1], folders)
    return FrozenOutputs(RowConcat([s[0] for s in shards]),
                         [RowConcat(list(m)) for m in zip(*(s[1] for s in shards))], folders)


def _folder(cache_dir: Path, head: list, inputs, lo: int, hi: int) -> Path:
    h = hashlib.blake2b(digest_size=12)
    h.update(json.dumps(head + [hi - lo, inputs_digest(inputs, lo, hi)]).encode())
    return Path(cache_dir) / "frozen" / h.hexdigest()


def _gather(ctx: D.Context, item: str | None) -> list[str | None]:
    if not ctx.distributed:
        return [item]
    out: list[str | None] = [None] * ctx.world_size
    torch.distributed.all_gather_object(out, item)
    return out


def _compute(folder: Path, classifier: nn.Module, layers: list[str], inputs,
             block: tuple[int, int], multilabel: bool, device: torch.device, batch: int,
             task: TaskState | None) -> None:
    """Rows ``block`` of the outputs into ``folder``, unless they are there already.
    Rows are written with plain file writes, not through a memory map: the pages of a
    map being written would stay resident in this process."""
    if (folder / "done.json").is_file():
        log.info("frozen classifier outputs: reusing %s", folder)
        return
    folder.mkdir(parents=True, exist_ok=True)
    lo, hi = block
    files: list = []
    names: list[str] = []
    try:
        with LayerTaps(classifier, layers) as taps, torch.no_grad():
            for i in range(lo, hi, batch):
                check(task)
                x = torch.from_numpy(np.asarray(inputs[i:min(i + batch, hi)],
                                                dtype=np.float32))
                logits, maps = taps(x.to(device))
                probs = torch.sigmoid(logits) if multilabel else torch.softmax(logits, -1)
                arrays = [t.float().cpu().numpy() for t in (probs, *maps)]
                if not files:
                    names = ["probabilities"] + [f"map{j}" for j in range(len(maps))]
                    files = [_open_rows(folder / f"{nm}.tmp.npy", a, hi - lo)
                             for nm, a in zip(names, arrays)]
                for f, a in zip(files, arrays):
                    f.write(np.ascontiguousarray(a).data)  # no copy of the batch
                del x, logits, maps, probs, arrays, a  # else two batches live at the next pass
                report(task, "classifier outputs", min(i + batch, hi) - lo, hi - lo)
    finally:
        for f in files:
            f.close()
    for nm in names:  # whole: publish; done.json, written last, says so
        os.replace(folder / f"{nm}.tmp.npy", folder / f"{nm}.npy")
    atomic.write_json(folder / "done.json", {"layers": list(layers), "files": names,
                                             "rows": hi - lo}, indent=None)


def _open_rows(path: Path, first: np.ndarray, n: int):
    """A .npy file of ``n`` rows like ``first``'s, open for appending rows after its
    header (the rest of the file is written as the rows come)."""
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": np.lib.format.dtype_to_descr(
            first.dtype), "fortran_order": False, "shape": (n, *first.shape[1:])})
    return open(path, "ab")


def _open(folder: Path) -> tuple[np.ndarray, list[np.ndarray]]:
    meta = json.loads((folder / "done.json").read_text())
    arrays = [np.load(folder / f"{nm}.npy", mmap_mode="r") for nm in meta["files"]]
    return arrays[0], arrays[1:]


__all__ = ["FrozenOutputs", "classifier_digest", "frozen_outputs", "inputs_digest"]
