"""engine.dsp.nmf_online: the mini-batch dictionary for frames that exceed memory, on
real frames, against the full-batch fit, alone and in a process group."""

from __future__ import annotations

import numpy as np
import pytest
import torch.multiprocessing as mp
from distributed_workers import fit_online_frames

from engine.dsp import nmf, nmf_online
from engine.dsp.audio import load_audio
from engine.dsp.features import FrontEndConfig, analyse


@pytest.fixture(scope="module")
def frames(tiny_esc10) -> np.ndarray:
    cfg = FrontEndConfig()
    clips = sorted(tiny_esc10.rglob("*.ogg"))[:8]
    return np.concatenate([analyse(load_audio(c, cfg.sample_rate), cfg).log_mag.numpy()
                           for c in clips], axis=1)


def test_every_frame_is_fitted_once_per_pass(monkeypatch):
    seen = []
    transform = nmf.transform
    monkeypatch.setattr(nmf, "transform", lambda X, *a: seen.append(X.shape[1]) or
                        transform(X, *a))
    rng = np.random.default_rng(0)
    X = [rng.random((8, n)).astype(np.float32) for n in (70, 70, 30)]
    nmf_online.fit_online(X, nmf.NMFConfig(k=3, iterations=2, online_batch=40))
    assert sum(seen) == 2 * 170 and max(seen) <= 40


def test_it_gets_near_the_full_batch_objective(frames):
    """On 3 456 real frames: a few passes of mini-batches against 40 full-batch
    iterations, both scored the same way (H refitted with W fixed)."""
    k, mu = 16, 0.8
    full = nmf.fit([frames], nmf.NMFConfig(k=k, sparsity=mu, iterations=40, inner=3,
                                           inner_w=10))
    online = nmf_online.fit_online([frames[:, :2000], frames[:, 2000:]], nmf.NMFConfig(
        k=k, sparsity=mu, iterations=6, inner_w=10, online_batch=500))
    start = nmf_online.score([frames], nmf.init_dictionary([frames], k, 0), mu)
    s_full, s_online = (nmf_online.score([frames], r.W, mu) for r in (full, online))
    assert s_full < 0.8 * start  # both learnt something
    assert s_online < 1.05 * s_full, (s_online, s_full)
    np.testing.assert_allclose(np.linalg.norm(online.W, axis=0), 1.0, atol=1e-5)
    assert (online.W >= 0).all()


def test_in_a_process_group_every_process_gets_one_dictionary(frames, tmp_path):
    cfg = dict(k=8, sparsity=0.8, iterations=3, inner_w=5, online_batch=600)
    alone = nmf_online.fit_online([frames], nmf.NMFConfig(**cfg))
    s_alone = nmf_online.score([frames], alone.W, 0.8)
    mp.spawn(fit_online_frames, args=(3, str(tmp_path / "store"), frames, cfg,
                                      str(tmp_path)), nprocs=3, join=True)
    Ws = [np.load(tmp_path / f"W{r}.npy") for r in range(3)]
    for W in Ws[1:]:
        np.testing.assert_array_equal(W, Ws[0])
    # the batches are cut differently, so not the same W, but as good a one
    assert nmf_online.score([frames], Ws[0], 0.8) < 1.05 * s_alone


def test_only_the_euclidean_cost():
    X = np.ones((4, 10), dtype=np.float32)
    with pytest.raises(ValueError, match="Euclidean"):
        nmf_online.fit_online([X], nmf.NMFConfig(k=2, beta=1.0, online_batch=5))


def test_the_command_line_records_the_mode(tiny_esc10, cache_dir, tmp_path, capsys):
    from trainer.artifacts import load_dictionary
    from trainer.cli import main

    out = tmp_path / "d.safetensors"
    args = ["train", "dictionary", "--data", str(tiny_esc10), "--test-fold", "1", "--k", "6",
            "--iterations", "2", "--cache", str(cache_dir), "--device", "cpu", "--out",
            str(out)]
    assert main([*args, "--online-batch", "1000"]) == 0
    W, info = load_dictionary(out)
    assert W.shape[1] == 6 and info["online_batch"] == 1000
    assert info["frames_per_rank"] == [info["frames"]] and info["world_size"] == 1
    out.unlink()
    capsys.readouterr()
    assert main([*args, "--online-batch", "1000", "--beta", "1"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--online-batch" in err[0] and not out.exists()
