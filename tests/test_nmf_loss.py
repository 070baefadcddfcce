"""The NMF loss from per-clip statistics equals ||X - W H||^2 formed in full, in value
and in gradient, and training uses it only when it fits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainer import nmf_loss as nl


def _problem(seed=0, n=5, f=33, k=7, t=19):
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, f, t, generator=g) * 5  # like log(1 + |S|)
    W = torch.rand(f, k, generator=g)
    W = W / W.norm(dim=0)
    H = torch.rand(n, k, t, generator=g)
    H[H < 0.7] = 0
    return X, W, H


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_statistics_give_the_full_loss_and_its_gradient(seed):
    X, W, H = _problem(seed)
    stats = nl.nmf_stats(W, X.numpy(), batch=2)
    rows = np.array([0, 2, 3])
    H1 = H[rows].clone().requires_grad_(True)
    H2 = H[rows].clone().requires_grad_(True)
    full = nl.nmf_loss(H1, X[rows], W)
    fast = nl.nmf_loss(H2, stats=stats.rows(rows, torch.device("cpu")))
    torch.testing.assert_close(fast, full, rtol=1e-5, atol=1e-6)
    full.backward()
    fast.backward()
    torch.testing.assert_close(H2.grad, H1.grad, rtol=1e-4, atol=1e-7)


def test_a_perfect_fit_gives_zero_not_a_cancellation_error():
    _, W, H = _problem(3)
    X = W @ H  # X = W H exactly: the three terms cancel
    stats = nl.nmf_stats(W, X.numpy())
    loss = nl.nmf_loss(H, stats=stats.rows(np.arange(len(X)), torch.device("cpu")))
    assert abs(float(loss)) < 1e-5 * float(X.square().mean())


def test_statistics_are_skipped_past_the_memory_budget(monkeypatch):
    X, W, _ = _problem()
    monkeypatch.setattr(nl, "STATS_BUDGET_BYTES", X.shape[0] * W.shape[1] * X.shape[2] * 4 - 1)
    assert nl.nmf_stats(W, X.numpy()) is None


def test_training_with_and_without_the_statistics_agrees(monkeypatch, small_training_setup):
    """Same seed, same data: the recorded losses agree whichever way the NMF term is
    computed (the statistics path never reads X during the paper's loss)."""
    from trainer.train_interpreter import InterpreterTrainConfig, train_interpreter
    clf, layers, W, log_mag, log_mel, labels = small_training_setup
    cfg = InterpreterTrainConfig(epochs=2, batch_size=4, val_fraction=0.25, hidden=16,
                                 adapter_channels=8)
    _, fast = train_interpreter(clf, layers, W, log_mag, log_mel, labels, 3, False, cfg)
    monkeypatch.setattr(nl, "STATS_BUDGET_BYTES", 0)
    _, full = train_interpreter(clf, layers, W, log_mag, log_mel, labels, 3, False, cfg)
    for a, b in zip(fast["history"], full["history"]):
        for key in ("val_nmf", "val_fid_loss", "val_l1"):
            assert a[key] == pytest.approx(b[key], rel=1e-3), key


@pytest.fixture(scope="module")
def small_training_setup(tiny_esc10, cache_dir):
    from conftest import TINY_WIDTHS

    from engine.models.classifier import VGGClassifier, VGGConfig, default_taps
    from trainer import pipeline
    torch.manual_seed(0)
    p = pipeline.prepare(tiny_esc10, test_fold=1, clip_seconds=1.0, cache_dir=cache_dir)
    clf = VGGClassifier(3, VGGConfig(widths=list(TINY_WIDTHS))).eval()
    W = torch.rand(p.frontend.n_freqs, 8)
    W = W / W.norm(dim=0, keepdim=True)
    rows = p.train_rows
    return (clf, default_taps(clf), W, p.features.log_mag[rows], p.features.log_mel[rows],
            p.dataset.labels[rows])
