"""The inverse STFT and the linear-mask rendering that make an explanation cheap give the
same signals as the generic paths they replace."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from conftest import random_bundle

from engine.dsp.features import FrontEndConfig, _window, istft, resynthesise, stft
from engine.explanation.explain import Explainer
from engine.explanation.masks import split
from engine.explanation.sparse_synthesis import component_waves


def _torch_istft(spec: torch.Tensor, cfg: FrontEndConfig, length: int) -> torch.Tensor:
    padded = max((spec.shape[-1] - 1) * cfg.hop_length, length)
    return torch.istft(spec, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
                       window=_window(cfg.n_fft, "cpu"), center=True, length=padded)[..., :length]


@pytest.mark.parametrize("hop", [512, 256, 300])  # 300 does not divide 1024: torch's path
@pytest.mark.parametrize("n", [1, 511, 1000, 44_100, 3 * 44_100 + 17])
def test_istft_equals_torch_istft(hop, n):
    cfg = FrontEndConfig(hop_length=hop)
    g = torch.Generator().manual_seed(n)
    wave = torch.randn(2, n, generator=g)
    spec = stft(wave, cfg) * torch.rand(2, cfg.n_freqs, cfg.n_frames(n), generator=g)
    ours = istft(spec, cfg, n)
    assert ours.shape == (2, n)
    torch.testing.assert_close(ours, _torch_istft(spec, cfg, n), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(istft(stft(wave, cfg), cfg, n), wave, atol=1e-5, rtol=1e-4)


# torch says so itself when asked for more samples than the frames hold: that is the case
@pytest.mark.filterwarnings("ignore:The length of signal is shorter than the length parameter")
def test_istft_pads_with_zeros_past_the_frames():
    cfg = FrontEndConfig()
    spec = stft(torch.randn(2048), cfg)
    longer = istft(spec, cfg, 2048 + 3 * cfg.n_fft)
    torch.testing.assert_close(longer, _torch_istft(spec, cfg, 2048 + 3 * cfg.n_fft))
    assert float(longer[-cfg.n_fft:].abs().max()) == 0.0


@pytest.fixture(scope="module")
def linear_explainer():
    bundle = random_bundle(k=10, seed=3)
    cfg = dataclasses.replace(bundle.interpreter.config, mask_domain="linear")
    bundle.interpreter.config = cfg
    with Explainer(bundle) as ex:
        yield ex


def test_linear_rendering_equals_the_generic_masks_and_inverse_stft(linear_explainer,
                                                                     esc10_clip):
    from engine.dsp.audio import load_audio
    ex = linear_explainer
    wave = load_audio(esc10_clip, ex.cfg.sample_rate)[: 2 * ex.cfg.sample_rate + 77]
    a = ex.analyse(wave)
    H = a.H.clone()
    H[H < float(H.quantile(0.6))] = 0  # sparse, like a trained interpreter's
    a.H = H
    for indices in ([], [0], [2, 7, 4], list(range(10))):
        r = ex.render(a, indices)
        X_int, X_res = split(a.log_mag, ex.bundle.W, a.H, indices, "linear")
        pair = resynthesise(torch.stack([X_int, X_res]), a.phase, ex.cfg, a.n_samples)
        scale = float(np.abs(wave).max())
        np.testing.assert_allclose(r.interpretation, pair[0].numpy(), atol=1e-5 * scale)
        np.testing.assert_allclose(r.residual, pair[1].numpy(), atol=1e-5 * scale)
        np.testing.assert_allclose(r.log_mag, X_int.numpy(), atol=1e-4)
    comps = ex.component_audio(a, [1, 5])
    plain = component_waves(a.log_mag, a.phase, ex.bundle.W, a.H, [1, 5], ex.cfg,
                            a.n_samples, "linear")
    for row, k in enumerate([1, 5]):
        np.testing.assert_allclose(comps[k], plain[row].numpy(), atol=1e-5 * scale)


def test_linear_parts_are_computed_once_per_clip(linear_explainer, tone):
    ex = linear_explainer
    a = ex.analyse(tone)
    ex.render(a, [0, 1])
    parts = a._memo["linear"]
    ex.explain(a, threshold=-2.0)
    ex.render(a, [3])
    assert a._memo["linear"] is parts
    assert "linear" not in ex.analyse(tone)._memo  # a new analysis starts afresh
