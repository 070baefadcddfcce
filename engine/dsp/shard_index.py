"""The sidecar index of a shard: ``NAME-000000.idx.json`` beside ``NAME-000000.tar``.

Without it a reader finds each clip's offset by one pass over the shard's tar headers
(about 120 µs a clip: minutes per process at millions of clips, and a seek per clip on a
cold disk). ``l2i pack`` writes the index with the shard; a reader then reads one small
file per shard and touches the tar only for the clips it opens.

JSON, not a binary format: it is a few hundred bytes a clip beside megabytes of audio,
any tool reads it, and a bundle or data file is never unpickled here. It holds per clip
its key, the audio member's extension, offset and size, the KEY.json member's offset and
size, and KEY.json itself (so reading labels needs no read inside the tar); and the
tar's name, size and sha256, which tie the index to one exact tar. Deterministic: sorted
keys, no times.

A reader trusts an index whose recorded name and size are the tar's and whose sha256 is
the one NAME.json records for the tar (when NAME.json is there): all cheap. Anything else
is reported by ``load`` as a reason and the caller falls back to the header pass (the tar
is the truth, the index only a shortcut). Hashing the tar on every read would cost what
the index saves; a tar changed in place to the very same size with NAME.json left as it
was is therefore not caught (nor is it without an index: `sha256sum` checks both).
"""

from __future__ import annotations

import json
import os
import re
import tarfile
import threading
from dataclasses import dataclass
from pathlib import Path

FORMAT = "l2i-shard-index"
VERSION = 1
SUFFIX = ".idx.json"
BLOCK = 512  # a tar member's data is padded to whole blocks
_SET_NAME = re.compile(r"^(?P<name>.+)-\d{6}\.tar$")
_lock = threading.Lock()
_sums: dict[str, tuple[tuple[int, int], dict]] = {}  # NAME.json's sha256 per shard file


@dataclass(frozen=True)
class Entry:
    key: str
    ext: str  # the audio member's extension, without the dot
    offset: int  # of the audio bytes in the tar
    size: int
    json: tuple[int, int] | None  # KEY.json's (offset, size), when there is one
    meta: dict | None  # KEY.json's content


def path_of(shard: Path) -> Path:
    """``NAME-000000.tar`` -> ``NAME-000000.idx.json``."""
    return shard.with_name(shard.name.removesuffix(".tar") + SUFFIX)


def data_offset(end: int, size: int) -> int:
    """Where a member's data begins, from the archive's offset just after the member
    (``tell()`` after ``addfile``): the header's length varies (PAX records)."""
    return end - -(-size // BLOCK) * BLOCK


def encode(tar_name: str, size: int, sha256: str, entries: list[Entry]) -> bytes:
    clips = [{"key": e.key, "audio": [e.ext, e.offset, e.size],
              "json": None if e.json is None else list(e.json), "meta": e.meta}
             for e in entries]
    doc = {"format": FORMAT, "version": VERSION, "tar": tar_name, "bytes": size,
           "sha256": sha256, "clips": clips}
    return json.dumps(doc, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


def recorded_sha256(shard: Path) -> str | None:
    """The sha256 that NAME.json beside ``shard`` records for it; None without a
    readable NAME.json listing it (engine/dsp/shards.py reports a bad NAME.json). Read
    once per version of NAME.json."""
    m = _SET_NAME.match(shard.name)
    if m is None:
        return None
    path = os.fspath(shard.parent / f"{m.group('name')}.json")
    try:
        st = os.stat(path)
    except OSError:
        return None
    stamp = (st.st_size, st.st_mtime_ns)
    with _lock:
        hit = _sums.get(path)
    if hit is None or hit[0] != stamp:
        try:
            with open(path, encoding="utf-8") as f:
                listed = json.load(f)["shards"]
            sums = {s["file"]: s["sha256"] for s in listed}
        except (OSError, ValueError, KeyError, TypeError):
            sums = {}
        hit = (stamp, sums)
        with _lock:
            _sums[path] = hit
    found = hit[1].get(shard.name)
    return found if isinstance(found, str) else None


def load(shard: Path, size: int, sha256: str | None) -> list[Entry] | str:
    """The entries of ``shard``'s index, or why it cannot be used ("missing" when there
    is none). ``size`` is the tar's, ``sha256`` what NAME.json records for it (or None)."""
    try:
        raw = path_of(shard).read_bytes()
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"not readable ({exc.strerror or exc})"
    try:
        doc = json.loads(raw.decode("utf-8"))
    except ValueError:
        return "not readable JSON"
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        return f"not a shard index (format {FORMAT!r})"
    if not isinstance(doc.get("version"), int) or doc["version"] > VERSION:
        return f"format version {doc.get('version')!r}, newer than this l2i reads"
    if doc.get("tar") != shard.name:
        return f"written for {doc.get('tar')!r}"
    if doc.get("bytes") != size:
        return f"records a tar of {doc.get('bytes')} bytes, the tar has {size}: stale"
    if sha256 is not None and doc.get("sha256") != sha256:
        return "its sha256 differs from the one NAME.json records for the tar: stale"
    try:
        entries = _entries(doc["clips"], size)
    except (KeyError, TypeError, ValueError) as exc:
        return f"malformed ({exc})"
    return _spot_check(shard, entries) or entries


def _spot_check(shard: Path, entries: list[Entry]) -> str | None:
    """Whether the tar headers just before the first and last clip's members are those
    members' (name, size, checksum): four small reads that catch a tar whose members
    moved although its size did not (tars are padded to 10 KiB records)."""
    spots = [(f"{e.key}.{e.ext}", e.offset, e.size) for e in entries[:1] + entries[-1:]]
    spots += [(f"{e.key}.json", *e.json) for e in entries[:1] + entries[-1:] if e.json]
    try:
        with open(shard, "rb") as f:
            for name, offset, size in spots:
                f.seek(offset - BLOCK)
                head = tarfile.TarInfo.frombuf(f.read(BLOCK), "utf-8", "surrogateescape")
                if head.size != size or not name.startswith(head.name) or not head.name:
                    return f"says {name} lies at byte {offset}, the tar has another " \
                           "member there: stale"
    except (OSError, tarfile.TarError) as exc:
        return f"says a member lies where the tar has no header ({exc}): stale"
    return None


def _entries(clips: list, size: int) -> list[Entry]:
    out, seen = [], set()
    for c in clips:
        ext, offset, length = c["audio"]
        js = c["json"]
        spans = [(int(offset), int(length))] + ([] if js is None else [(int(js[0]), int(js[1]))])
        if not isinstance(c["key"], str) or not isinstance(ext, str) or c["key"] in seen:
            raise ValueError(f"clip {c['key']!r}")
        if any(o < BLOCK or n < 0 or o + n > size for o, n in spans):
            raise ValueError(f"clip {c['key']}'s members lie outside the tar")
        if c["meta"] is not None and not isinstance(c["meta"], dict):
            raise ValueError(f"clip {c['key']}'s meta is not an object")
        seen.add(c["key"])
        out.append(Entry(c["key"], ext, spans[0][0], spans[0][1],
                         None if js is None else spans[1], c["meta"]))
    return out
