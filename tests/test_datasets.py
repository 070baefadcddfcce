"""Datasets in their three layouts, bad folders, unreadable files and the feature cache.

Real clips come from ../shared/data (tests skip when it is absent). Derived datasets are
built in temporary folders from symbolic links or from small generated files.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.dsp.audio import load_audio
from engine.dsp.features import FrontEndConfig
from trainer.datasets import DatasetError, load_dataset, stratified_folds
from trainer.features_cache import compute_features

ESC10_CLASSES = ["Dog bark", "Rain", "Sea waves", "Baby cry", "Clock tick", "Person sneeze",
                 "Helicopter", "Chainsaw", "Rooster", "Fire crackling"]


# --- the real layouts ---------------------------------------------------------------------

def test_esc10_is_a_folder_layout_with_ten_classes_and_five_folds(esc10):
    ds = load_dataset(esc10)
    assert ds.layout == "folder"
    assert not ds.multilabel
    assert ds.classes == ESC10_CLASSES
    assert len(ds) == 400
    assert ds.fold_ids == [1, 2, 3, 4, 5]
    assert Counter(ds.folds.tolist()) == {1: 80, 2: 80, 3: 80, 4: 80, 5: 80}
    assert ds.class_counts() == {c: 40 for c in ESC10_CLASSES}
    # the fold is the number before the first '-' of each file name
    for path, fold, label in zip(ds.paths, ds.folds, ds.labels):
        assert int(path.name.split("-")[0]) == fold
        assert path.parent.name.endswith(ds.classes[label])
    assert not any("stratified" in n for n in ds.notes)
    train, test = ds.split(2)
    assert len(test) == 80 and len(train) == 320
    assert set(ds.folds[test]) == {2} and 2 not in set(ds.folds[train])


def test_esc10_bad_test_fold_is_refused(esc10):
    ds = load_dataset(esc10)
    with pytest.raises(DatasetError, match="no fold 9"):
        ds.split(9)


def test_esc50_subset_uses_the_csv_classes_and_folds(esc50):
    ds = load_dataset(esc50)
    assert ds.layout == "esc50"
    assert not ds.multilabel
    with open(esc50 / "meta" / "esc50.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    names = {int(r["target"]): r["category"] for r in rows}
    assert len(names) == 50
    assert ds.classes == [names[t] for t in sorted(names)]
    assert len(ds) == len(rows) == 414
    by_name = {r["filename"]: r for r in rows}
    for path, fold, label in zip(ds.paths, ds.folds, ds.labels):
        row = by_name[path.name]
        assert path.parent == esc50 / "audio"
        assert fold == int(row["fold"])
        assert ds.classes[label] == row["category"]
    assert Counter(ds.folds.tolist()) == Counter(int(r["fold"]) for r in rows)
    assert ds.fold_ids == sorted({int(r["fold"]) for r in rows})
    assert ds.notes == []


def test_esc50_rows_whose_files_are_missing_are_noted_not_fatal(esc50, tmp_path):
    root = tmp_path / "esc50"
    (root / "meta").mkdir(parents=True)
    (root / "audio").mkdir()
    with open(esc50 / "meta" / "esc50.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    picked = [r for r in rows if r["target"] == "0"][:3] + \
        [r for r in rows if r["target"] == "1"][:3]
    with open(root / "meta" / "esc50.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(picked)
    for r in picked[1:]:  # the first listed file is absent
        (root / "audio" / r["filename"]).symlink_to(esc50 / "audio" / r["filename"])
    ds = load_dataset(root)
    assert ds.layout == "esc50"
    assert len(ds) == len(picked) - 1
    assert ds.notes == [f"listed but missing: {picked[0]['filename']}"]


# --- a multi-label set made by mixing real clips -----------------------------------------

def _mix_dataset(esc10: Path, root: Path, with_folds: bool) -> tuple[list[str], list[list[int]]]:
    """Mixtures of two real ESC-10 clips of different classes (labels = union)."""
    class_dirs = sorted(p for p in esc10.iterdir() if p.is_dir())[:3]
    classes = [d.name.split(" - ", 1)[1] for d in class_dirs]
    clips = [sorted(d.glob("*.ogg"))[:4] for d in class_dirs]
    pairs = [(0, 1), (0, 2), (1, 2)]
    sr = 44100
    (root / "audio").mkdir(parents=True)
    names, labels = [], []
    for j in range(4):
        for a, b in pairs:
            wa = load_audio(clips[a][j], sr)[:sr]
            wb = load_audio(clips[b][j], sr)[:sr]
            mix = 0.5 * (wa + wb)
            name = f"mix_{j}_{a}{b}.wav"
            sf.write(root / "audio" / name, mix, sr, subtype="PCM_16")
            names.append(name)
            labels.append([int(c in (a, b)) for c in range(3)])
    with open(root / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["filename", *classes] + (["fold"] if with_folds else []))
        for i, (name, lab) in enumerate(zip(names, labels)):
            w.writerow([name, *lab] + ([i % 3 + 1] if with_folds else []))
    return classes, labels


def test_multilabel_csv_of_mixtures_is_detected(esc10, tmp_path):
    root = tmp_path / "mixes"
    classes, labels = _mix_dataset(esc10, root, with_folds=True)
    ds = load_dataset(root)
    assert ds.layout == "multilabel"
    assert ds.multilabel
    assert ds.classes == classes == ["Dog bark", "Rain", "Sea waves"]
    assert ds.labels.shape == (12, 3)
    assert set(np.unique(ds.labels)) == {0, 1}
    assert (ds.labels.sum(axis=1) == 2).all()  # every mixture has exactly two sounds
    np.testing.assert_array_equal(ds.labels, np.array(labels))
    assert [p.name for p in ds.paths] == [f"mix_{j}_{a}{b}.wav" for j in range(4)
                                          for a, b in [(0, 1), (0, 2), (1, 2)]]
    assert all(p.parent == root / "audio" for p in ds.paths)
    np.testing.assert_array_equal(ds.folds, [i % 3 + 1 for i in range(12)])
    assert ds.class_counts() == {"Dog bark": 8, "Rain": 8, "Sea waves": 8}

    feats = compute_features(ds, FrontEndConfig(), clip_seconds=0.5,
                             cache_dir=tmp_path / "cache")
    assert feats.skipped == [] and len(feats.keep) == 12


def test_multilabel_csv_without_fold_column_gets_seeded_folds(esc10, tmp_path):
    root = tmp_path / "mixes"
    _mix_dataset(esc10, root, with_folds=False)
    a, b = load_dataset(root, seed=3), load_dataset(root, seed=3)
    assert a.layout == "multilabel"
    np.testing.assert_array_equal(a.folds, b.folds)
    assert set(a.folds.tolist()) <= {1, 2, 3, 4, 5} and len(set(a.folds.tolist())) == 5
    assert any("no fold column" in n for n in a.notes)


# --- folders without fold prefixes --------------------------------------------------------

def _unprefixed(esc10: Path, root: Path, classes: int = 3, per_class: int = 10) -> Path:
    for d in sorted(p for p in esc10.iterdir() if p.is_dir())[:classes]:
        out = root / d.name
        out.mkdir(parents=True)
        for i, f in enumerate(sorted(d.glob("*.ogg"))[:per_class]):
            (out / f"take{i:02d}.ogg").symlink_to(f)
    return root


def test_folder_without_fold_prefixes_gets_five_stratified_seeded_folds(esc10, tmp_path):
    root = _unprefixed(esc10, tmp_path / "plain")
    ds = load_dataset(root)
    assert ds.layout == "folder"
    assert len(ds) == 30
    assert ds.fold_ids == [1, 2, 3, 4, 5]
    assert any("no fold prefixes" in n and "seed 0" in n for n in ds.notes)
    for c in range(3):  # ten clips of each class: two in every fold
        assert Counter(ds.folds[ds.labels == c].tolist()) == {f: 2 for f in range(1, 6)}
    again = load_dataset(root)
    np.testing.assert_array_equal(ds.folds, again.folds)
    other = load_dataset(root, seed=1)
    assert not np.array_equal(ds.folds, other.folds)
    for c in range(3):
        assert Counter(other.folds[other.labels == c].tolist()) == {f: 2 for f in range(1, 6)}


def test_folder_with_some_prefixes_missing_is_split_by_seed(esc10, tmp_path):
    root = _unprefixed(esc10, tmp_path / "plain", per_class=5)
    first = sorted(p for p in esc10.iterdir() if p.is_dir())[0]
    src = sorted(first.glob("*.ogg"))[-1]
    (root / first.name / src.name).symlink_to(src)  # this one has a '5-' prefix
    ds = load_dataset(root)
    assert any("no fold prefixes" in n for n in ds.notes)
    assert ds.fold_ids == [1, 2, 3, 4, 5]


def test_stratified_folds_spread_uneven_classes():
    keys = np.array([0] * 7 + [1] * 3 + [2] * 11)
    folds = stratified_folds(keys, 5, seed=0)
    assert set(folds.tolist()) == {1, 2, 3, 4, 5}
    for k in (0, 1, 2):
        counts = Counter(folds[keys == k].tolist())
        assert max(counts.values()) - min(counts.get(f, 0) for f in range(1, 6)) <= 1
    total = Counter(folds.tolist())
    assert max(total.values()) - min(total.values()) <= 1
    np.testing.assert_array_equal(folds, stratified_folds(keys, 5, seed=0))


def test_grouped_folds_keep_each_group_whole_and_classes_spread():
    keys = np.array([0] * 12 + [1] * 9)
    groups = np.array(["a"] * 4 + ["b"] * 2 + list("cdefgh") + ["i"] * 3 + list("jklmno"))
    folds = stratified_folds(keys, 5, seed=0, groups=groups)
    for g in np.unique(groups):
        assert len(np.unique(folds[groups == g])) == 1
    assert set(folds.tolist()) == {1, 2, 3, 4, 5}
    # class 0: the 4-clip recording alone in its fold, the other 8 clips 2 a fold
    assert sorted(np.bincount(folds[keys == 0], minlength=6)[1:].tolist()) == [2, 2, 2, 2, 4]
    np.testing.assert_array_equal(folds, stratified_folds(keys, 5, seed=0, groups=groups))
    assert not np.array_equal(folds, stratified_folds(keys, 5, seed=1, groups=groups))


def test_esc_names_give_the_recording_of_each_clip(esc10):
    ds = load_dataset(esc10)
    assert ds.groups is not None and len(ds.groups) == len(ds)
    assert ds.groups[0] == ds.paths[0].name.split("-")[1]  # 1-100032-A-0.ogg: 100032
    assert len(set(ds.groups.tolist())) < len(ds)  # some recordings give several clips
    # the official folds already keep a recording in one fold
    for g in set(ds.groups.tolist()):
        assert len(np.unique(ds.folds[ds.groups == g])) == 1


# --- folders that cannot be used ----------------------------------------------------------

def test_empty_folder_is_refused(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match="no known layout") as err:
        load_dataset(empty)
    assert str(empty) in str(err.value)
    assert "\n" not in str(err.value)


def test_folder_of_empty_class_folders_is_refused(tmp_path):
    root = tmp_path / "hollow"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    (root / "b" / "notes.txt").write_text("not audio")
    with pytest.raises(DatasetError, match="no known layout"):
        load_dataset(root)


def test_missing_folder_is_refused(tmp_path):
    with pytest.raises(DatasetError, match="no such folder") as err:
        load_dataset(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(err.value)


def test_a_single_class_is_refused(esc10, tmp_path):
    root = _unprefixed(esc10, tmp_path / "one", classes=1, per_class=4)
    with pytest.raises(DatasetError, match="at least two classes") as err:
        load_dataset(root)
    assert "found 1" in str(err.value)


def test_unknown_layout_name_is_refused(tmp_path):
    tmp_path.joinpath("x").mkdir()
    with pytest.raises(DatasetError, match="unknown layout 'zip'"):
        load_dataset(tmp_path, layout="zip")


# --- unreadable files ---------------------------------------------------------------------

def _with_junk(esc10: Path, root: Path) -> Path:
    _unprefixed(esc10, root, classes=2, per_class=2)
    rng = np.random.default_rng(0)
    first = sorted(p for p in root.iterdir())[0]
    (first / "zzz_junk.wav").write_bytes(rng.bytes(4096))
    return first / "zzz_junk.wav"


def test_unreadable_files_are_skipped_and_counted(esc10, tmp_path):
    junk = _with_junk(esc10, tmp_path / "data")
    ds = load_dataset(tmp_path / "data")
    assert len(ds) == 5 and junk in ds.paths
    feats = compute_features(ds, FrontEndConfig(), clip_seconds=0.5,
                             cache_dir=tmp_path / "cache")
    bad = ds.paths.index(junk)
    assert len(feats.skipped) == 1
    assert feats.skipped[0][0] == str(junk)
    assert "not a readable audio file" in feats.skipped[0][1]
    assert feats.keep.tolist() == [i for i in range(5) if i != bad]
    assert feats.log_mel.shape[0] == feats.log_mag.shape[0] == 4
    assert np.isfinite(np.asarray(feats.log_mel)).all()

    from trainer.pipeline import prepare, provenance
    p = prepare(tmp_path / "data", clip_seconds=0.5, cache_dir=tmp_path / "cache")
    assert len(p.dataset) == 4 and junk not in p.dataset.paths
    assert provenance(p)["skipped_files"] == 1


def test_a_dataset_of_only_unreadable_files_is_refused(tmp_path):
    rng = np.random.default_rng(1)
    for c in ("a", "b"):
        (tmp_path / "data" / c).mkdir(parents=True)
        (tmp_path / "data" / c / "x.wav").write_bytes(rng.bytes(2048))
    ds = load_dataset(tmp_path / "data")
    with pytest.raises(DatasetError, match="none of the 2 files could be read"):
        compute_features(ds, FrontEndConfig(), clip_seconds=0.5, cache_dir=tmp_path / "c")


def test_inner_folds_of_one_complete_esc50_fold(esc50):
    ds = load_dataset(esc50, inner_folds_of=4)
    assert len(ds) == 400 and len(ds.classes) == 50
    assert ds.fold_ids == [1, 2, 3, 4, 5]
    assert "each recording in one fold" in ds.notes[-1]
    # clips cut from one recording never fall on both sides of a split
    for f in ds.fold_ids:
        assert not set(ds.groups[ds.folds == f]) & set(ds.groups[ds.folds != f])
    sizes = np.bincount(ds.folds)[1:]
    assert sizes.sum() == 400 and sizes.max() - sizes.min() <= 3
    for c in range(50):  # 8 clips a class: at most 2 in a fold, or one whole recording
        largest = max(Counter(ds.groups[ds.labels == c].tolist()).values())
        assert np.bincount(ds.folds[ds.labels == c]).max() <= max(2, largest)
    assert np.array_equal(load_dataset(esc50, inner_folds_of=4).folds, ds.folds)  # seeded
    with pytest.raises(DatasetError, match="no fold 9"):
        load_dataset(esc50, inner_folds_of=9)
