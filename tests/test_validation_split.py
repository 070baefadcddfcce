"""The classifier's validation split (model selection): by class, or by whole recordings."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import TINY_WIDTHS, link_subset

from trainer.cli import main
from trainer.datasets import load_dataset
from trainer.train_classifier import ClassifierTrainConfig, train_classifier, validation_split


def _synthetic(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """4 classes, each with 6 recordings of 1 to 4 clips, shuffled."""
    rng = np.random.default_rng(seed)
    keys, groups = [], []
    for c in range(4):
        for r in range(6):
            n = int(rng.integers(1, 5))
            keys += [c] * n
            groups += [f"c{c}r{r}"] * n
    order = rng.permutation(len(keys))
    return np.array(keys)[order], np.array(groups)[order]


def test_split_by_class_takes_the_class_share_of_each_class():
    keys, _ = _synthetic()
    train, val = validation_split(keys, 0.15, seed=0)
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(len(keys)))
    for c in np.unique(keys):
        assert (keys[val] == c).sum() == round((keys == c).sum() * 0.15)
    again = validation_split(keys, 0.15, seed=0)
    assert np.array_equal(val, again[1])
    assert not np.array_equal(val, validation_split(keys, 0.15, seed=1)[1])


def test_split_by_recording_keeps_every_recording_on_one_side():
    keys, groups = _synthetic()
    train, val = validation_split(keys, 0.15, 0, groups)
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(len(keys)))
    assert not set(groups[train]) & set(groups[val])
    for c in np.unique(keys):
        in_val = (keys[val] == c).sum()
        assert in_val >= round((keys == c).sum() * 0.15) and in_val > 0
        assert (keys[train] == c).sum() > 0
    again = validation_split(keys, 0.15, 0, groups)
    assert np.array_equal(val, again[1])


def test_a_class_with_one_recording_keeps_it_for_training():
    keys = np.array([0, 0, 0, 1, 1, 1, 1])
    groups = np.array(["a", "a", "a", "b", "b", "c", "c"])
    train, val = validation_split(keys, 0.3, 0, groups)
    assert set(train.tolist()) >= {0, 1, 2}
    assert set(groups[val]) in ({"b"}, {"c"})


def test_by_recording_without_recordings_is_refused():
    cfg = ClassifierTrainConfig(epochs=1, val_by_recording=True)
    with pytest.raises(ValueError, match="recording"):
        train_classifier(np.zeros((4, 64, 8), np.float32), np.array([0, 0, 1, 1]), 2, False,
                         cfg)


def test_esc10_split_by_class_shares_recordings_and_by_recording_does_not(esc10):
    ds = load_dataset(esc10)
    rows, _ = ds.split(1)
    keys, groups = ds.labels[rows], ds.groups[rows]
    train, val = validation_split(keys, 0.15, 0)
    assert len(val) == 50  # what the documented ESC-10 runs record as validation_clips
    assert set(groups[train]) & set(groups[val])  # the leak this option removes
    train, val = validation_split(keys, 0.15, 0, groups)
    assert not set(groups[train]) & set(groups[val])
    assert len(set(keys[val].tolist())) == 10


def test_cli_records_the_option_and_holds_out_whole_recordings(tiny_esc10, cache_dir, tmp_path):
    out = tmp_path / "clf"
    rc = main(["train", "classifier", "--data", str(tiny_esc10), "--test-fold", "1",
               "--cache", str(cache_dir), "--device", "cpu", "--epochs", "1",
               "--widths", ",".join(map(str, TINY_WIDTHS)), "--val-by-recording",
               "--out", str(out)])
    assert rc == 0
    info = json.loads((out / "classifier.json").read_text())["info"]
    assert info["training"]["val_by_recording"] is True
    assert info["validation_clips"] > 0


def test_cli_refuses_the_option_on_names_without_a_recording(esc10, cache_dir, tmp_path,
                                                             capsys):
    data = link_subset(esc10, tmp_path / "src", classes=2, per_fold={1: 2, 2: 3})
    for i, f in enumerate(sorted(data.rglob("*.ogg"))):  # keep the fold, drop the recording
        f.rename(f.with_name(f"{f.name.split('-')[0]}-clip_{i}.ogg"))
    out = tmp_path / "clf"
    rc = main(["train", "classifier", "--data", str(data), "--test-fold", "1",
               "--cache", str(cache_dir), "--device", "cpu", "--epochs", "1",
               "--val-by-recording", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0
    assert [line for line in err if line.startswith("l2i:")] == [
        f"l2i: error: {data}: no recording ids (esc50.csv src_file or ESC file names), so "
        "the validation split cannot be made by recording"]
    assert not out.exists()
