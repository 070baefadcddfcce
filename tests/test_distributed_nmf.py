"""The dictionary learnt by 1, 2 and 4 processes (gloo, CPU) is the single-process one:
engine.dsp.nmf's Shard, trainer.train_dictionary under a process group, and
`torchrun ... l2i train dictionary` with its file's metadata."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch.multiprocessing as mp
from distributed_workers import fit_frames, learn_from_cache
from safetensors import safe_open

from engine.dsp import nmf
from engine.dsp.audio import load_audio
from engine.dsp.features import FrontEndConfig, analyse
from trainer.artifacts import load_dictionary
from trainer.train_dictionary import learn_dictionary

ROOT = Path(__file__).resolve().parents[1]
TORCHRUN = ROOT / ".venv" / "bin" / "torchrun"
L2I = ROOT / ".venv" / "bin" / "l2i"


@pytest.fixture(scope="module")
def frames(tiny_esc10) -> np.ndarray:
    """Real log-magnitude frames of six clips of three classes (F x ~1300)."""
    cfg = FrontEndConfig()
    clips = sorted(tiny_esc10.rglob("*.ogg"))[::4][:6]
    return np.concatenate([analyse(load_audio(c, cfg.sample_rate), cfg).log_mag.numpy()
                           [:, ::2] for c in clips], axis=1)


def _spawn(fn, world: int, tmp: Path, *args) -> None:
    store = tmp / f"store{world}"
    mp.spawn(fn, args=(world, str(store), *args), nprocs=world, join=True)


@pytest.mark.parametrize("cfg", [dict(k=12, sparsity=0.8, iterations=15, inner=3, seed=4),
                                 dict(k=12, sparsity=0.0, iterations=10, inner=2, seed=1),
                                 dict(k=6, sparsity=0.5, beta=1.0, iterations=8, seed=2)],
                         ids=["sparse", "no-sparsity", "beta1"])
def test_the_dictionary_is_the_same_at_any_world_size(frames, cfg, tmp_path):
    alone = nmf.fit([frames[:, a:a + 300] for a in range(0, frames.shape[1], 300)],
                    nmf.NMFConfig(**cfg))
    for world in (2, 4):
        out = tmp_path / f"w{world}"
        out.mkdir()
        _spawn(fit_frames, world, tmp_path, frames, cfg, 170, str(out))
        W = np.load(out / "W.npy")
        np.testing.assert_allclose(W, alone.W, atol=2e-5, err_msg=f"world {world}")
        np.testing.assert_allclose(json.loads((out / "objective.json").read_text()),
                                   alone.objective, rtol=1e-5)
        for r in range(1, world):  # every process ends with the same dictionary
            np.testing.assert_array_equal(np.load(out / f"W{r}.npy"), W)
    # and it is a learnt dictionary: the objective fell
    assert alone.objective[-1] < 0.9 * alone.objective[0]


def test_a_process_without_frames_still_takes_part(frames, tmp_path):
    """Four processes, three frames: one process holds none and must not hang the rest."""
    X = frames[:, :3]
    cfg = dict(k=5, sparsity=0.5, iterations=5, seed=0)
    alone = nmf.fit([X], nmf.NMFConfig(**cfg))
    _spawn(fit_frames, 4, tmp_path, X, cfg, 1, str(tmp_path))
    np.testing.assert_allclose(np.load(tmp_path / "W.npy"), alone.W, atol=1e-5)


def test_the_start_does_not_depend_on_how_frames_are_split(frames):
    k, seed, scale = 7, 3, 0.5
    whole = nmf.initial_activations(k, [frames.shape[1]], seed, scale)[0]
    cut = [100, nmf.H_BLOCK, 5] if frames.shape[1] > nmf.H_BLOCK else [100, 900, 5]
    parts = nmf.initial_activations(k, cut, seed, scale, offset=40)
    np.testing.assert_array_equal(torch_cat(parts), whole[:, 40:40 + sum(cut)]
                                  if 40 + sum(cut) <= whole.shape[1] else
                                  nmf.initial_activations(k, [40 + sum(cut)], seed,
                                                          scale)[0][:, 40:])
    assert float(whole.min()) > 0 and float(whole.max()) <= 2 * scale + 1e-6


def torch_cat(parts):
    return np.concatenate([p.numpy() for p in parts], axis=1)


def test_learn_dictionary_in_a_process_group_matches_one_process(frames, tmp_path):
    """The trainer's path: clips of a memory-mapped (N, F, T) cache, a block of the
    training rows per process, and a frame budget drawn among all the rows."""
    n_clips, T = 6, 200
    cache = np.stack([frames[:, i * T:(i + 1) * T] for i in range(n_clips)]).astype(
        np.float16)
    np.save(tmp_path / "log_mag.npy", cache)
    rows = [5, 0, 3, 1, 4]  # the training clips, in the fold's order
    cfg = dict(k=8, sparsity=0.8, iterations=10, inner=2, seed=5)
    for max_frames in (None, 555):
        alone, counts = learn_dictionary(cache, np.array(rows), nmf.NMFConfig(**cfg),
                                         max_frames=max_frames)
        assert counts == [max_frames or len(rows) * T]
        for world in (2, 4):
            out = tmp_path / f"m{max_frames}-w{world}"
            out.mkdir()
            _spawn(learn_from_cache, world, out, str(tmp_path / "log_mag.npy"), rows, cfg,
                   max_frames, str(out))
            run = json.loads((out / "run.json").read_text())
            assert len(run["per_rank"]) == world and sum(run["per_rank"]) == counts[0]
            np.testing.assert_allclose(np.load(out / "W.npy"), alone.W, atol=2e-5)
            np.testing.assert_allclose(run["objective"], alone.objective, rtol=1e-5)


def _env() -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    for v in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(v, None)
    return env


def test_torchrun_train_dictionary_records_its_world(tiny_esc10, cache_dir, tmp_path):
    assert TORCHRUN.is_file() and L2I.is_file()
    common = ["train", "dictionary", "--data", str(tiny_esc10), "--test-fold", "1",
              "--k", "10", "--iterations", "8", "--cache", str(cache_dir), "--device", "cpu"]
    one = subprocess.run([str(L2I), *common, "--out", str(tmp_path / "one.safetensors")],
                         env=_env(), capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run([str(TORCHRUN), "--standalone", "--nproc_per_node=2", str(L2I),
                          *common, "--out", str(tmp_path / "two.safetensors")],
                         env=_env(), capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr[-2000:]
    assert two.stdout.count("dictionary: K=10") == 1  # rank 0 alone prints

    W1, info1 = load_dictionary(tmp_path / "one.safetensors")
    W2, info2 = load_dictionary(tmp_path / "two.safetensors")
    np.testing.assert_allclose(W2.numpy(), W1.numpy(), atol=2e-5)
    with safe_open(str(tmp_path / "two.safetensors"), framework="pt") as f:
        meta = f.metadata()
    assert json.loads(meta["world_size"]) == 2
    per_rank = json.loads(meta["frames_per_rank"])
    assert len(per_rank) == 2 and all(n > 0 for n in per_rank)
    assert sum(per_rank) == info1["frames"] == info2["frames"]
    assert info1["world_size"] == 1 and info1["frames_per_rank"] == [info1["frames"]]


@pytest.mark.parametrize("world", [{"WORLD_SIZE": "2"},
                                   {"WORLD_SIZE": "2", "RANK": "0", "MASTER_ADDR": "127.0.0.1",
                                    "MASTER_PORT": "0", "L2I_DIST_TIMEOUT": "3"}],
                         ids=["no-rank", "peer-never-joins"])
def test_a_bad_world_is_one_line_not_a_hang(world, tmp_path):
    out = tmp_path / "d.safetensors"
    run = subprocess.run([sys.executable, "-m", "trainer.cli", "train", "dictionary",
                          "--data", str(tmp_path), "--out", str(out), "--device", "cpu"],
                         env=_env() | world, capture_output=True, text=True, timeout=120,
                         cwd=ROOT)
    assert run.returncode != 0
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("l2i: error:"), run.stderr
    assert ("torchrun" in lines[0]) if "RANK" not in world else ("join" in lines[0])
    assert not out.exists()
