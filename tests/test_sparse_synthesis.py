"""Single-component audio computed only where components are active equals the dense
mask-and-ISTFT of every component."""

from __future__ import annotations

import pytest
import torch

from engine.dsp.audio import load_audio
from engine.dsp.features import FrontEndConfig, analyse
from engine.explanation.masks import apply_mask, resynthesise_many, soft_masks
from engine.explanation.sparse_synthesis import component_waves


@pytest.mark.parametrize("domain", ["log", "linear"])
def test_sparse_component_audio_equals_the_dense_one(esc10_clip, domain):
    cfg = FrontEndConfig()
    wave = load_audio(esc10_clip, cfg.sample_rate)[: cfg.sample_rate * 2 + 123]
    spec = analyse(wave, cfg)
    X = spec.log_mag
    gen = torch.Generator().manual_seed(0)
    W = torch.rand(X.shape[0], 12, generator=gen)
    H = torch.rand(12, X.shape[1], generator=gen)
    H[H < 0.8] = 0  # sparse like a trained interpreter's activations
    H[3] = 0  # and one component silent throughout
    indices = [0, 3, 5, 11]
    dense = resynthesise_many(apply_mask(X, soft_masks(W, H, indices), domain), spec.phase,
                              cfg, len(wave))
    sparse = component_waves(X, spec.phase, W, H, indices, cfg, len(wave), domain)
    assert sparse.shape == dense.shape == (4, len(wave))
    scale = dense.abs().max()
    assert (sparse - dense).abs().max() <= 1e-5 * scale
    assert torch.equal(sparse[1], torch.zeros(len(wave)))


def test_no_component_gives_no_rows():
    cfg = FrontEndConfig()
    X = torch.rand(cfg.n_freqs, 10)
    out = component_waves(X, torch.zeros_like(X), torch.rand(cfg.n_freqs, 3),
                          torch.zeros(3, 10), [], cfg, 4000)
    assert out.shape == (0, 4000)
