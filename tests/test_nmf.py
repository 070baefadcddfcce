"""engine.dsp.nmf: sparse NMF with unit-norm dictionary columns, on real and synthetic frames."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.dsp import nmf
from engine.dsp.audio import load_audio
from engine.dsp.features import FrontEndConfig, analyse
from engine.runtime.errors import Cancelled
from engine.runtime.progress import TaskState


@pytest.fixture(scope="module")
def real_chunks(esc10) -> list[np.ndarray]:
    """X of three real clips of different classes, every 4th frame (F x ~108 each)."""
    cfg = FrontEndConfig()
    dirs = sorted(d for d in esc10.iterdir() if d.is_dir())
    clips = [sorted(dirs[i].glob("*.ogg"))[0] for i in (0, 4, 7)]
    return [analyse(load_audio(c, cfg.sample_rate), cfg).log_mag.numpy()[:, ::4]
            for c in clips]


@pytest.fixture(scope="module")
def synthetic_chunks() -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    W = rng.random((64, 5)) ** 3
    return [(W @ rng.random((5, n)) + 0.05 * rng.random((64, n))).astype(np.float32)
            for n in (40, 25, 35)]


def _assert_non_increasing(obj: list[float], rtol: float = 1e-6) -> None:
    o = np.asarray(obj, dtype=float)
    assert np.isfinite(o).all()
    steps = np.diff(o)
    worst = int(np.argmax(steps / np.abs(o[:-1])))
    assert (steps <= rtol * np.abs(o[:-1])).all(), (
        f"objective rose at iteration {worst + 1}: {o[worst]} -> {o[worst + 1]}")
    assert o[-1] < o[0]  # and it did decrease overall


@pytest.mark.parametrize("beta", [2.0, 1.0])
@pytest.mark.parametrize("inner", [1, 3])
@pytest.mark.parametrize("data", ["real", "synthetic"])
def test_objective_never_increases(request, data, beta, inner):
    chunks = request.getfixturevalue(f"{data}_chunks")
    iterations = 25 if data == "real" else 40
    for sparsity in (0.0, 0.8):
        cfg = nmf.NMFConfig(k=8 if data == "real" else 5, sparsity=sparsity, beta=beta,
                            iterations=iterations, inner=inner, seed=1)
        res = nmf.fit(chunks, cfg)
        assert len(res.objective) == iterations
        _assert_non_increasing(res.objective)


@pytest.mark.parametrize("sparsity", [0.0, 0.8])
def test_many_cheap_w_steps_keep_the_objective_falling_and_w_unit_norm(real_chunks,
                                                                      sparsity):
    cfg = nmf.NMFConfig(k=8, sparsity=sparsity, iterations=20, inner=3, inner_w=10, seed=1)
    res = nmf.fit(real_chunks, cfg)
    _assert_non_increasing(res.objective)
    np.testing.assert_allclose(np.linalg.norm(res.W, axis=0), 1.0, atol=1e-5)
    # more W steps per pass over the data get further in as many passes
    plain = nmf.fit(real_chunks, nmf.NMFConfig(k=8, sparsity=sparsity, iterations=20,
                                               inner=3, seed=1))
    assert res.objective[-1] < plain.objective[-1]


@pytest.mark.parametrize("beta", [2.0, 1.0])
def test_dictionary_columns_are_unit_norm_and_non_negative(real_chunks, beta):
    res = nmf.fit(real_chunks, nmf.NMFConfig(k=8, beta=beta, iterations=10, inner=2))
    W = res.W
    assert W.shape == (513, 8) and W.dtype == np.float32
    assert np.isfinite(W).all() and (W >= 0).all()
    np.testing.assert_allclose(np.linalg.norm(W, axis=0), 1.0, atol=1e-5)
    assert res.config.k == 8


def test_objective_history_matches_the_objective_of_the_result():
    """For beta = 2 the history is computed from sufficient statistics; check its last
    value against D(X | W H) + mu |H|_1 computed directly from (W, H)."""
    rng = np.random.default_rng(0)
    X = rng.random((30, 50)).astype(np.float32)
    W0 = rng.random((30, 4)).astype(np.float32)
    H0 = rng.random((4, 50)).astype(np.float32)
    cfg = nmf.NMFConfig(k=4, sparsity=0.3, beta=2.0, iterations=1, inner=1)
    res = nmf.fit([X], cfg, W_init=W0, H_init=[H0])
    # replay the single iteration by hand: H step with the initial (normalised) W, then W
    Wt = nmf.normalise_columns(torch.from_numpy(W0))
    Xt = torch.from_numpy(X)
    H = torch.from_numpy(H0) * (Wt.T @ Xt) / (Wt.T @ Wt @ torch.from_numpy(H0) + 0.3)
    expected = nmf.objective(Xt, torch.from_numpy(res.W), H, 2.0, 0.3)
    assert res.objective[0] == pytest.approx(expected, rel=1e-4)


def test_transform_recovers_known_activations():
    rng = np.random.default_rng(0)
    W = rng.random((64, 6)).astype(np.float32) ** 4  # peaky columns: well conditioned
    W /= np.linalg.norm(W, axis=0)
    H = (2 * rng.random((6, 40))).astype(np.float32)
    X = torch.from_numpy(W @ H)
    for beta in (2.0, 1.0):
        Hhat = nmf.transform(X, torch.from_numpy(W), sparsity=0.0, beta=beta,
                             iterations=1500).numpy()
        assert Hhat.shape == H.shape and (Hhat >= 0).all()
        assert np.linalg.norm(Hhat - H) / np.linalg.norm(H) < 1e-2, beta


def test_transform_batched_and_sparsity():
    rng = np.random.default_rng(1)
    W = torch.from_numpy(rng.random((32, 4)).astype(np.float32))
    W = nmf.normalise_columns(W)
    X = torch.from_numpy(rng.random((3, 32, 20)).astype(np.float32))
    Hb = nmf.transform(X, W, sparsity=0.0, iterations=200)
    assert tuple(Hb.shape) == (3, 4, 20)
    for b in range(3):
        torch.testing.assert_close(Hb[b], nmf.transform(X[b], W, 0.0, iterations=200),
                                   atol=1e-5, rtol=1e-4)
    dense = nmf.transform(X[0], W, sparsity=0.0, iterations=200)
    sparse = nmf.transform(X[0], W, sparsity=5.0, iterations=200)
    assert float(sparse.sum()) < 0.9 * float(dense.sum())


def test_fit_is_reproducible_from_seed(synthetic_chunks):
    cfg = nmf.NMFConfig(k=5, sparsity=0.5, iterations=20, inner=2, seed=7)
    a = nmf.fit(synthetic_chunks, cfg)
    b = nmf.fit(synthetic_chunks, cfg)
    np.testing.assert_array_equal(a.W, b.W)
    assert a.objective == b.objective
    c = nmf.fit(synthetic_chunks, nmf.NMFConfig(k=5, sparsity=0.5, iterations=20, inner=2,
                                                seed=8))
    assert not np.allclose(a.W, c.W)


@pytest.mark.parametrize("beta", [2.0, 1.0])
@pytest.mark.parametrize("inner", [1, 3])
def test_chunking_gives_the_same_result_from_the_same_start(beta, inner):
    rng = np.random.default_rng(2)
    X = rng.random((64, 90)).astype(np.float32)
    W0 = rng.random((64, 5)).astype(np.float32)
    H0 = rng.random((5, 90)).astype(np.float32)
    cfg = nmf.NMFConfig(k=5, sparsity=0.5, beta=beta, iterations=30, inner=inner)
    cuts = [(0, 30), (30, 50), (50, 90)]
    one = nmf.fit([X], cfg, W_init=W0, H_init=[H0])
    many = nmf.fit([X[:, a:b] for a, b in cuts], cfg, W_init=W0,
                   H_init=[H0[:, a:b] for a, b in cuts])
    np.testing.assert_allclose(many.W, one.W, atol=1e-5)
    np.testing.assert_allclose(many.objective, one.objective, rtol=1e-5)


def test_chunking_gives_the_same_dictionary_by_default(real_chunks):
    """Chunks are a storage detail: the same frames split differently must give the same W
    (with the default initialisation too, not only with an explicit H_init)."""
    X = np.concatenate(real_chunks, axis=1)
    cfg = nmf.NMFConfig(k=8, sparsity=0.8, iterations=20, inner=3, seed=0)
    one = nmf.fit([X], cfg)
    many = nmf.fit([X[:, :100], X[:, 100:250], X[:, 250:]], cfg)
    np.testing.assert_allclose(many.W, one.W, atol=1e-4)


def test_fewer_frames_than_components():
    rng = np.random.default_rng(0)
    X = rng.random((20, 3)).astype(np.float32)
    W0 = nmf.init_dictionary([X], k=6, seed=0)
    assert W0.shape == (20, 6)
    np.testing.assert_allclose(np.linalg.norm(W0, axis=0), 1.0, atol=1e-5)
    res = nmf.fit([X], nmf.NMFConfig(k=6, iterations=5))
    assert res.W.shape == (20, 6) and np.isfinite(res.W).all()


def test_init_dictionary_uses_real_frames():
    rng = np.random.default_rng(0)
    chunks = [rng.random((16, 10)).astype(np.float32) for _ in range(3)]
    W = nmf.init_dictionary(chunks, k=4, seed=0)
    frames = np.concatenate(chunks, axis=1)
    frames = frames / np.linalg.norm(frames, axis=0)
    # every initial atom is close to some training frame (only a little noise added)
    for k in range(4):
        assert np.abs(frames - W[:, k:k + 1]).max(axis=0).min() < 0.1


def test_no_frames_is_an_error():
    with pytest.raises(ValueError):
        nmf.fit([], nmf.NMFConfig(k=2, iterations=1))


def test_progress_and_cancellation(synthetic_chunks):
    seen = []
    task = TaskState(on_report=seen.append)
    nmf.fit(synthetic_chunks, nmf.NMFConfig(k=5, iterations=6), task=task)
    assert [r.done for r in seen] == [1, 2, 3, 4, 5, 6]
    assert all(r.stage == "dictionary" and "objective" in r.metrics for r in seen)

    cancelled = TaskState(on_report=lambda r: cancelled.cancel() if r.done >= 2 else None)
    with pytest.raises(Cancelled):
        nmf.fit(synthetic_chunks, nmf.NMFConfig(k=5, iterations=50), task=cancelled)
    assert cancelled.last is not None and cancelled.last.done == 2


def test_memmap_chunks(tmp_path, synthetic_chunks):
    X = np.concatenate(synthetic_chunks, axis=1)
    mm = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.float32,
                                   shape=X.shape)
    mm[:] = X
    mm.flush()
    cfg = nmf.NMFConfig(k=5, iterations=5)
    np.testing.assert_array_equal(nmf.fit([mm], cfg).W, nmf.fit([X], cfg).W)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(synthetic_chunks):
    cfg = nmf.NMFConfig(k=5, sparsity=0.5, iterations=20, inner=2)
    cpu = nmf.fit(synthetic_chunks, cfg, device="cpu")
    gpu = nmf.fit(synthetic_chunks, cfg, device="cuda")
    np.testing.assert_allclose(gpu.W, cpu.W, atol=1e-3)
    np.testing.assert_allclose(gpu.objective, cpu.objective, rtol=1e-3)
    X = torch.from_numpy(synthetic_chunks[0])
    Hc = nmf.transform(X, torch.from_numpy(cpu.W), iterations=100)
    Hg = nmf.transform(X.cuda(), torch.from_numpy(cpu.W), iterations=100)
    torch.testing.assert_close(Hg.cpu(), Hc, atol=1e-3, rtol=1e-3)
