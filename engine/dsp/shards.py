"""Clips inside tar shards in the WebDataset layout, read without unpacking.

A shard set (written by ``l2i pack``, trainer/pack.py) is ``NAME-000000.tar``,
``NAME-000001.tar``, ... and ``NAME.json`` beside them: the classes, the layout it came
from, and per shard its clip count, size and sha256, so a reader knows the classes and
checks the shards without scanning them. In a shard each clip is ``KEY.<ext>`` (the
original audio bytes) and ``KEY.json`` (labels by class name, fold, group, original
path); WebDataset's own reader groups the same members by key.

A clip is named by a path through its shard, ``SHARD.tar/KEY.EXT``: ``load_audio`` reads
it with one positional read at the member's offset. The offsets come from the shard's
sidecar index (``NAME-000000.idx.json``, engine/dsp/shard_index.py, written by
``l2i pack``) or, where there is none or it does not fit the tar, from one pass over the
shard's headers (seeking over the audio); either is kept per process while the shard's
size and time stay the same. Reads in dataset order are forward reads through each shard, so
a pass over everything (the feature pass) streams the shards sequentially.
``stream`` and ``shuffled`` read whole shards as tar streams (no seeking at all).
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import tarfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.dsp import shard_index
from engine.dsp.formats import AUDIO_EXTENSIONS
from engine.runtime.errors import AudioError, L2IError, shown

log = logging.getLogger(__name__)
FORMAT = "l2i-webdataset"
VERSION = 1
SHARD_NAME = re.compile(r"^(?P<name>.+)-(?P<num>\d{6})\.tar$")
# WebDataset's split of a member name: the key is all before the first dot of the base name
_KEY_EXT = re.compile(r"^((?:.*/|)[^./]+)\.([^/]*)$")
_BRACE = re.compile(r"\{([^{}]*)\}")
_RANGE = re.compile(r"^(\d+)\.\.(\d+)$")


class ShardError(L2IError):
    """A shard set that cannot be read as it is."""


@dataclass(frozen=True)
class Member:
    key: str
    ext: str  # the audio member's extension, without the dot
    offset: int  # of the audio bytes in the shard
    size: int
    meta: dict | None  # KEY.json, when there is one

    @property
    def name(self) -> str:
        return f"{self.key}.{self.ext}"


@dataclass
class ShardSet:
    folder: Path
    name: str
    meta: dict  # NAME.json
    shards: list[Path]

    def members(self) -> Iterator[tuple[Path, Member]]:
        """Every clip, shard by shard; a shard with fewer clips than NAME.json says is
        refused (tarfile takes a damaged header for the end of the archive)."""
        recorded = {s["file"]: s.get("clips") for s in self.meta["shards"]}
        for shard in self.shards:
            found = index(shard)
            if recorded.get(shard.name) not in (None, len(found)):
                raise ShardError(f"{shown(shard, full=True)}: {len(found)} readable clip(s), "
                                 f"{self.name}.json records {recorded[shard.name]}: corrupt, "
                                 "pack it again")
            for m in found:
                yield shard, m


def expand_braces(pattern: str) -> list[str]:
    """WebDataset's brace notation: ``a-{000..002}.tar`` (zero-padded ranges) and
    ``{x,y}`` lists, expanded left to right."""
    m = _BRACE.search(pattern)
    if m is None:
        return [pattern]
    head, tail, body = pattern[:m.start()], pattern[m.end():], m.group(1)
    r = _RANGE.match(body)
    if r:
        lo, hi, width = int(r.group(1)), int(r.group(2)), len(r.group(1))
        if hi < lo:
            raise ShardError(f"{pattern}: the range {{{body}}} runs backwards")
        choices = [f"{i:0{width}d}" for i in range(lo, hi + 1)]
    else:
        choices = body.split(",")
    return [out for c in choices for out in expand_braces(head + c + tail)]


def is_source(source: str | os.PathLike) -> bool:
    """Whether ``source`` names shards: a brace pattern, a .tar file or a folder of
    ``NAME-NNNNNN.tar`` files."""
    text = os.fspath(source)
    if "{" in text or text.endswith(".tar"):
        return True
    p = Path(text)
    return p.is_dir() and any(SHARD_NAME.match(c.name) and c.is_file() for c in p.iterdir())


def open_set(source: str | os.PathLike) -> ShardSet:
    """The shards a folder, a pattern or one .tar names, with their NAME.json, each
    checked against the size recorded at pack time. Raises ShardError (one line)."""
    text = os.fspath(source)
    if "{" in text or text.endswith(".tar"):
        shards = [Path(s) for s in expand_braces(text)]
        folder = shards[0].parent
        names = {m.group("name") for m in map(SHARD_NAME.match, (s.name for s in shards)) if m}
        if len(names) != 1 or not all(SHARD_NAME.match(s.name) for s in shards):
            raise ShardError(f"{shown(text, full=True)}: shards are named NAME-NNNNNN.tar, "
                             "one NAME")
        name = names.pop()
        missing = [s for s in shards if not s.is_file()]
        if missing:
            raise ShardError(f"{shown(missing[0], full=True)}: no such shard (the pattern "
                             f"names {len(shards)}, {len(missing)} missing)")
        meta = read_meta(folder, name)
    else:
        folder = Path(text)
        if not folder.is_dir():
            raise ShardError(f"{shown(folder, full=True)}: no such folder")
        names = sorted({m.group("name") for m in map(SHARD_NAME.match,
                                                      (c.name for c in folder.iterdir())) if m})
        if len(names) != 1:
            raise ShardError(f"{shown(folder, full=True)}: holds shards of "
                             f"{len(names)} sets ({', '.join(names[:3])}); give one pattern")
        name = names[0]
        meta = read_meta(folder, name)
        shards = [folder / s["file"] for s in meta["shards"]]
        missing = [s for s in shards if not s.is_file()]
        if missing:
            raise ShardError(f"{shown(missing[0], full=True)}: no such shard ({name}.json "
                             f"lists {len(shards)}, {len(missing)} missing)")
    recorded = {s["file"]: s for s in meta["shards"]}
    for shard in shards:
        rec = recorded.get(shard.name)
        if rec is None:
            raise ShardError(f"{shown(shard, full=True)}: not listed in {name}.json")
        size = shard.stat().st_size
        if size != rec["bytes"]:
            raise ShardError(f"{shown(shard, full=True)}: {size} bytes, {name}.json records "
                             f"{rec['bytes']}: truncated or changed since it was packed")
    return ShardSet(folder, name, meta, shards)


def read_meta(folder: Path, name: str) -> dict:
    path = folder / f"{name}.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ShardError(f"{shown(path, full=True)}: missing; `l2i pack` writes it beside "
                         "the shards (their classes and sizes)") from None
    except (OSError, ValueError) as exc:
        raise ShardError(f"{shown(path, full=True)}: not readable JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ShardError(f"{shown(path, full=True)}: not a shard set description "
                         f"(format {FORMAT!r})")
    if int(meta.get("version", 0)) > VERSION:
        raise ShardError(f"{shown(path, full=True)}: written by a newer version "
                         f"(format version {meta.get('version')}); update l2i")
    for field in ("classes", "multilabel", "shards"):
        if field not in meta:
            raise ShardError(f"{shown(path, full=True)}: has no {field!r}")
    return meta


_lock = threading.Lock()
_indexes: dict[str, tuple[tuple[int, int], dict[str, Member]]] = {}
_fds: dict[str, tuple[tuple[int, int], int]] = {}
_noted: set[str] = set()  # folders whose missing indexes were logged
_MAX_OPEN = 8


def _stamp(st: os.stat_result) -> tuple[int, int]:
    return st.st_size, st.st_mtime_ns


def index(shard: Path) -> list[Member]:
    """The shard's clips in order, from its sidecar index or else one pass over its
    headers (cached while the shard's size and time stay the same). Raises ShardError
    for a broken shard."""
    return list(_index(shard).values())


def _index(shard: Path) -> dict[str, Member]:
    key = os.fspath(shard)
    stamp = _stamp(os.stat(key))
    with _lock:
        hit = _indexes.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    members = _load(shard, stamp[0])
    with _lock:
        _indexes[key] = (stamp, members)
    return members


def _load(shard: Path, size: int) -> dict[str, Member]:
    """The sidecar's members when it fits the tar; else the header pass, with a note: an
    index that disagrees with its tar only costs time (the tar is the truth, and
    open_set already refuses a tar that disagrees with NAME.json), so it is not an error."""
    found = shard_index.load(shard, size, shard_index.recorded_sha256(shard))
    if not isinstance(found, str):
        return {e.key: Member(e.key, e.ext, e.offset, e.size, e.meta) for e in found}
    if found != "missing":
        log.warning("%s: %s; reading the shard's tar headers instead",
                    shown(shard_index.path_of(shard), full=True), found)
    else:
        folder = os.fspath(shard.parent)
        with _lock:
            first = folder not in _noted
            _noted.add(folder)
        if first:
            log.info("%s: no index beside it (packed by an older l2i): reading the tar "
                     "headers of such shards in this folder (about 0.1 ms a clip); "
                     "`l2i pack` again writes the indexes", shown(shard, full=True))
    return _scan(shard, size)


def _scan(shard: Path, size: int) -> dict[str, Member]:
    audio: dict[str, tuple[str, int, int]] = {}
    metas: dict[str, dict] = {}
    where = shown(shard, full=True)
    try:
        with tarfile.open(shard, "r:") as tar:
            for info in tar:
                if not info.isfile():
                    continue
                if info.offset_data + info.size > size:
                    raise ShardError(f"{where}: truncated inside {info.name}")
                split = _KEY_EXT.match(info.name)
                if split is None:
                    continue
                k, ext = split.group(1), split.group(2)
                if ext.lower() == "json":
                    f = tar.extractfile(info)
                    try:
                        metas[k] = json.loads(f.read().decode("utf-8")) if f else None
                    except ValueError:
                        raise ShardError(f"{where}: {info.name} is not JSON") from None
                elif "." + ext.lower() in AUDIO_EXTENSIONS:
                    if k in audio:
                        raise ShardError(f"{where}: clip {k} has two audio members")
                    audio[k] = (ext, info.offset_data, info.size)
    except tarfile.TarError as exc:
        raise ShardError(f"{where}: not a readable tar ({exc}); corrupt or truncated, "
                         "pack it again") from None
    alone = sorted(set(metas) - set(audio))
    if alone:
        raise ShardError(f"{where}: {alone[0]}.json has no audio member beside it")
    return {k: Member(k, ext, off, n, metas.get(k)) for k, (ext, off, n) in audio.items()}


def split_member(path: str | os.PathLike) -> tuple[Path, str] | None:
    """(shard, member name) when ``path`` runs through a .tar file, else None."""
    p = Path(path)
    for parent in p.parents:
        if parent.suffix == ".tar" and parent.is_file():
            return parent, p.relative_to(parent).as_posix()
    return None


def clip_stat(path: str | os.PathLike) -> os.stat_result:
    """A clip's stat: its shard's for a clip inside one (a cache key changes with it)."""
    found = split_member(path)
    return os.stat(found[0] if found else path)


def clip_size(path: str | os.PathLike) -> int:
    """A clip's size in bytes, inside a shard or not."""
    found = split_member(path)
    if found is None:
        return os.stat(path).st_size
    split = _KEY_EXT.match(found[1])
    m = _index(found[0]).get(split.group(1)) if split else None
    return 0 if m is None else m.size


def member_bytes(path: str | os.PathLike) -> bytes:
    """The original bytes of the clip ``SHARD.tar/KEY.EXT``; AudioError when missing."""
    found = split_member(path)
    if found is None:
        raise AudioError(f"{shown(path, full=True)}: not a clip inside a shard")
    shard, name = found
    split = _KEY_EXT.match(name)
    try:
        m = _index(shard).get(split.group(1)) if split else None
    except ShardError as exc:
        raise AudioError(str(exc)) from None
    if m is None or m.name != name:
        raise AudioError(f"{shown(path, full=True)}: no such clip in the shard")
    return _pread(shard, m.offset, m.size)


def _pread(shard: Path, offset: int, size: int) -> bytes:
    """A positional read through a kept descriptor (no shared file position: safe from
    threads and forked workers alike)."""
    key = os.fspath(shard)
    stamp = _stamp(os.stat(key))
    with _lock:
        held = _fds.get(key)
        if held is None or held[0] != stamp:
            if held is not None:
                os.close(held[1])
            if len(_fds) >= _MAX_OPEN:  # the oldest goes
                os.close(_fds.pop(next(iter(_fds)))[1])
            held = _fds[key] = (stamp, os.open(key, os.O_RDONLY))
        data = os.pread(held[1], size, offset)
    if len(data) != size:
        raise AudioError(f"{shown(shard, full=True)}: truncated at byte {offset + len(data)}")
    return data


def open_clip(path: str | os.PathLike) -> str | io.BytesIO:
    """What soundfile opens for ``path``: the path itself, or the clip's bytes."""
    return io.BytesIO(member_bytes(path)) if split_member(path) else os.fspath(path)


@dataclass(frozen=True)
class Sample:
    shard: Path
    key: str
    ext: str
    data: bytes
    meta: dict | None


def stream(shards: Iterable[Path]) -> Iterator[Sample]:
    """Every clip of the shards in order, each shard read once as a tar stream."""
    for shard in shards:
        pending: dict[str, dict] = {}
        try:
            with tarfile.open(shard, "r|") as tar:
                for info in tar:
                    split = _KEY_EXT.match(info.name) if info.isfile() else None
                    if split is None:
                        continue
                    k, ext = split.group(1), split.group(2)
                    f = tar.extractfile(info)
                    data = f.read() if f else b""
                    entry = pending.setdefault(k, {})
                    if ext.lower() == "json":
                        entry["meta"] = json.loads(data.decode("utf-8"))
                    elif "." + ext.lower() in AUDIO_EXTENSIONS:
                        entry["audio"] = (ext, data)
                    if "audio" in entry and "meta" in entry:
                        ext_, blob = pending.pop(k)["audio"]
                        yield Sample(shard, k, ext_, blob, entry["meta"])
        except tarfile.TarError as exc:
            raise ShardError(f"{shown(shard, full=True)}: not a readable tar ({exc})") from None
        for k, entry in pending.items():  # audio without its JSON: yielded, meta None
            if "audio" in entry:
                yield Sample(shard, k, entry["audio"][0], entry["audio"][1], None)


def shuffled(shards: list[Path], seed: int, buffer: int = 1000) -> Iterator[Sample]:
    """The clips of every shard once, in a seeded order: the shards in a random order,
    then a random pick from a buffer of ``buffer`` clips (WebDataset's shuffle), so that
    a streamed pass reads each shard sequentially yet mixes clips across shards."""
    rng = np.random.default_rng(seed)
    order = [shards[i] for i in rng.permutation(len(shards))]
    held: list[Sample] = []
    for sample in stream(order):
        if len(held) < max(1, buffer):
            held.append(sample)
            continue
        i = int(rng.integers(len(held)))
        held[i], sample = sample, held[i]
        yield sample
    while held:
        yield held.pop(int(rng.integers(len(held))))
