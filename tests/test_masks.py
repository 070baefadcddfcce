"""engine.explanation.masks (relevance, selection, soft masks) and the Explainer built on them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import random_bundle
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from engine.dsp.features import FrontEndConfig, analyse, resynthesise
from engine.explanation.explain import Explainer
from engine.explanation.masks import (
    group_mask,
    relevance,
    resynthesise_many,
    select,
    soft_masks,
    split,
)

CFG = FrontEndConfig()



def _wh_with_zeros(seed=0, F=40, K=5, T=30):
    """Non-negative W, H whose product is exactly zero in some cells."""
    g = torch.Generator().manual_seed(seed)
    W = torch.rand(F, K, generator=g)
    W[:5] = 0.0  # five frequency rows no atom reaches
    H = torch.rand(K, T, generator=g)
    H[:, 10:13] = 0.0  # three silent frames
    H[2, :] = 0.0  # a component that never fires
    return W, H


# --- soft masks -----------------------------------------------------------------------------


def test_all_soft_masks_sum_to_one_where_wh_is_positive():
    W, H = _wh_with_zeros()
    WH = W @ H
    assert (WH == 0).any() and (WH > 0).any()
    masks = soft_masks(W, H, range(W.shape[1]))
    assert tuple(masks.shape) == (5, 40, 30)
    assert (masks >= 0).all() and (masks <= 1 + 1e-6).all()
    total = masks.sum(0)
    torch.testing.assert_close(total[WH > 0], torch.ones_like(total[WH > 0]))
    assert torch.count_nonzero(total[WH == 0]) == 0
    assert torch.count_nonzero(masks[2]) == 0  # the silent component explains nothing


def test_group_mask_is_the_sum_of_soft_masks():
    W, H = _wh_with_zeros(1)
    for idx in ([0], [1, 3], [4, 0, 2], list(range(5))):
        torch.testing.assert_close(group_mask(W, H, idx), soft_masks(W, H, idx).sum(0))
    assert torch.count_nonzero(group_mask(W, H, [])) == 0
    assert tuple(soft_masks(W, H, []).shape) == (0, 40, 30)


def test_soft_mask_by_hand():
    W = torch.tensor([[1.0, 3.0], [0.0, 2.0], [0.0, 0.0]])
    H = torch.tensor([[1.0, 0.0], [1.0, 2.0]])
    # W H = [[4, 6], [2, 4], [0, 0]]
    m = soft_masks(W, H, [0, 1])
    torch.testing.assert_close(m[0], torch.tensor([[0.25, 0.0], [0.0, 0.0], [0.0, 0.0]]))
    torch.testing.assert_close(m[1], torch.tensor([[0.75, 1.0], [1.0, 1.0], [0.0, 0.0]]))


def test_split_parts_add_up_to_x():
    W, H = _wh_with_zeros(2)
    X = torch.rand(40, 30) * 3
    for idx in ([], [1], [0, 3, 4], list(range(5))):
        X_int, X_res = split(X, W, H, idx)
        torch.testing.assert_close(X_int + X_res, X)
        assert (X_int >= 0).all() and (X_res >= -1e-6).all()
    X_int, X_res = split(X, W, H, [])
    assert torch.count_nonzero(X_int) == 0 and torch.equal(X_res, X)
    # with every component selected, only cells the model cannot explain stay residual
    WH = W @ H
    X_int, X_res = split(X, W, H, range(5))
    torch.testing.assert_close(X_int[WH > 0], X[WH > 0])
    torch.testing.assert_close(X_res[WH == 0], X[WH == 0])


def test_all_components_resynthesise_the_input(tone):
    s = analyse(tone, CFG)
    g = torch.Generator().manual_seed(0)
    W = torch.rand(CFG.n_freqs, 6, generator=g) + 0.01
    H = torch.rand(6, s.log_mag.shape[-1], generator=g) + 0.01  # W H > 0 everywhere
    X_int, X_res = split(s.log_mag, W, H, range(6))
    n = tone.shape[0]
    y = resynthesise(X_int, s.phase, CFG, n)
    torch.testing.assert_close(y, resynthesise(s.log_mag, s.phase, CFG, n))
    np.testing.assert_allclose(y.numpy(), tone, atol=1e-4)
    assert float(resynthesise(X_res, s.phase, CFG, n).abs().max()) < 1e-4


def test_explainer_with_every_component_gives_back_the_clip(tone):
    """A threshold below -1 selects every component: the interpretation is the clip itself
    wherever W H > 0, and frames the interpreter leaves empty stay in the residual."""
    ex = Explainer(random_bundle(k=8))
    a = ex.analyse(tone)
    e = ex.explain(a, threshold=-2.0, with_components=False)
    assert sorted(e.selected) == list(range(8))
    covered = (ex.bundle.W @ a.H) > 0
    assert covered.float().mean() > 0.5
    n = tone.shape[0]
    expected = resynthesise(a.log_mag * covered, a.phase, CFG, n).numpy()
    np.testing.assert_allclose(e.interpretation, expected, atol=1e-4)
    if bool(covered.all()):
        np.testing.assert_allclose(e.interpretation, tone, atol=1e-4)
        assert np.abs(e.residual).max() < 1e-4


def test_resynthesise_many_shapes(tone):
    s = analyse(tone[:5000], CFG)
    out = resynthesise_many(torch.stack([s.log_mag, 0.5 * s.log_mag]), s.phase, CFG, 5000)
    assert tuple(out.shape) == (2, 5000)
    torch.testing.assert_close(out[0], resynthesise(s.log_mag, s.phase, CFG, 5000))
    empty = resynthesise_many(s.log_mag[:0].reshape(0, *s.log_mag.shape), s.phase, CFG, 5000)
    assert tuple(empty.shape) == (0, 5000)


# --- relevance and selection ------------------------------------------------------------------


def test_relevance_by_hand():
    z = torch.tensor([1.0, 2.0, 0.5, 0.0])
    theta = torch.tensor([0.5, -1.0, 2.0, 7.0])
    # contributions 0.5, -2, 1, 0; max |.| = 2
    torch.testing.assert_close(relevance(z, theta), torch.tensor([0.25, -1.0, 0.5, 0.0]))


def test_relevance_is_normalised():
    g = torch.Generator().manual_seed(0)
    z = torch.rand(20, generator=g)
    theta = torch.randn(20, generator=g)
    r = relevance(z, theta)
    assert float(r.abs().max()) == pytest.approx(1.0)
    assert (r.abs() <= 1.0).all()
    # the sign and order follow the contributions
    assert torch.equal(torch.sign(r), torch.sign(z * theta))
    assert torch.equal(torch.argsort(r), torch.argsort(z * theta))


def test_relevance_of_zero_contributions_is_zero_not_nan():
    for z, theta in ((torch.zeros(6), torch.randn(6)), (torch.rand(6), torch.zeros(6))):
        r = relevance(z, theta)
        assert torch.isfinite(r).all()
        assert torch.count_nonzero(r) == 0


def test_relevance_batched():
    z = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    theta = torch.tensor([1.0, 1.0])
    torch.testing.assert_close(relevance(z, theta), torch.tensor([[0.5, 1.0], [0.0, 0.0]]))


def test_select_by_hand():
    r = torch.tensor([0.2, -1.0, 1.0, 0.5, 0.1, 0.3])
    assert select(r, 0.1) == [2, 3, 5, 0]  # strictly above tau, most relevant first
    assert select(r, 0.3) == [2, 3]
    assert select(r, 1.0) == []
    assert select(r, -2.0) == [2, 3, 5, 0, 4, 1]
    assert select(torch.zeros(4), 0.0) == []


# --- silent input ----------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 1000, 44100])
def test_silent_clip_explains_without_nan(n):
    ex = Explainer(random_bundle(k=10))
    a = ex.analyse(np.zeros(n, np.float32))
    assert np.isfinite(a.probabilities).all() and np.isfinite(a.interpreter_probabilities).all()
    assert a.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert torch.isfinite(a.H).all() and torch.isfinite(a.z).all()
    for tau in (-2.0, 0.0, 0.1):
        e = ex.explain(a, threshold=tau)
        assert np.isfinite(e.relevance).all() and np.abs(e.relevance).max() <= 1.0
        assert e.interpretation.shape == e.residual.shape == (n,)
        assert np.isfinite(e.interpretation).all() and np.isfinite(e.residual).all()
        assert np.abs(e.interpretation).max() == 0.0 and np.abs(e.residual).max() == 0.0
        for k, w in e.components.items():
            assert k in e.selected and w.shape == (n,) and np.abs(w).max() == 0.0


def test_explainer_validates_input_and_target(tone):
    from engine.runtime.errors import AudioError

    ex = Explainer(random_bundle())
    with pytest.raises(AudioError):
        ex.analyse(np.zeros(0, np.float32))
    with pytest.raises(AudioError):
        ex.analyse(np.zeros((2, 100), np.float32))
    bad = tone.copy()
    bad[10] = np.nan
    with pytest.raises(AudioError):
        ex.analyse(bad)
    a = ex.analyse(tone[:4096])
    with pytest.raises(ValueError):
        ex.explain(a, target=3)
    e = ex.explain(a, target=1, threshold=0.0)
    assert e.target == 1
    np.testing.assert_allclose(
        e.relevance, relevance(a.z, ex.bundle.interpreter.class_weights[1].detach()).numpy())
    assert e.selected == select(torch.from_numpy(e.relevance), 0.0)
    assert sorted(e.components) == sorted(e.selected)


# --- properties ------------------------------------------------------------------------------

_SETTINGS = settings(max_examples=30, deadline=None)
_NONNEG = st.floats(0.0, 1e3, allow_nan=False, allow_infinity=False, width=32)


@st.composite
def _problems(draw):
    F = draw(st.integers(1, 12))
    K = draw(st.integers(1, 6))
    T = draw(st.integers(1, 10))
    W = draw(arrays(np.float32, (F, K), elements=st.floats(0.0, 1.0, width=32)))
    H = draw(arrays(np.float32, (K, T), elements=_NONNEG))
    X = draw(arrays(np.float32, (F, T), elements=st.floats(0.0, 20.0, width=32)))
    idx = draw(st.lists(st.integers(0, K - 1), unique=True, max_size=K))
    return torch.from_numpy(W), torch.from_numpy(H), torch.from_numpy(X), idx


@_SETTINGS
@given(_problems())
def test_masks_are_finite_and_bounded(problem):
    W, H, X, idx = problem
    masks = soft_masks(W, H, idx)
    gm = group_mask(W, H, idx)
    assert torch.isfinite(masks).all() and torch.isfinite(gm).all()
    assert (masks >= 0).all() and (masks <= 1 + 1e-5).all()
    assert (gm >= 0).all() and (gm <= 1 + 1e-5).all()
    X_int, X_res = split(X, W, H, idx)
    assert torch.isfinite(X_int).all() and torch.isfinite(X_res).all()
    torch.testing.assert_close(X_int + X_res, X)


@_SETTINGS
@given(arrays(np.float32, st.tuples(st.integers(1, 8), st.just(513), st.integers(1, 6)),
              elements=st.floats(0.0, 15.0, width=32)),
       st.integers(1, 3000))
def test_resynthesis_is_finite(log_mags, n):
    X = torch.from_numpy(log_mags)
    T = X.shape[-1]
    n = min(n, 512 * T)  # a length that could have produced T frames or fewer
    phase = torch.from_numpy(
        np.random.default_rng(n).uniform(-np.pi, np.pi, (513, T)).astype(np.float32))
    out = resynthesise_many(X, phase, CFG, n)
    assert tuple(out.shape) == (X.shape[0], n)
    assert torch.isfinite(out).all()


@_SETTINGS
@given(arrays(np.float32, st.integers(1, 30), elements=st.floats(0.0, 1e6, width=32)),
       st.floats(-1e6, 1e6, width=32), st.floats(-1.0, 1.0))
def test_relevance_is_finite_and_normalised(z, scale, tau):
    zt = torch.from_numpy(z)
    theta = torch.linspace(-1, 1, zt.shape[0]) * scale
    r = relevance(zt, theta)
    assert torch.isfinite(r).all()
    peak = float(r.abs().max())
    assert peak == pytest.approx(1.0) or peak == 0.0
    chosen = select(r, tau)
    assert all(float(r[k]) > tau for k in chosen)
    assert [float(r[k]) for k in chosen] == sorted((float(r[k]) for k in chosen), reverse=True)
    assert len(chosen) == int((r > tau).sum())
