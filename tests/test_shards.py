"""Datasets as tar shards in the WebDataset layout (`l2i pack`, engine/dsp/shards.py,
trainer/shard_data.py): round trips, determinism, training, the report, the shuffled
stream, and bad shards refused in one line through the command line."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from engine.dsp import shard_index, shards
from engine.dsp.audio import load_audio
from engine.dsp.features import FrontEndConfig
from resources import default_bundle_path
from tests.conftest import one_error_line
from trainer.cli import main
from trainer.datasets import load_dataset
from trainer.features_cache import compute_features


def _pack(data: Path, out: Path, *extra: str) -> Path:
    assert main(["pack", str(data), "--out", str(out), "--name", "clips", *extra]) == 0
    return out


def _same_dataset(a, b) -> None:
    assert b.classes == a.classes and b.multilabel == a.multilabel and len(b) == len(a)
    np.testing.assert_array_equal(b.labels, a.labels)
    np.testing.assert_array_equal(b.folds, a.folds)
    if a.groups is None:
        assert b.groups is None
    else:
        np.testing.assert_array_equal(b.groups, a.groups)
    for pa, pb in zip(a.paths, b.paths):
        assert shards.member_bytes(pb) == pa.read_bytes()  # the original bytes
        assert pb.suffix == pa.suffix
        np.testing.assert_array_equal(load_audio(pb, 16000), load_audio(pa, 16000))


def test_a_folder_packs_and_reads_back_the_same_clips_labels_folds_and_groups(tiny_esc10,
                                                                               tmp_path):
    out = _pack(tiny_esc10, tmp_path / "shards", "--clips-per-shard", "5")
    folder = load_dataset(tiny_esc10)
    meta = json.loads((out / "clips.json").read_text())
    assert meta["layout"] == "folder" and meta["classes"] == folder.classes
    assert [s["clips"] for s in meta["shards"]] == [5, 5, 5, 5, 4]
    assert sorted(p.name for p in out.glob("*.tar")) == [f"clips-{i:06d}.tar" for i in range(5)]
    ds = load_dataset(out)
    assert ds.layout == "webdataset" and ds.labelled
    _same_dataset(folder, ds)
    # a brace pattern names a subset; the member offsets are the tar's own
    part = load_dataset(out / "clips-{000001..000002}.tar")
    _same_dataset(folder.subset(np.arange(5, 15)), part)
    with tarfile.open(out / "clips-000000.tar") as tar:
        first = tar.extractfile(ds.paths[0].name).read()
        record = json.loads(tar.extractfile(ds.paths[0].stem + ".json").read())
    assert first == folder.paths[0].read_bytes()
    assert record["labels"] == [folder.classes[folder.labels[0]]]
    assert record["fold"] == folder.folds[0] and record["group"] == folder.groups[0]
    assert record["path"] == folder.paths[0].relative_to(tiny_esc10).as_posix()


def test_a_multilabel_dataset_round_trips(tiny_esc10, tmp_path):
    root = tmp_path / "multi"
    root.mkdir()
    clips = sorted(tiny_esc10.rglob("*.*"))[:12]
    rng = np.random.default_rng(1)
    with open(root / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["filename", "bark", "rain", "waves", "fold"])
        for i, clip in enumerate(clips):
            (root / f"c{i}{clip.suffix}").symlink_to(clip.resolve())
            w.writerow([f"c{i}{clip.suffix}", *rng.integers(0, 2, 3), i % 3 + 1])
    src = load_dataset(root)
    assert src.layout == "multilabel"
    ds = load_dataset(_pack(root, tmp_path / "shards"))
    _same_dataset(src, ds)
    assert ds.multilabel and ds.labels.shape == (12, 3)


def test_packing_is_deterministic_and_records_each_shards_hash(tiny_esc10, tmp_path):
    a = _pack(tiny_esc10, tmp_path / "a", "--shard-mb", "1")
    b = _pack(tiny_esc10, tmp_path / "b", "--shard-mb", "1")
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir()) and len(names) > 2
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    for s in json.loads((a / "clips.json").read_text())["shards"]:
        data = (a / s["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == s["sha256"] and len(data) == s["bytes"]
        assert len(data) <= 1e6 or s["clips"] == 1
    with tarfile.open(a / "clips-000000.tar") as tar:
        assert {(m.mtime, m.uid, m.gid, m.uname, m.mode) for m in tar} == {(0, 0, 0, "", 0o644)}
    for s in json.loads((a / "clips.json").read_text())["shards"]:  # an index per shard
        index = json.loads(shard_index.path_of(a / s["file"]).read_text())
        assert (index["tar"], index["bytes"], index["sha256"], len(index["clips"])) == \
            (s["file"], s["bytes"], s["sha256"], s["clips"])


def test_the_webdataset_package_reads_the_shards(tiny_esc10, tmp_path):
    wds = pytest.importorskip("webdataset", reason="webdataset not installed (test extra)")
    out = _pack(tiny_esc10, tmp_path / "shards", "--clips-per-shard", "7")
    ds = load_dataset(out)
    pattern = str(out / "clips-{000000..000003}.tar")
    samples = list(wds.WebDataset(pattern, shardshuffle=False))
    assert [s["__key__"] for s in samples] == [p.stem for p in ds.paths]
    for s, path in zip(samples, ds.paths):
        assert s[path.suffix[1:]] == shards.member_bytes(path)
        assert json.loads(s["json"])["fold"] == ds.folds[ds.paths.index(path)]


def test_the_shuffled_stream_is_a_seeded_permutation(tiny_esc10, tmp_path):
    out = _pack(tiny_esc10, tmp_path / "shards", "--clips-per-shard", "4")
    s = shards.open_set(out)
    in_order = [x.key for x in shards.stream(s.shards)]
    assert in_order == [m.key for _, m in s.members()]
    one = [x.key for x in shards.shuffled(s.shards, seed=1, buffer=5)]
    again = [x.key for x in shards.shuffled(s.shards, seed=1, buffer=5)]
    other = [x.key for x in shards.shuffled(s.shards, seed=2, buffer=5)]
    assert sorted(one) == sorted(in_order) and len(set(one)) == len(in_order)
    assert one == again and one != other and one != in_order
    by_key = {x.key: x.data for x in shards.shuffled(s.shards, seed=3)}
    assert all(by_key[p.stem] == shards.member_bytes(p) for p in load_dataset(out).paths)


@pytest.mark.slow
def test_training_on_shards_computes_the_same_features_as_on_the_folder(tiny_esc10, tmp_path):
    out = _pack(tiny_esc10, tmp_path / "shards", "--clips-per-shard", "6")
    cache = tmp_path / "cache"
    bundle = tmp_path / "m.l2i"
    assert main(["train", "all", "--data", str(out), "--out", str(bundle), "--test-fold", "1",
                 "--epochs", "1", "--widths", "8,8,8,8", "--k", "8", "--iterations", "2",
                 "--interpreter-epochs", "1", "--cache", str(cache), "--device", "cpu"]) == 0
    assert bundle.is_file()
    made = list((cache / "features").iterdir())
    assert len(made) == 1
    fe = FrontEndConfig()
    on_shards = compute_features(load_dataset(out), fe, 5.0, cache)
    assert on_shards.folder == made[0]  # the one the training computed, reused
    on_folder = compute_features(load_dataset(tiny_esc10), fe, 5.0, tmp_path / "cache2")
    np.testing.assert_array_equal(on_shards.keep, on_folder.keep)
    np.testing.assert_array_equal(on_shards.log_mel, on_folder.log_mel)
    np.testing.assert_array_equal(on_shards.log_mag, on_folder.log_mag)


def test_the_report_explains_clips_in_shards_named_by_their_keys(tiny_esc10, tmp_path):
    bundle = default_bundle_path()
    if bundle is None:
        pytest.skip("no default bundle in this checkout")
    few = tmp_path / "few"
    for d in sorted(p for p in tiny_esc10.iterdir() if p.is_dir())[:2]:
        (few / d.name).mkdir(parents=True)
        for clip in sorted(d.iterdir())[:2]:
            (few / d.name / clip.name).symlink_to(clip.resolve())
    out = _pack(few, tmp_path / "shards", "--clips-per-shard", "3")
    ds = load_dataset(out)
    assert main(["report", str(out), "--out", str(tmp_path / "report"), "--bundle",
                 str(bundle), "--device", "cpu"]) == 0
    with open(tmp_path / "report" / "summary.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["file"] for r in rows] == [p.stem for p in ds.paths]
    assert all(not r.get("error") for r in rows), rows


# --- bad shards: one line each, nothing written ---------------------------------------------

def _rewrite(shard: Path, change) -> None:
    """Rewrite a shard with ``change(name, data) -> (name, data) | None`` per member, and
    record its new size and clip count in clips.json (so only the change is wrong)."""
    with tarfile.open(shard) as tar:
        members = [(m.name, tar.extractfile(m).read()) for m in tar]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members:
            kept = change(name, data)
            if kept:
                info = tarfile.TarInfo(kept[0])
                info.size = len(kept[1])
                tar.addfile(info, io.BytesIO(kept[1]))
    shard.write_bytes(buf.getvalue())
    meta_path = shard.parent / "clips.json"
    meta = json.loads(meta_path.read_text())
    for s in meta["shards"]:
        if s["file"] == shard.name:
            s["bytes"] = len(buf.getvalue())
    meta_path.write_text(json.dumps(meta))


def _refused(capsys, data: str, tmp_path: Path, expect: str) -> None:
    out = tmp_path / "never.l2i"
    assert main(["train", "all", "--data", data, "--out", str(out), "--cache",
                 str(tmp_path / "cache"), "--device", "cpu"]) == 2
    line = one_error_line(capsys)
    assert expect in line, line
    assert not out.exists() and not (tmp_path / "never.l2i.work").exists()
    assert not (tmp_path / "cache").exists()


@pytest.fixture
def packed(tiny_esc10, tmp_path) -> Path:
    return _pack(tiny_esc10, tmp_path / "shards", "--clips-per-shard", "6")


def test_a_truncated_shard_is_refused(packed, tmp_path, capsys):
    shard = packed / "clips-000001.tar"
    shard.write_bytes(shard.read_bytes()[:40000])
    _refused(capsys, str(packed), tmp_path, "truncated or changed since it was packed")


def test_a_corrupt_shard_is_refused(packed, tmp_path, capsys):
    shard = packed / "clips-000001.tar"
    # the header pass finds the damage; an index never reads the headers (docs/shards.md)
    shard_index.path_of(shard).unlink()
    data = bytearray(shard.read_bytes())
    with tarfile.open(shard) as tar:
        third = tar.getmembers()[2].offset
    data[third:third + 100] = b"\xff" * 100  # a damaged header, the same size
    shard.write_bytes(bytes(data))
    _refused(capsys, str(packed), tmp_path, "corrupt")


def test_a_clip_without_its_json_is_refused(packed, tmp_path, capsys):
    drop = load_dataset(packed).paths[7].stem + ".json"
    _rewrite(packed / "clips-000001.tar", lambda n, d: None if n == drop else (n, d))
    _refused(capsys, str(packed), tmp_path, f"has no {drop}")


def test_a_json_naming_an_unknown_class_is_refused(packed, tmp_path, capsys):
    target = load_dataset(packed).paths[0].stem + ".json"

    def relabel(name: str, data: bytes):
        if name != target:
            return name, data
        return name, json.dumps(json.loads(data) | {"labels": ["Unicorn"]}).encode()

    _rewrite(packed / "clips-000000.tar", relabel)
    _refused(capsys, str(packed), tmp_path, "names class 'Unicorn'")


def test_a_missing_shard_in_a_pattern_is_refused(packed, tmp_path, capsys):
    _refused(capsys, str(packed / "clips-{000000..000009}.tar"), tmp_path,
             "clips-000004.tar: no such shard")
    (packed / "clips-000002.tar").unlink()  # and from the folder: clips.json lists it
    _refused(capsys, str(packed), tmp_path, "clips-000002.tar: no such shard")


def test_a_failed_pack_leaves_the_earlier_pack_and_no_partial_shard(tiny_esc10, tmp_path,
                                                                    capsys, monkeypatch):
    from trainer import pack

    out = _pack(tiny_esc10, tmp_path / "shards", "--clips-per-shard", "20")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    calls = []

    def failing(path: Path) -> bytes:
        calls.append(path)
        if len(calls) == 9:
            raise PermissionError(13, "Permission denied", str(path))
        return path.read_bytes()

    monkeypatch.setattr(pack, "_clip_bytes", failing)
    assert main(["pack", str(tiny_esc10), "--out", str(out), "--name", "clips",
                 "--clips-per-shard", "4"]) == 2
    assert "Permission denied" in one_error_line(capsys)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["shards"]  # no hidden packing folder


def test_the_wizards_data_scan_reads_clips_in_shards(tiny_esc10, packed):
    from l2i_desktop.wizard.scan import scan_data  # Qt-free

    folder, shard = scan_data(tiny_esc10), scan_data(packed)
    assert shard.layout == "webdataset" and shard.unreadable == []
    assert (shard.clips, shard.classes, shard.counts, shard.folds) == \
        (folder.clips, folder.classes, folder.counts, folder.folds)
    assert shard.seconds == pytest.approx(folder.seconds)
    assert len(shard.examples) == len(folder.examples) == 3  # one clip per class, in a shard
    assert all(shards.member_bytes(p) == q.read_bytes()
               for p, q in zip(shard.examples, folder.examples))
