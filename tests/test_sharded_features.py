"""Under torchrun each rank caches its block of the clips; together the blocks are the one
process's cache bit for bit, and an interpreter trained on 2 ranks is the one trained on
1 with the same global batch. Real gloo process groups (torch.multiprocessing, spawn)."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY_WIDTHS
from shard_workers import classifier_job, features_job, interpreter_job, spawn

from engine.dsp.features import FrontEndConfig
from engine.models.classifier import VGGClassifier, VGGConfig, default_taps
from trainer import distributed as D
from trainer.datasets import load_dataset
from trainer.features_cache import compute_features
from trainer.pipeline import ClipWaves
from trainer.row_concat import RowConcat, RowSubset
from trainer.train_classifier import validation_split
from trainer.train_interpreter import InterpreterTrainConfig, train_interpreter

SECONDS = 1.0  # short clips: the same code, a fifth of the bytes


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def _links(src: Path, dst: Path, per_class: int | None = None, classes: int = 3) -> Path:
    for c in sorted(p for p in src.iterdir() if p.is_dir())[:classes]:
        (dst / c.name).mkdir(parents=True)
        for f in sorted(c.iterdir())[:per_class]:
            (dst / c.name / f.name).symlink_to(f.resolve())
    return dst


@pytest.fixture(scope="module")
def datasets(tiny_esc10, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sharded")
    whole = _links(tiny_esc10, root / "whole")
    junk = _links(tiny_esc10, root / "junk")
    second = sorted(p for p in junk.iterdir())[1]
    (second / "2-000000-A.wav").write_bytes(np.random.default_rng(0).bytes(4096))
    few = _links(tiny_esc10, root / "few", per_class=1, classes=3)  # 3 clips
    return {"whole": whole, "junk": junk, "few": few}


def _single(data: Path, cache: Path):
    return compute_features(load_dataset(data), FrontEndConfig(), SECONDS, cache)


def _same(got, ref) -> None:
    assert got.dtype == ref.dtype and got.shape == ref.shape
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("world", [1, 2, 4])
def test_shards_together_are_the_single_cache_bit_for_bit(datasets, tmp_path, world):
    names = ["whole", "junk", "few"]
    out = tmp_path / "out"
    out.mkdir()
    spawn(features_job, world, [str(datasets[n]) for n in names], str(tmp_path / "cache"),
          str(out), SECONDS, None)
    for name in names:
        ref = _single(datasets[name], tmp_path / "single")
        ds = load_dataset(datasets[name])
        blocks = [D.block(D.Context(rank=r, world_size=world), len(ds)) for r in range(world)]
        for rank in range(world):
            got = np.load(out / f"{name}-0-{rank}.npz")
            _same(got["log_mel"], np.asarray(ref.log_mel))
            _same(got["log_mag"], np.asarray(ref.log_mag))
            _same(got["keep"], ref.keep)
            assert got["skipped"].tolist()[:-1] == [s[0] for s in ref.skipped]
            # a shard folder per rank with clips; one process's folder is the old one
            assert len(got["folders"]) == sum(hi > lo for lo, hi in blocks)
            if world == 1:
                assert got["folders"].tolist() == [str(tmp_path / "cache" / "features" /
                                                       ref.folder.name)]
            _same(got["mel_gathered"], np.asarray(ref.log_mel)[got["order"]])
            _same(got["mag_span"], np.asarray(ref.log_mag)[1:-1])
            _same(got["mag_row"], np.asarray(ref.log_mag)[-1])
            _same(got["mag_cut"], np.asarray(ref.log_mag)[:, 3, 2:9])
            _same(got["mel_step"], np.asarray(ref.log_mel)[::2])
    junk = load_dataset(datasets["junk"])
    bad = [i for i, p in enumerate(junk.paths) if p.name == "2-000000-A.wav"]
    assert len(bad) == 1 and bad[0] not in np.load(out / "junk-0-0.npz")["keep"]
    assert 0 < bad[0] < len(junk) - 1  # inside one shard, not at an edge of the data
    if world == 4:  # "few" has 3 clips: rank 3 had none, and read the others' blocks
        assert len(np.load(out / "few-0-3.npz")["folders"]) == 3


def test_a_changed_file_recomputes_only_its_shard(datasets, tmp_path):
    data = tmp_path / "data"
    _links(datasets["whole"], data)
    first = sorted(data.rglob("*.ogg"))[0]
    spawn(features_job, 2, [str(data)], str(tmp_path / "cache"), str(tmp_path), SECONDS,
          str(first))
    before = np.load(tmp_path / "data-0-0.npz")["folders"].tolist()
    after = np.load(tmp_path / "data-1-0.npz")["folders"].tolist()
    assert len(before) == len(after) == 2
    assert before[0] != after[0] and before[1] == after[1]  # rank 1's block was reused
    assert len(os.listdir(tmp_path / "cache" / "features")) == 3


def test_ranks_reuse_a_whole_dataset_cache(datasets, tmp_path):
    single = _single(datasets["few"], tmp_path / "cache")
    spawn(features_job, 2, [str(datasets["few"])], str(tmp_path / "cache"), str(tmp_path),
          SECONDS, None)
    for rank in (0, 1):
        assert np.load(tmp_path / f"few-0-{rank}.npz")["folders"].tolist() == \
            [str(single.folder)]
    assert os.listdir(tmp_path / "cache" / "features") == [single.folder.name]


def test_row_concat_indexes_as_the_concatenation_does():
    rng = np.random.default_rng(0)
    parts = [rng.normal(size=(n, 3, 4)).astype(np.float16) for n in (2, 0, 3, 1)]
    whole = np.concatenate(parts)
    view = RowConcat(parts)
    assert view.shape == whole.shape and len(view) == 6 and view.dtype == np.float16
    for key in (0, -1, 4, slice(1, 5), slice(None, None, -2), slice(5, 2),
                np.array([5, 0, 2, 2]), [3, 1], np.array([[0, 5], [4, 1]]),
                np.arange(6) % 2 == 0, (slice(1, 6), 2, slice(0, 3)), (np.array([4, 1]), 1)):
        _same(view[key], whole[key])
    _same(np.asarray(view, dtype=np.float32), whole.astype(np.float32))
    with pytest.raises(IndexError):
        view[6]
    with pytest.raises(IndexError):
        view[np.array([0, 6])]


def test_row_subset_indexes_as_the_copy_does(tmp_path):
    """The interpreter stage hands the training rows on as views of the cache (a memory
    map, or the shards' RowConcat) instead of copies: every read must equal the copy's."""
    rng = np.random.default_rng(1)
    whole = rng.normal(size=(7, 3, 4)).astype(np.float16)
    np.save(tmp_path / "x.npy", whole)
    rows = np.array([6, 0, 3, 4, 1])
    for parent in (np.load(tmp_path / "x.npy", mmap_mode="r"),
                   RowConcat([whole[:2], whole[2:5], whole[5:]])):
        view, copy = RowSubset(parent, rows), whole[rows]
        assert view.shape == copy.shape and len(view) == 5 and view.dtype == np.float16
        for key in (0, -1, slice(1, 4), slice(None, None, -2), np.array([4, 0, 2]),
                    (np.array([3, 1]), slice(None), slice(1, 3)), (slice(0, 5), 2)):
            _same(view[key], copy[key])
        _same(np.asarray(view, dtype=np.float32), copy.astype(np.float32))
        with pytest.raises(IndexError):
            view[5]


def _interpreter_args(p, cache: Path, focus: float) -> dict:
    """A frozen random tiny classifier, a random dictionary and the real clips' features
    (and waveforms, which focus training mixes)."""
    torch.manual_seed(0)
    clf = VGGClassifier(3, VGGConfig(widths=list(TINY_WIDTHS))).eval()
    W = torch.rand(FrontEndConfig().n_freqs, 8, generator=torch.Generator().manual_seed(1))
    labels = load_dataset(p).labels
    feats = _single(p, cache)
    n_train = len(validation_split(labels, 0.15, 0)[0])
    # a global batch that leaves one clip for the last step: rank 1 has no share of it
    batch = next(b for b in range(3, n_train) if n_train % b == 1)
    cfg = InterpreterTrainConfig(epochs=2, batch_size=batch, lr=1e-3, adapter_channels=16,
                                 hidden=16, temporal_stride=4, focus=focus, focus_mixtures=5)
    fe = FrontEndConfig()
    waves = ClipWaves(load_dataset(p).paths, fe.sample_rate, int(SECONDS * fe.sample_rate))
    return {"classifier": clf, "layers": default_taps(clf), "W": W,
            "log_mag": np.array(feats.log_mag), "log_mel": np.array(feats.log_mel),
            "labels": labels, "n_classes": 3, "cfg": cfg,
            "frontend": fe if focus else None, "waves": waves[:] if focus else None}


@pytest.mark.parametrize("focus", [0.0, 1.0])
def test_an_interpreter_trained_on_two_ranks_is_the_one_trained_on_one(datasets, tmp_path,
                                                                       focus):
    """Same weights (float rounding) and record: batch norm and dropout over the global
    batch, every rank's loss weighted by its share, the mixtures of focus training drawn
    per global batch and shared out (5 of them: 3 and 2)."""
    a = _interpreter_args(datasets["whole"], tmp_path / "cache", focus)
    one, info = train_interpreter(a["classifier"], a["layers"], a["W"], a["log_mag"],
                                  a["log_mel"], a["labels"], 3, False, a["cfg"],
                                  frontend=a["frontend"], waves=a["waves"])
    spawn(interpreter_job, 2, a, str(tmp_path))
    assert info["validation_clips"] > 0 and len(info["history"]) == 2
    ref = one.state_dict()
    assert any("running_var" in k for k in ref) and one.config.attention_dropout > 0
    for rank in (0, 1):
        got = torch.load(tmp_path / f"interpreter-{rank}.pt", weights_only=True)
        assert got["state"].keys() == ref.keys()
        for k, v in ref.items():
            if k == SHIFT:  # no gradient but rounding: Adam makes steps of up to lr of it
                steps = 2 * -(-info["train_clips"] // a["cfg"].batch_size)
                assert (got["state"][k] - v).abs().max() <= a["cfg"].lr * steps
                continue
            torch.testing.assert_close(got["state"][k], v, atol=1e-5, rtol=1e-4, msg=k)
        twin = copy.deepcopy(one)
        twin.load_state_dict(got["state"])
        for x, y in zip(_explain(one, a), _explain(twin, a)):  # the same explanations
            torch.testing.assert_close(x, y, atol=1e-5, rtol=1e-4)
        assert got["info"]["best_epoch"] == info["best_epoch"]
        for row, ref_row in zip(got["info"]["history"], info["history"]):
            for k in ("val_fidelity", "val_fid_loss", "val_nmf", "val_l1"):
                assert row[k] == pytest.approx(ref_row[k], rel=1e-4, abs=1e-6), k
    # the training moved the weights: equality is not that of two untouched models
    torch.manual_seed(a["cfg"].seed)
    assert any(not torch.allclose(v, ref[k]) for k, v in _fresh(a).items()
               if v.is_floating_point())


# the attention logits' bias: a softmax over time does not change when all its inputs
# shift, so this parameter has no effect on any output and its gradient is rounding
SHIFT = "theta.att_w.bias"


def _explain(interp, a: dict) -> tuple[torch.Tensor, ...]:
    """H, logits and z of the interpreter on the first clips (eval mode)."""
    from engine.models.taps import LayerTaps

    with LayerTaps(a["classifier"], a["layers"]) as taps, torch.no_grad():
        _, maps = taps(torch.from_numpy(np.asarray(a["log_mel"][:6], dtype=np.float32)))
        return interp.eval()(maps, a["log_mag"].shape[-1])


def _fresh(a: dict) -> dict:
    """The interpreter's initial weights (same seed, no training)."""
    b = dict(a, cfg=InterpreterTrainConfig(**(a["cfg"].to_dict() | {"epochs": 0})))
    interp, _ = train_interpreter(b["classifier"], b["layers"], b["W"], b["log_mag"],
                                  b["log_mel"], b["labels"], 3, False, b["cfg"],
                                  frontend=b["frontend"], waves=b["waves"])
    return interp.state_dict()


def test_a_classifier_trains_on_two_ranks_when_one_has_no_share_of_a_batch(tmp_path):
    """A short last batch leaves rank 1 nothing: it still steps (batch norm's collective
    calls), and both ranks end with the same finite weights (batch norm statistics over
    the global batch; augmentation is drawn per rank, so no comparison with one rank)."""
    from engine.models.classifier import VGGConfig
    from trainer.train_classifier import ClassifierTrainConfig

    rng = np.random.default_rng(0)
    mel = rng.normal(-40, 10, (16, 32, 24)).astype(np.float32)
    labels = np.repeat([0, 1], 8)
    n_train = len(validation_split(labels, 0.15, 0)[0])
    cfg = ClassifierTrainConfig(epochs=2, batch_size=next(b for b in range(3, n_train)
                                                          if n_train % b == 1),
                                lr=3e-3, model=VGGConfig(widths=[4, 8]))
    spawn(classifier_job, 2, mel, labels, cfg, str(tmp_path))
    a, b = (torch.load(tmp_path / f"classifier-{r}.pt", weights_only=True) for r in (0, 1))
    for k, v in a["state"].items():
        assert torch.isfinite(v.float()).all(), k
        torch.testing.assert_close(b["state"][k], v, msg=k)
    assert len(a["info"]["history"]) == 2
