"""The frozen classifier's outputs come from an on-disk cache (trainer/frozen_cache.py):
the same numbers as computing them in memory, on 1, 2 and 4 ranks (real gloo process
groups), reused by a second run without a forward pass, computed anew for another
classifier, and read a batch at a time, so that memory does not grow with the data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY_WIDTHS
from shard_workers import CountingVGG, frozen_job, memory_mapped, rss_job, spawn

from engine.dsp.features import FrontEndConfig
from engine.models.classifier import VGGConfig, default_taps
from engine.models.taps import LayerTaps
from trainer import distributed as D
from trainer.datasets import load_dataset
from trainer.features_cache import compute_features
from trainer.frozen_cache import classifier_digest, frozen_outputs

SECONDS = 1.0


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="module")
def inputs(tiny_esc10, tmp_path_factory) -> np.ndarray:
    """The real clips' log-mel (24 one-second clips)."""
    feats = compute_features(load_dataset(tiny_esc10), FrontEndConfig(), SECONDS,
                             tmp_path_factory.mktemp("features"))
    return np.array(feats.log_mel)


def _classifier(seed: int = 0) -> CountingVGG:
    torch.manual_seed(seed)
    return CountingVGG(3, VGGConfig(widths=list(TINY_WIDTHS))).eval()


def _in_memory(clf, layers: list[str], x: np.ndarray, batch: int = 32, world: int = 1):
    """What training kept in memory before the cache: softmax and every tapped map, the
    forward passes made over each rank's block of the rows (``world`` ranks)."""
    probs, maps = [], []
    cuts = [D.block(D.Context(rank=r, world_size=world), len(x)) for r in range(world)]
    with LayerTaps(clf, layers) as taps, torch.no_grad():
        for i, end in ((i, hi) for lo, hi in cuts for i in range(lo, hi, batch)):
            logits, m = taps(torch.from_numpy(x[i:min(i + batch, end)]))
            probs.append(torch.softmax(logits, -1))
            maps.append([t.float() for t in m])
    return torch.cat(probs).numpy(), [torch.cat(ms).numpy() for ms in zip(*maps)]


@pytest.mark.parametrize("world", [1, 2, 4])
def test_cached_outputs_are_the_in_memory_ones_and_every_rank_reuses_them(inputs, tmp_path,
                                                                         world):
    clf = _classifier()
    layers = default_taps(clf)
    probs, maps = _in_memory(clf, layers, inputs, world=world)
    whole = _in_memory(clf, layers, inputs)
    spawn(frozen_job, world, clf, layers, inputs, str(tmp_path / "cache"), str(tmp_path))
    per_rank = [math.ceil((len(inputs) // world + (r < len(inputs) % world)) / 32)
                for r in range(world)]
    for rank in range(world):
        got = np.load(tmp_path / f"frozen-{rank}.npz")
        np.testing.assert_array_equal(got["probabilities"], probs)
        assert got["probabilities"].dtype == np.float32
        for i, ref in enumerate(maps):
            assert got[f"map{i}"].dtype == np.float32 and got[f"map{i}"].shape == ref.shape
            np.testing.assert_array_equal(got[f"map{i}"], ref)
        np.testing.assert_array_equal(got["rows"], maps[0][[len(inputs) - 1, 0]])
        # against one forward pass over all rows: a batch of other rows changes how the
        # CPU's convolutions round (by about one float32 step), nothing more
        for a, b in zip([got["probabilities"], *[got[f"map{i}"] for i in range(len(maps))]],
                        [whole[0], *whole[1]]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        # one shard per rank, the same folders on every rank and in the second round,
        # which made no forward pass; the maps are read from files, not held
        assert len(got["folders"]) == world
        assert got["folders"].tolist() == got["again"].tolist() == \
            np.load(tmp_path / "frozen-0.npz")["folders"].tolist()
        assert got["calls"].tolist() == [per_rank[rank], 0]
        assert got["mapped"].all()
    assert len(list((tmp_path / "cache" / "frozen").iterdir())) == world


def test_a_second_run_reuses_and_another_classifier_or_input_recomputes(inputs, tmp_path):
    clf = _classifier()
    layers = default_taps(clf)
    first = frozen_outputs(clf, layers, inputs, False, tmp_path)
    assert clf.calls == 1  # 24 clips, one batch of 32
    # the same weights in another object (as loaded from another file): reused
    twin = _classifier()
    twin.load_state_dict(clf.state_dict())
    again = frozen_outputs(twin, layers, inputs, False, tmp_path)
    assert twin.calls == 0 and again.folders == first.folders
    np.testing.assert_array_equal(np.asarray(again.maps[2]), np.asarray(first.maps[2]))
    # one weight changed by a little: computed anew, into a folder of its own
    with torch.no_grad():
        next(twin.parameters()).view(-1)[0] += 1e-3
    assert classifier_digest(twin) != classifier_digest(clf)
    changed = frozen_outputs(twin, layers, inputs, False, tmp_path)
    assert twin.calls == 1 and changed.folders != first.folders
    assert not np.array_equal(np.asarray(changed.maps[0]), np.asarray(first.maps[0]))
    # other inputs, other layers, sigmoid for softmax: each computed anew
    for args in ((inputs[1:], layers, False), (inputs, layers[:2], False),
                 (inputs, layers, True)):
        before = clf.calls
        out = frozen_outputs(clf, args[1], args[0], args[2], tmp_path)
        assert clf.calls == before + 1 and out.folders != first.folders
    multilabel = frozen_outputs(clf, layers, inputs, True, tmp_path).probabilities
    assert not np.allclose(np.asarray(multilabel).sum(1), 1.0)
    assert len(list((tmp_path / "frozen").iterdir())) == 5


def test_an_interrupted_computation_is_not_taken_for_a_cache(inputs, tmp_path):
    """A shard is whole only once its done.json is written: files left by a run that
    stopped half-way are computed again, not read."""
    clf = _classifier()
    layers = default_taps(clf)
    first = frozen_outputs(clf, layers, inputs, False, tmp_path)
    (first.folders[0] / "done.json").unlink()
    np.load(first.folders[0] / "map0.npy", mmap_mode="r+")[:] = 0  # a half-written map
    again = frozen_outputs(clf, layers, inputs, False, tmp_path)
    assert clf.calls == 2
    np.testing.assert_array_equal(np.asarray(again.maps[0]), _in_memory(clf, layers,
                                                                           inputs)[1][0])


def test_training_memory_does_not_grow_with_the_maps(tmp_path):
    """Peak heap growth while training on 64 and 256 clips of a classifier with 1 MB of
    maps a clip: held in memory, the 192 extra clips' maps alone would add 192 MB (twice
    that while they were concatenated). Measured here: 8 to 16 MB more (allocator noise;
    every batch, of the forward passes, the statistics and the steps, is full in both)."""
    for n in (64, 256):
        spawn(rss_job, 1, n, str(tmp_path))
    small, large = (int((tmp_path / f"rss-{n}.txt").read_text()) / 1024 for n in (64, 256))
    assert large - small < 192 / 4, (small, large)  # MB
    # the maps were there, on disk, at full size
    shard = next((tmp_path / "cache-256" / "frozen").iterdir())
    assert (shard / "map0.npy").stat().st_size >= 256 * (1 << 20)


def test_maps_are_memory_mapped_in_one_process(inputs, tmp_path):
    clf = _classifier()
    out = frozen_outputs(clf, default_taps(clf), inputs, False, tmp_path)
    assert all(memory_mapped(m) for m in [out.probabilities, *out.maps])
    assert Path(out.folders[0]).parent == tmp_path / "frozen"
