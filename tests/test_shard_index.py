"""The sidecar index beside each shard (engine/dsp/shard_index.py): it equals what the
header pass finds, reading through it gives the same clips, and an index that is
missing, stale or corrupt falls back to the header pass with a logged line."""

from __future__ import annotations

import io
import json
import logging
import tarfile
from pathlib import Path

import numpy as np
import pytest

from engine.dsp import shard_index, shards
from trainer.cli import main
from trainer.datasets import load_dataset


@pytest.fixture(autouse=True)
def fresh_caches(monkeypatch):
    """Each read below starts as a new process does (the caches hold earlier loads)."""
    monkeypatch.setattr(shards, "_indexes", {})
    monkeypatch.setattr(shards, "_noted", set())


@pytest.fixture
def packed(tiny_esc10, tmp_path) -> Path:
    out = tmp_path / "shards"
    assert main(["pack", str(tiny_esc10), "--out", str(out), "--name", "clips",
                 "--clips-per-shard", "6"]) == 0
    return out


def _tars(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.tar"))


def _read_all(folder: Path) -> tuple[list, list[bytes]]:
    shards._indexes.clear()
    ds = load_dataset(folder)
    return [(p, int(lab), int(f)) for p, lab, f in zip(ds.paths, ds.labels, ds.folds)], \
        [shards.member_bytes(p) for p in ds.paths]


def test_the_index_equals_the_header_pass_and_is_what_readers_use(packed, monkeypatch):
    tars = _tars(packed)
    assert len(tars) == 4
    for tar in tars:
        size = tar.stat().st_size
        entries = shard_index.load(tar, size, shard_index.recorded_sha256(tar))
        assert isinstance(entries, list), entries
        scanned = shards._scan(tar, size)
        assert [(e.key, e.ext, e.offset, e.size, e.meta) for e in entries] == \
            [(m.key, m.ext, m.offset, m.size, m.meta) for m in scanned.values()]
        with tarfile.open(tar) as t:  # KEY.json's own offset and size too
            found = {m.name: (m.offset_data, m.size) for m in t}
        assert [e.json for e in entries] == [found[f"{e.key}.json"] for e in entries]
    with_index = _read_all(packed)

    def no_scan(*_a):
        raise AssertionError("the header pass ran although every shard has its index")

    monkeypatch.setattr(shards, "_scan", no_scan)
    assert _read_all(packed) == with_index  # read through the indexes alone
    monkeypatch.undo()
    for tar in tars:
        shard_index.path_of(tar).unlink()
    assert _read_all(packed) == with_index  # identical clips, labels and folds without


def test_shards_without_indexes_are_read_with_one_note_per_folder(packed, caplog):
    expected = _read_all(packed)
    for tar in _tars(packed):
        shard_index.path_of(tar).unlink()
    with caplog.at_level(logging.INFO, logger="engine.dsp.shards"):
        assert _read_all(packed) == expected
    notes = [r for r in caplog.records if "no index beside it" in r.getMessage()]
    assert len(notes) == 1 and notes[0].levelno == logging.INFO
    assert "clips-000000.tar" in notes[0].getMessage()


def _stale_copy(tars: list[Path]) -> None:
    """Shard 1 gets shard 2's index (another tar's)."""
    shard_index.path_of(tars[1]).write_bytes(shard_index.path_of(tars[2]).read_bytes())


def _bigger(tars: list[Path]) -> None:
    doc = json.loads(shard_index.path_of(tars[1]).read_text())
    doc["bytes"] += 512
    shard_index.path_of(tars[1]).write_text(json.dumps(doc))


def _other_hash(tars: list[Path]) -> None:
    doc = json.loads(shard_index.path_of(tars[1]).read_text())
    doc["sha256"] = "0" * 64
    shard_index.path_of(tars[1]).write_text(json.dumps(doc))


def _cut(tars: list[Path]) -> None:
    raw = shard_index.path_of(tars[1]).read_bytes()
    shard_index.path_of(tars[1]).write_bytes(raw[:len(raw) // 2])


def _outside(tars: list[Path]) -> None:
    doc = json.loads(shard_index.path_of(tars[1]).read_text())
    doc["clips"][3]["audio"][1] = doc["bytes"]  # an offset past the end
    shard_index.path_of(tars[1]).write_text(json.dumps(doc))


@pytest.mark.parametrize("spoil, reason", [
    (_stale_copy, "written for 'clips-000002.tar'"),
    (_bigger, "stale"),
    (_other_hash, "sha256 differs from the one NAME.json records"),
    (_cut, "not readable JSON"),
    (_outside, "members lie outside the tar"),
])
def test_a_stale_or_corrupt_index_falls_back_to_the_header_pass(packed, caplog, spoil,
                                                                 reason):
    expected = _read_all(packed)
    spoil(_tars(packed))
    with caplog.at_level(logging.WARNING, logger="engine.dsp.shards"):
        assert _read_all(packed) == expected  # the tar is the truth: same clips
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1, lines
    assert "clips-000001.idx.json" in lines[0] and reason in lines[0], lines[0]
    assert "reading the shard's tar headers instead" in lines[0]


def test_a_repack_replaces_the_indexes_and_is_byte_identical(tiny_esc10, packed, tmp_path):
    before = {p.name: p.read_bytes() for p in packed.iterdir()}
    assert sum(p.endswith(".idx.json") for p in before) == 4
    # into the earlier pack (indexes are ours, not "other files"), by another cut
    assert main(["pack", str(tiny_esc10), "--out", str(packed), "--name", "clips",
                 "--clips-per-shard", "10"]) == 0
    names = sorted(p.name for p in packed.iterdir())
    assert names == [f"clips-00000{i}{x}" for i in range(3)
                     for x in (".idx.json", ".tar")] + ["clips.json"]
    assert main(["pack", str(tiny_esc10), "--out", str(tmp_path / "again"), "--name",
                 "clips", "--clips-per-shard", "6"]) == 0
    again = {p.name: p.read_bytes() for p in (tmp_path / "again").iterdir()}
    assert again == before
    ds = load_dataset(tmp_path / "again")
    assert np.array_equal(ds.labels, load_dataset(tiny_esc10).labels)


def test_an_index_whose_tar_moved_its_members_at_the_same_size_is_not_trusted(packed,
                                                                              caplog):
    """Tars are padded to 10 KiB records: members can move with the size unchanged."""
    expected = _read_all(packed)
    tar = _tars(packed)[1]
    size = tar.stat().st_size
    with tarfile.open(tar) as t:
        members = [(m, t.extractfile(m).read()) for m in t]
    members[:4] = members[2:4] + members[:2]  # the first two clips swapped
    with tarfile.open(tar, "w", format=tarfile.PAX_FORMAT) as t:
        for m, data in members:
            t.addfile(m, io.BytesIO(data))
    assert tar.stat().st_size == size  # NAME.json's size check passes
    with caplog.at_level(logging.WARNING, logger="engine.dsp.shards"):
        got = _read_all(packed)
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1 and "clips-000001.idx.json" in lines[0] and "stale" in lines[0]
    assert got[0] != expected[0] and sorted(got[0]) == sorted(expected[0])
    by_path = dict(zip([r[0] for r in expected[0]], expected[1]))
    assert all(by_path[r[0]] == b for r, b in zip(got[0], got[1]))
