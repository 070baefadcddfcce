"""Transformers (#27 item 3): a model whose blocks give (batch, tokens, channels) is
tapped as maps over time, trained on from the command line and explained on clips of
other lengths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from byo_models import TokenNet, build_token_model

from engine.bundles.bundle import load_bundle
from engine.dsp.audio import load_audio
from engine.dsp.features import FrontEndConfig
from engine.explanation.explain import Explainer
from engine.models.taps import LayerTaps
from engine.runtime.errors import L2IError
from trainer.cli import main
from trainer.model_check import check_classifier

BYO_FILE = Path(__file__).with_name("byo_models.py")


def test_token_layers_are_read_as_maps_over_time():
    model = TokenNet().eval()
    mel = torch.randn(2, 128, 100)
    with LayerTaps(model, ["encoder.layers.1:tokens", "embed"]) as taps, torch.no_grad():
        out, (tokens, conv) = taps(mel)
    assert out.shape == (2, 3)
    assert tokens.shape == (2, 32, 50)  # (batch, channels, tokens): time last
    assert conv.shape == (2, 32, 50)
    with LayerTaps(model, ["encoder.layers.1"]) as taps, torch.no_grad():
        _, (raw,) = taps(mel)
    torch.testing.assert_close(raw.transpose(1, 2), tokens)


def test_the_check_finds_the_blocks_and_marks_them(tiny_esc10):
    model = build_token_model()
    fe = FrontEndConfig()
    wave = load_audio(sorted(tiny_esc10.rglob("*.ogg"))[0], fe.sample_rate)
    classes = ["a", "b", "c"]
    chosen = check_classifier(model, "log_mel", fe, wave, "clip", 5.0, classes, None)
    assert chosen == ["encoder.layers.0:tokens", "encoder.layers.1:tokens"]
    # named without the mark, a token layer is still read as tokens
    assert check_classifier(model, "log_mel", fe, wave, "clip", 5.0, classes,
                            ["encoder.layers.1"]) == ["encoder.layers.1:tokens"]
    # the head's output does not follow time: refused in one line that offers the blocks
    with pytest.raises(L2IError, match=r"layer head gives .*encoder\.layers\.1:tokens "
                                       r"\(216 x 32\)"):
        check_classifier(model, "log_mel", fe, wave, "clip", 5.0, classes, ["head"])


def test_train_on_a_transformer_and_explain_clips_of_other_lengths(
        tiny_esc10, cache_dir, dictionary, tmp_path):
    torch.manual_seed(0)
    weights = tmp_path / "tokens.pt"
    torch.save(build_token_model().state_dict(), weights)
    out = tmp_path / "tokens.l2i"
    assert main(["train", "interpreter", "--data", str(tiny_esc10), "--test-fold", "1",
                 "--model", f"{BYO_FILE}:build_token_model", "--weights", str(weights),
                 "--input", "logmel", "--trust-code", "--dictionary", str(dictionary),
                 "--out", str(out), "--epochs", "1", "--hidden", "16",
                 "--adapter-channels", "8", "--cache", str(cache_dir),
                 "--device", "cpu"]) == 0
    bundle = load_bundle(out, trust_code=True)  # the tap check passes: (32, T) maps
    assert bundle.layers == ["encoder.layers.0:tokens", "encoder.layers.1:tokens"]
    explainer = Explainer(bundle)
    try:
        clip = sorted(tiny_esc10.rglob("1-*"))[0]
        wave = load_audio(clip, explainer.cfg.sample_rate)
        for seconds in (3.0, 7.5):  # shorter and longer than the clips it learned on
            n = int(seconds * explainer.cfg.sample_rate)
            part = np.resize(wave, n)
            analysis = explainer.analyse(part)
            exp = explainer.explain(analysis, None, 0.0, with_components=False)
            assert analysis.H.shape[1] == explainer.cfg.n_frames(n)
            assert len(exp.interpretation) == n
    finally:
        explainer.close()
    # and from the command line, a 7.5-s file
    long_clip = tmp_path / "long.wav"
    sf.write(long_clip, np.resize(wave, int(7.5 * 44100)), 44100)
    assert main(["explain", str(long_clip), "--bundle", str(out), "--out",
                 str(tmp_path / "ex"), "--trust-code", "--device", "cpu"]) == 0
    assert (tmp_path / "ex" / "interpretation.wav").is_file()
