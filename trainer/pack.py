"""Packing any dataset the trainer reads, as tar shards in the
WebDataset layout (engine/dsp/shards.py reads them back).

Per clip ``KEY.<original extension>`` (the original bytes, not re-encoded) then
``KEY.json`` (labels by class name, fold, recording id, original relative path); shards
``NAME-000000.tar``, ... cut by clip count or size; ``NAME.json`` beside them says the
classes, the layout the clips came from, and each shard's clip count, size and sha256;
``NAME-000000.idx.json`` beside each shard (engine/dsp/shard_index.py) its members'
offsets, sizes and KEY.json, and the tar's size and sha256, so readers need not scan
the tar headers.

Deterministic: the same input gives the same bytes (clips in dataset order, members with
time 0, owner 0, mode 0644, JSON with sorted keys). Atomic: the shards are written into
a hidden folder beside SHARDS that replaces it whole at the end (engine/runtime/atomic),
so a failed pack leaves SHARDS as it was and no half-written shard anywhere.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

from engine.dsp import shard_index, shards
from engine.runtime import atomic
from engine.runtime.errors import L2IError, shown
from engine.runtime.outputs import public_mode
from engine.runtime.progress import TaskState, check, report
from trainer.datasets import Dataset

log = logging.getLogger(__name__)
DEFAULT_SHARD_MB = 256.0  # WebDataset suggests shards of 100 MB to a few GB
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def keys_of(ds: Dataset) -> list[str]:
    """A readable, unique key per clip from its path under the dataset's root (no dots:
    WebDataset splits a member's name at its first dot)."""
    taken: set[str] = set()
    keys = []
    for p in ds.paths:
        try:  # a clip of shards being packed again keeps its key
            rel = Path(p.name) if shards.split_member(p) else p.relative_to(ds.root)
        except ValueError:
            rel = Path(p.name)
        base = _UNSAFE.sub("_", rel.with_suffix("").as_posix()).strip("_") or "clip"
        key, n = base, 1
        while key in taken:
            n += 1
            key = f"{base}_{n}"
        taken.add(key)
        keys.append(key)
    return keys


def clip_record(ds: Dataset, i: int) -> dict:
    """What KEY.json holds for clip ``i``."""
    record: dict = {"fold": int(ds.folds[i]),
                    "group": None if ds.groups is None else str(ds.groups[i])}
    try:
        record["path"] = ds.paths[i].relative_to(ds.root).as_posix()
    except ValueError:
        record["path"] = ds.paths[i].name
    if ds.labelled:
        row = ds.labels[i]
        record["labels"] = [c for c, on in zip(ds.classes, row) if on] if ds.multilabel \
            else [ds.classes[int(row)]]
    return record


def _clip_bytes(path: Path) -> bytes:
    return shards.member_bytes(path) if shards.split_member(path) else path.read_bytes()


def _member(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, 0, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _groups(sizes: list[int], clips: int | None, limit: int | None) -> Iterator[range]:
    """Consecutive clips per shard: at most ``clips`` of them, or as many as stay under
    ``limit`` bytes (a larger clip gets a shard to itself)."""
    start, total = 0, 0
    for i, size in enumerate(sizes):
        full = (clips is not None and i - start >= clips) or \
               (limit is not None and i > start and total + size > limit)
        if full:
            yield range(start, i)
            start, total = i, 0
        total += size + 1024  # two headers per clip, about
    if start < len(sizes):
        yield range(start, len(sizes))


def pack(ds: Dataset, out: Path, name: str, clips_per_shard: int | None = None,
         shard_mb: float | None = None, task: TaskState | None = None) -> dict:
    """Write ``ds`` as shards into ``out`` (created, or replaced if it holds a pack)."""
    if clips_per_shard is not None and clips_per_shard < 1:
        raise L2IError("--clips-per-shard must be at least 1")
    if shard_mb is not None and shard_mb <= 0:
        raise L2IError("--shard-mb must be above 0")
    if clips_per_shard is None and shard_mb is None:
        shard_mb = DEFAULT_SHARD_MB
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name):
        raise L2IError(f"--name {name!r}: letters, digits, '_', '-' and '.' only")
    _check_out(out)
    keys = keys_of(ds)
    sizes = [shards.clip_size(p) for p in ds.paths]
    limit = None if shard_mb is None else int(shard_mb * 1e6)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.packing-", dir=out.parent))
    try:
        public_mode(tmp, folder=True)
        listed, done = [], 0
        for number, rows in enumerate(_groups(sizes, clips_per_shard, limit)):
            path = tmp / f"{name}-{number:06d}.tar"
            digest = hashlib.sha256()
            entries: list[shard_index.Entry] = []

            def write(target: Path, rows=rows, digest=digest, entries=entries) -> None:
                nonlocal done
                with open(target, "wb") as raw, \
                        tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
                    for i in rows:
                        check(task)
                        data = _clip_bytes(ds.paths[i])
                        ext = ds.paths[i].suffix.lower().lstrip(".")
                        record = clip_record(ds, i)
                        meta = json.dumps(record, sort_keys=True, ensure_ascii=False).encode()
                        tar.addfile(_member(f"{keys[i]}.{ext}", len(data)), io.BytesIO(data))
                        at = shard_index.data_offset(raw.tell(), len(data))
                        tar.addfile(_member(f"{keys[i]}.json", len(meta)), io.BytesIO(meta))
                        entries.append(shard_index.Entry(
                            keys[i], ext, at, len(data),
                            (shard_index.data_offset(raw.tell(), len(meta)), len(meta)),
                            json.loads(meta)))  # as a reader of KEY.json gets it
                        done += 1
                        report(task, "pack", done, len(ds), keys[i])
                with open(target, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        digest.update(block)

            atomic.write_atomically(path, write)
            listed.append({"file": path.name, "clips": len(rows),
                           "bytes": path.stat().st_size, "sha256": digest.hexdigest()})
            atomic.write_bytes(shard_index.path_of(path), shard_index.encode(
                path.name, listed[-1]["bytes"], listed[-1]["sha256"], entries))
        meta = {"format": shards.FORMAT, "version": shards.VERSION, "name": name,
                "classes": list(ds.classes), "multilabel": bool(ds.multilabel),
                "layout": ds.layout, "source": str(ds.root), "clips": len(ds),
                "notes": list(ds.notes), "shards": listed}
        atomic.write_bytes(tmp / f"{name}.json",
                           json.dumps(meta, indent=1, sort_keys=True).encode())
        atomic.replace_folder(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return meta


def _check_out(out: Path) -> None:
    """SHARDS is new, empty, or an earlier pack (it is replaced whole: nothing else may
    be lost with it)."""
    if not out.exists():
        return
    if not out.is_dir():
        raise L2IError(f"{shown(out, full=True)}: exists and is not a folder")
    ours = {p.name for p in out.iterdir()
            if shards.SHARD_NAME.match(p.name) or (p.suffix == ".json" and _is_ours(p))}
    others = [p.name for p in out.iterdir() if p.name not in ours]
    if others:
        raise L2IError(f"{shown(out, full=True)}: holds other files ({shown(others[0])}); "
                       "pack into a new or empty folder (it is replaced whole)")


def _is_ours(p: Path) -> bool:
    """NAME.json or a shard's index."""
    try:
        return json.loads(p.read_text(encoding="utf-8")).get("format") in \
            (shards.FORMAT, shard_index.FORMAT)
    except (OSError, ValueError, AttributeError):
        return False
