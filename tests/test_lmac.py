"""L-MAC (engine/explanation/lmac.py, engine/models/lmac_decoder.py): the mask, the
resynthesis, the loss on real clips, and the decoder in bundles."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch
from conftest import random_bundle
from safetensors.torch import load as load_st
from safetensors.torch import save as save_st

from engine.bundles.bundle import load_bundle, save_bundle
from engine.dsp.audio import load_audio
from engine.dsp.features import FrontEndConfig, stft
from engine.explanation.lmac import LMACExplainer, LMACWeights, guided_term, masked_waves
from engine.models.lmac_decoder import LMACConfig, LMACDecoder, mel_positions
from engine.models.taps import LayerTaps
from engine.runtime.errors import BundleError
from trainer.features_cache import fix_length
from trainer.train_lmac import LMACTrainConfig, Mixer, train_lmac


def _with_decoder(seed: int = 0, **cfg):
    b = random_bundle(seed=seed)
    torch.manual_seed(seed)
    dec = LMACDecoder(LMACConfig(map_shapes=b.interpreter.config.map_shapes, **cfg),
                      b.frontend).eval()
    return b.with_lmac(dec, b.layers, {"note": "test"})


def test_the_mask_covers_the_stft_and_lies_in_zero_one(tone):
    b = _with_decoder()
    wave = np.concatenate([tone, tone[:5000]])  # not a whole number of hops
    with LMACExplainer(b) as ex:
        res = ex.explain(wave)
    frames = b.frontend.n_frames(len(wave))
    assert res.mask.shape == (b.frontend.n_freqs, frames)
    assert res.mask.min() >= 0 and res.mask.max() <= 1
    assert res.mask.std() > 0  # an untrained decoder still varies over the grid
    assert res.interpretation.shape == res.residual.shape == wave.shape
    # the two halves add up to the clip (the inverse STFT is linear)
    np.testing.assert_allclose(res.interpretation + res.residual, wave, atol=1e-4)
    # and a raw decoder call has the batch's shape, its logits unbounded
    with LayerTaps(b.classifier, b.layers) as taps, torch.no_grad():
        _, maps = taps(torch.randn(3, b.frontend.n_mels, 40))
        M = b.lmac(maps, 40)
    assert M.shape == (3, b.frontend.n_freqs, 40)
    assert 0 <= float(M.min()) and float(M.max()) <= 1


def test_linear_bins_follow_the_mel_cells():
    pos = mel_positions(FrontEndConfig(), 32)
    assert pos[0] == 0 and pos[-1] == pytest.approx(31)
    assert bool((pos[1:] >= pos[:-1]).all())  # monotone in frequency
    # half the cells cover the first ~1/9 of the linear bins: the mel scale, not linear
    assert int((pos < 16).sum()) < 513 // 4


def test_ones_give_the_input_back_and_zeros_silence(esc10_clip):
    cfg = FrontEndConfig()
    wave = load_audio(esc10_clip, cfg.sample_rate)[: 3 * cfg.sample_rate + 77]
    x = torch.from_numpy(wave)
    S = stft(x, cfg)
    ins, outs = masked_waves(S, torch.ones(S.shape), cfg, len(wave))
    assert float((ins - x).abs().max()) < 1e-5 * max(1.0, float(x.abs().max()))
    assert float(outs.abs().max()) == 0.0  # (1 - 1) S: exact silence
    ins, outs = masked_waves(S, torch.zeros(S.shape), cfg, len(wave))
    assert float(ins.abs().max()) == 0.0
    assert float((outs - x).abs().max()) < 1e-5 * max(1.0, float(x.abs().max()))


def test_masked_audio_carries_the_gradient_to_the_mask(tone):
    cfg = FrontEndConfig()
    S = stft(torch.from_numpy(tone[:8000]), cfg)
    M = torch.full(S.shape, 0.5, requires_grad=True)
    ins, _ = masked_waves(S, M, cfg, 8000)
    ins.square().sum().backward()
    assert M.grad is not None and float(M.grad.abs().sum()) > 0


def test_silent_clips_never_divide_by_zero():
    waves = np.zeros((4, 2000), dtype=np.float32)
    waves[2:] = np.random.default_rng(0).standard_normal((2, 2000)).astype(np.float32)
    mixed, clean = Mixer(waves, np.array([0, 1, 0, 1]), 1.0)(np.arange(4),
                                                             np.random.default_rng(0))
    assert np.isfinite(mixed).all() and np.isfinite(clean).all()
    assert not mixed[:2].any()  # silence stays silence (no partner scaled to it)
    # every audible clip was mixed with the other audible one, at its own energy
    assert not np.allclose(mixed[2], waves[2])
    np.testing.assert_allclose(np.linalg.norm(mixed[2:], axis=1),
                               np.linalg.norm(waves[2:], axis=1), rtol=1e-4)
    M = torch.full((2, 513, 10), 0.5)
    bce, n = guided_term(M, torch.zeros(2, 513, 10), torch.zeros(2, 513, 10), LMACWeights())
    assert n == 0 and float(bce) == 0.0


def test_the_loss_falls_on_a_tiny_real_set(tiny_esc10, tiny_bundle):
    b = load_bundle(tiny_bundle)
    cfg = b.frontend
    paths = sorted(p for p in tiny_esc10.rglob("*") if p.is_file())
    classes = sorted({p.parent.name for p in paths})
    n = 2 * cfg.sample_rate  # 2 s: the test's time, not the method's
    waves = np.stack([fix_length(load_audio(p, cfg.sample_rate), n) for p in paths])
    labels = np.array([classes.index(p.parent.name) for p in paths])
    train = LMACTrainConfig(epochs=6, batch_size=4, lr=2e-3, val_fraction=0.25, hidden=32,
                            adapter_channels=16)
    _, info = train_lmac(b.classifier, "log_mel", cfg, b.layers, waves, labels, train)
    h = info["history"]
    assert len(h) == 6 and info["validation_clips"] >= 3
    first, last = h[0], h[-1]
    assert last["loss"] < first["loss"], h
    assert min(r["val_loss"] for r in h[1:]) < first["val_loss"], h


def test_a_bundle_with_a_decoder_round_trips(tmp_path, tone):
    b = _with_decoder(hidden=64)
    with LMACExplainer(b) as ex:
        before = ex.explain(tone).mask
    for path in (tmp_path / "b.l2i", tmp_path / "folder"):
        save_bundle(b, path)
        back = load_bundle(path)
        assert back.lmac is not None and back.lmac_layers == b.layers
        assert back.manifest["lmac"]["config"]["hidden"] == 64
        assert back.manifest["lmac"]["provenance"] == {"note": "test"}
        with LMACExplainer(back) as ex:
            np.testing.assert_allclose(ex.explain(tone).mask, before, atol=1e-6)
    plain = random_bundle()
    save_bundle(plain, tmp_path / "plain.l2i")
    assert load_bundle(tmp_path / "plain.l2i").lmac is None
    with pytest.raises(BundleError, match="no L-MAC decoder"):
        LMACExplainer(load_bundle(tmp_path / "plain.l2i"))


def _rewrite(path, manifest=None, tensors=None):
    with zipfile.ZipFile(path) as zf:
        m = json.loads(zf.read("manifest.json"))
        w = load_st(zf.read("weights.safetensors"))
    m = manifest(m) if manifest else m
    w = tensors(w) if tensors else w
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("manifest.json", json.dumps(m))
        zf.writestr("weights.safetensors", save_st(w))


def test_a_decoder_of_the_wrong_shape_is_refused(tmp_path):
    path = tmp_path / "b.l2i"
    save_bundle(_with_decoder(), path)

    def wider(m):
        m["lmac"]["config"]["hidden"] = 256
        return m
    _rewrite(path, manifest=wider)
    with pytest.raises(BundleError, match="L-MAC decoder tensor .* has shape"):
        load_bundle(path)

    save_bundle(_with_decoder(), path)
    _rewrite(path, tensors=lambda w: {k: v for k, v in w.items() if k != "lmac.out.bias"})
    with pytest.raises(BundleError, match="L-MAC decoder weights do not match"):
        load_bundle(path)

    save_bundle(_with_decoder(), path)

    def other_layers(m):
        m["lmac"]["layers"] = ["blocks.0", "blocks.1", "blocks.2"]
        return m
    _rewrite(path, manifest=other_layers)
    with pytest.raises(BundleError, match="the L-MAC decoder expects"):
        load_bundle(path)

    save_bundle(_with_decoder(), path)
    _rewrite(path, manifest=lambda m: {k: v for k, v in m.items() if k != "lmac"})
    with pytest.raises(BundleError, match="does not declare"):
        load_bundle(path)

    save_bundle(_with_decoder(), path)

    def broken(m):
        m["lmac"]["config"]["up_stages"] = "two"
        return m
    _rewrite(path, manifest=broken)
    with pytest.raises(BundleError, match="lmac.config"):
        load_bundle(path)


def test_guided_term_pulls_toward_the_clean_spectrogram_where_it_dominates():
    rng = np.random.default_rng(0)
    clean = torch.from_numpy(rng.gamma(1.0, 1.0, (2, 64, 20)).astype(np.float32))
    clean[:, 32:] *= 0.01  # a loud low half, a quiet high half
    unrelated = torch.from_numpy(rng.gamma(1.0, 1.0, (2, 64, 20)).astype(np.float32))
    w = LMACWeights(guided=4.0)
    target = (torch.log1p(clean) / torch.log1p(clean).amax(dim=(-2, -1), keepdim=True)
              > w.guide_threshold).float()
    assert 0 < float(target.mean()) < 1
    right = target.clamp(0.05, 0.95)
    wrong = 1 - right
    # the mixture is the clean clip itself for both: both guided, and the right mask wins
    good, n = guided_term(right, clean, clean, w)
    bad, _ = guided_term(wrong, clean, clean, w)
    assert n == 2 and float(good) < float(bad)
    # a mixture unrelated to the clean clip (correlation < 0.6) is not guided
    _, n = guided_term(right, clean, unrelated, w)
    assert n == 0


def test_a_waveform_classifier_with_a_map_without_frequency_is_masked_too():
    """A classifier that reads audio, tapped at a (C, T) layer and a (C, F', T') one."""
    from byo_models import WaveNet

    torch.manual_seed(0)
    clf = WaveNet(3).eval()
    cfg = FrontEndConfig()
    rng = np.random.default_rng(0)
    waves = (0.1 * rng.standard_normal((9, 8192))).astype(np.float32)
    train = LMACTrainConfig(epochs=1, batch_size=4, hidden=16, adapter_channels=8,
                            val_fraction=0.34)
    dec, info = train_lmac(clf, "waveform", cfg, ["filters", "blocks.2"], waves,
                           np.arange(9) % 3, train)
    assert [len(s) for s in dec.config.map_shapes] == [2, 3]
    assert np.isfinite(info["history"][0]["loss"])
    with LayerTaps(clf, ["filters", "blocks.2"]) as taps, torch.no_grad():
        _, maps = taps(torch.from_numpy(waves[:2]))
        M = dec(maps, cfg.n_frames(8192))
    assert M.shape == (2, cfg.n_freqs, cfg.n_frames(8192))
    # one mask per clip over every linear bin and frame, varying over frequency
    assert float(M.std(dim=1).mean()) > 0


def test_a_recording_too_long_for_one_piece_is_refused_before_any_work():
    from engine.runtime.errors import L2IError

    b = _with_decoder()
    with LMACExplainer(b) as ex, pytest.raises(L2IError, match="clips of up to 95 s"):
        ex.explain(np.zeros(100 * b.frontend.sample_rate, np.float32))
