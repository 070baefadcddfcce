"""Properties of the numeric core on any finite input (hypothesis): sparse NMF, the
front-end, masks and resynthesis never make NaN or Inf; all components together give
back the input; relevance is always normalised. (tests/test_masks.py holds the
properties of the mask functions alone; these go through NMF and the Explainer.)

Examples per test: 20 here; ``L2I_FUZZ_SCALE=N`` multiplies them (scripts/fuzz_long.py).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from conftest import random_bundle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from engine.dsp import nmf
from engine.dsp.audio import MAX_ABS_SAMPLE
from engine.dsp.features import FrontEndConfig, analyse, resynthesise
from engine.explanation.explain import Explainer
from engine.explanation.masks import relevance

CFG = FrontEndConfig()
SCALE = float(os.environ.get("L2I_FUZZ_SCALE", "1"))
_SETTINGS = settings(max_examples=max(1, int(20 * SCALE)), deadline=None,
                     suppress_health_check=[HealthCheck.too_slow,
                                            HealthCheck.function_scoped_fixture])


def _finite(*tensors) -> bool:
    return all(bool(torch.isfinite(torch.as_tensor(t)).all()) for t in tensors)


# any non-negative matrix: zeros, denormals, huge values, constant rows, single frames
_values = st.one_of(st.just(0.0), st.floats(0.0, 1e-30), st.floats(0.0, 1e4),
                    st.just(1e6))


@st.composite
def _nmf_problems(draw):
    F, T = draw(st.integers(1, 24)), draw(st.integers(1, 40))
    X = draw(arrays(np.float32, (F, T), elements=_values))
    cfg = nmf.NMFConfig(k=draw(st.integers(1, 12)), sparsity=draw(st.floats(0.0, 5.0)),
                        beta=draw(st.sampled_from([1.0, 2.0, 1.5])),
                        iterations=draw(st.integers(1, 8)), inner=draw(st.integers(1, 3)),
                        seed=draw(st.integers(0, 3)))
    n_chunks = draw(st.integers(1, min(3, T)))
    return X, cfg, n_chunks


@_SETTINGS
@given(_nmf_problems())
def test_nmf_fit_and_transform_stay_finite(problem):
    X, cfg, n_chunks = problem
    chunks = np.array_split(X, n_chunks, axis=1)
    result = nmf.fit(chunks, cfg)
    W = torch.from_numpy(result.W)
    assert W.shape == (X.shape[0], cfg.k)
    assert _finite(W, result.objective) and (W >= 0).all()
    norms = W.norm(dim=0)  # unit columns; a column that explains nothing dies (silence)
    assert (((norms - 1).abs() < 1e-3) | (norms < 1e-6)).all(), norms
    H = nmf.transform(torch.from_numpy(X), W, cfg.sparsity, cfg.beta, iterations=5)
    assert H.shape == (cfg.k, X.shape[1]) and _finite(H) and (H >= 0).all()


def test_transform_with_a_dictionary_that_died_on_silence_is_zero_not_nan():
    """Training frames of pure silence leave every column of W at zero (found by the
    property above); activations for such a dictionary must be zero, not 0/0."""
    W = torch.from_numpy(nmf.fit([np.zeros((5, 3), np.float32)], nmf.NMFConfig(k=2)).W)
    assert not W.any()
    H = nmf.transform(torch.rand(5, 4), W)
    assert torch.equal(H, torch.zeros(2, 4))


_wave_values = st.one_of(st.floats(-1.0, 1.0, width=32),
                         st.floats(-MAX_ABS_SAMPLE, MAX_ABS_SAMPLE), st.just(0.0))


@_SETTINGS
@given(arrays(np.float32, st.integers(1, 6000), elements=_wave_values))
def test_the_front_end_is_finite_on_any_accepted_signal(wave):
    spec = analyse(wave, CFG)
    T = CFG.n_frames(len(wave))
    assert spec.log_mag.shape == (CFG.n_freqs, T) and spec.log_mel.shape == (CFG.n_mels, T)
    assert _finite(spec.log_mag, spec.phase, spec.log_mel)
    assert (spec.log_mag >= 0).all()
    assert float(spec.log_mel.max() - spec.log_mel.min()) <= CFG.top_db + 1e-3


@pytest.fixture(scope="module")
def explainers():
    out = {d: Explainer(random_bundle(n_classes=3, k=12, seed=2)) for d in ("log", "linear")}
    out["linear"].mask_domain = "linear"
    yield out
    for ex in out.values():
        ex.close()


@_SETTINGS
@given(wave=arrays(np.float32, st.integers(1, 20000), elements=_wave_values),
       domain=st.sampled_from(["log", "linear"]), tau=st.floats(-1.0, 0.99))
def test_the_explainer_is_finite_and_normalised_on_any_signal(explainers, wave, domain, tau):
    ex = explainers[domain]
    a = ex.analyse(wave)
    assert _finite(a.H, a.z, a.probabilities) and (a.H >= 0).all()
    for target in range(len(a.classes)):
        e = ex.explain(a, target, tau)
        peak = float(np.abs(e.relevance).max())
        assert peak == pytest.approx(1.0) or peak == 0.0
        assert all(e.relevance[k] > tau for k in e.selected)
        assert _finite(e.interpretation, e.residual, e.interpretation_log_mag)
        assert e.interpretation.shape == e.residual.shape == wave.shape
        assert all(_finite(w) for w in e.components.values())


@_SETTINGS
@given(wave=arrays(np.float32, st.integers(600, 12000), elements=st.floats(-1, 1, width=32)),
       domain=st.sampled_from(["log", "linear"]))
def test_all_components_together_give_back_the_input(explainers, wave, domain):
    """With H > 0 everywhere the soft masks sum to one: the interpretation of all K
    components is the clip's own resynthesis and the residual is silence."""
    ex = explainers[domain]
    a = ex.analyse(wave)
    a.H = a.H + 1e-3  # every cell explained by some component
    everything = ex.render(a, list(range(ex.bundle.k)))
    itself = resynthesise(a.log_mag, a.phase, ex.cfg, a.n_samples).numpy()
    np.testing.assert_allclose(everything.interpretation, itself, atol=2e-4)
    np.testing.assert_allclose(everything.interpretation, wave, atol=2e-3)
    np.testing.assert_allclose(everything.residual, 0.0, atol=2e-4)
    np.testing.assert_allclose(everything.log_mag, a.log_mag.numpy(), atol=2e-4)
    nothing = ex.render(a, [])
    np.testing.assert_allclose(nothing.residual, everything.interpretation, atol=2e-4)


_BIG = float(np.float32(1e30))


@_SETTINGS
@given(arrays(np.float32, st.integers(1, 64), elements=st.floats(0.0, _BIG, width=32)),
       arrays(np.float32, 64, elements=st.floats(-_BIG, _BIG, width=32)),
       st.floats(1e-3, 1e3))
def test_relevance_is_normalised_and_scale_free(z, theta, scale):
    zt, th = torch.from_numpy(z), torch.from_numpy(theta[: len(z)])
    r = relevance(zt, th)
    assert _finite(r)
    assert float(r.abs().max()) in (0.0, pytest.approx(1.0))
    scaled = relevance(zt * scale, th)  # the same decision, whatever the units of z
    if _finite(zt * scale * th):
        torch.testing.assert_close(scaled, r, atol=1e-5, rtol=1e-4)
