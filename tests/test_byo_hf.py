"""Hugging Face audio classifiers (#27 items 3 and 4): small random-config AST and
wav2vec2 models written by ``save_pretrained`` here, an interpreter trained for each on
real clips with ``l2i train all --model hf:FOLDER``, a clip explained, the bundle opened
in the window; and each refusal in one line."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import torch
from conftest import one_error_line as _line
from conftest import without_labels
from window_entry import open_at_start

from engine.bundles.bundle import load_bundle
from engine.explanation.explain import Explainer
from engine.models.taps import LayerTaps
from trainer.cli import main

transformers = pytest.importorskip(
    "transformers", reason="the hf: models need transformers (pip install '.[hf]')")

# the tiny_esc10 fixture's classes, in another order than the data's (relabelled)
CLASSES = ["Sea waves", "Dog bark", "Rain"]
TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
        "intermediate_size": 64}
PSI = ["--hidden", "16", "--adapter-channels", "8", "--device", "cpu"]  # a tiny interpreter
TRAIN = ["--k", "8", "--iterations", "5", "--interpreter-epochs", "1", *PSI]


def _labels() -> dict:
    return {"id2label": dict(enumerate(CLASSES)),
            "label2id": {c: i for i, c in enumerate(CLASSES)}}


def save_ast(folder: Path) -> Path:
    """AST over 32 mel bins, 5.12 s long: a grid of 2 x 50 patches and 2 special tokens."""
    torch.manual_seed(0)
    config = transformers.ASTConfig(**TINY, num_mel_bins=32, max_length=512, **_labels())
    transformers.ASTForAudioClassification(config).save_pretrained(folder)
    transformers.ASTFeatureExtractor(num_mel_bins=32, max_length=512).save_pretrained(folder)
    return folder


def save_wav2vec2(folder: Path) -> Path:
    torch.manual_seed(0)
    config = transformers.Wav2Vec2Config(
        **TINY, conv_dim=(32, 32, 32), conv_stride=(5, 4, 4), conv_kernel=(10, 4, 4),
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
        classifier_proj_size=16, **_labels())
    transformers.Wav2Vec2ForSequenceClassification(config).save_pretrained(folder)
    transformers.Wav2Vec2FeatureExtractor(return_attention_mask=True).save_pretrained(folder)
    return folder


MODELS = {"ast": (save_ast, "model.audio_spectrogram_transformer.encoder.layer.{}:patches"),
          "wav2vec2": (save_wav2vec2, "model.wav2vec2.encoder.layers.{}:tokens")}


def test_ast_patches_are_put_back_on_their_grid_and_cut_to_the_clip(tmp_path):
    from engine.models.hf_classifier import load_hf_folder

    model = load_hf_folder(save_ast(tmp_path / "ast"))
    grid = model.patch_grid
    assert (grid.special, grid.freq, grid.time) == (2, 2, 50)  # (32-16)//10+1, (512-16)//10+1
    layer = "model.audio_spectrogram_transformer.encoder.layer.1"
    wave = torch.randn(2, 2 * 16000) * 0.1
    with LayerTaps(model, [layer, layer + ":patches"]) as taps, torch.no_grad():
        _, (raw, pooled) = taps(wave)
    # 2 s are 198 fbank frames: 20 time patches, the other 30 are padding
    assert model.valid_time_patches == 20
    assert raw.shape == (2, 102, 32) and pooled.shape == (2, 32, 20)
    by_hand = raw[:, 2:].reshape(2, 2, 50, 32).mean(dim=1)[:, :20].transpose(1, 2)
    torch.testing.assert_close(pooled, by_hand)
    # the frequency-major order matters: a time-major reading would differ
    assert not torch.allclose(pooled, raw[:, 2:].reshape(2, 50, 2, 32).mean(dim=2)[:, :20]
                              .transpose(1, 2))


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_train_explain_and_open_a_hugging_face_model(kind, tiny_esc10, cache_dir, tmp_path,
                                                     capsys, qtbot, monkeypatch, esc10_clip):
    save, layer = MODELS[kind]
    folder = save(tmp_path / kind)
    out = tmp_path / f"{kind}.l2i"
    data = ["--data", str(tiny_esc10), "--test-fold", "1", "--cache", str(cache_dir)]
    if kind == "wav2vec2":  # the same clips without their labels: classes are the model's
        data = ["--data", str(without_labels(tiny_esc10, tmp_path / "clips")), "--unlabelled",
                "--test-fold", "1", "--cache", str(cache_dir)]
    if kind == "ast":  # the whole run in one command
        assert main(["train", "all", *data, "--model", f"hf:{folder}", "--out", str(out),
                     *TRAIN]) == 0
    else:  # stage by stage: a dictionary on the model's rate, then the interpreter
        W = tmp_path / "W.safetensors"
        assert main(["train", "dictionary", *data, "--sample-rate", "16000", "--k", "8",
                     "--iterations", "5", "--out", str(W), "--device", "cpu"]) == 0
        assert main(["train", "interpreter", *data, "--model", f"hf:{folder}",
                     "--dictionary", str(W), "--out", str(out), "--epochs", "1",
                     *PSI]) == 0
    bundle = load_bundle(out)  # no code to trust: a config, a feature extractor, tensors
    assert (bundle.manifest["provenance"].get("labels") == "not used") == (kind == "wav2vec2")
    assert bundle.layers == [layer.format(0), layer.format(1)]
    clf = bundle.manifest["classifier"]
    assert clf["architecture"] == "hf" and clf["input"] == "waveform" and "code" not in clf
    assert clf["config"]["model"]["id2label"] == {str(i): c for i, c in enumerate(CLASSES)}
    assert bundle.classes == CLASSES and bundle.frontend.sample_rate == 16000
    # the bundle's model is the folder's: same logits on a real clip
    from engine.dsp.audio import load_audio
    from engine.models.hf_classifier import load_hf_folder

    wave = torch.from_numpy(load_audio(esc10_clip, 16000))[None]
    with torch.no_grad():
        torch.testing.assert_close(bundle.classifier(wave), load_hf_folder(folder)(wave))
    explainer = Explainer(bundle)  # a clip shorter than those it learned on
    try:
        part = wave[0, :3 * 16000].numpy()
        analysis = explainer.analyse(part)
        assert analysis.H.shape[1] == explainer.cfg.n_frames(len(part))
        assert len(explainer.explain(analysis, None, 0.0, with_components=False)
                   .interpretation) == len(part)
    finally:
        explainer.close()
    capsys.readouterr()

    explained = tmp_path / "explained"
    assert main(["explain", str(esc10_clip), "--bundle", str(out), "--out", str(explained),
                 "--device", "cpu"]) == 0
    report = json.loads((explained / "explanation.json").read_text())
    assert {p["label"] for p in report["predictions"]} == set(CLASSES)
    assert (explained / "interpretation.wav").is_file()
    with monkeypatch.context() as m:  # opened where transformers is not installed
        m.setitem(sys.modules, "transformers", None)
        assert main(["explain", str(esc10_clip), "--bundle", str(out), "--out",
                     str(explained), "--device", "cpu"]) == 2
        assert _line(capsys) == (f"l2i: error: {out.name}: the hf: models need the "
                                 "transformers package: pip install 'l2i-desktop[hf]'")

    win, asked = open_at_start(esc10_clip, out, qtbot, monkeypatch)  # no question asked
    try:
        assert asked == []
        assert win.session.explainer.bundle.manifest["classifier"]["architecture"] == "hf"
    finally:
        win.close()


def test_each_refusal_is_one_line_before_any_feature(tiny_esc10, tmp_path, capsys):
    ast = save_ast(tmp_path / "ast")
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    for name in ("config.json", "preprocessor_config.json"):
        (pickled / name).write_text((ast / name).read_text())
    (pickled / "pytorch_model.bin").write_bytes(b"not read")
    remote = tmp_path / "remote"
    remote.mkdir()
    for name in ("model.safetensors", "preprocessor_config.json"):
        (remote / name).write_bytes((ast / name).read_bytes())
    config = json.loads((ast / "config.json").read_text())
    (remote / "config.json").write_text(json.dumps(
        config | {"auto_map": {"AutoModelForAudioClassification": "mine.Model"}}))
    cases = [
        ([f"hf:{pickled}"], "has no model.safetensors (only pytorch_model.bin, a pickle, "
                            "which L2I never loads)"),
        ([f"hf:{remote}"], "the model asks for code of its own (auto_map), which L2I never runs"),
        ([f"hf:{tmp_path / 'absent'}"], "no such folder (download a hub model first"),
        ([f"hf:{ast}", "--weights", "w.pt"], "brings its own weights and input: drop --weights"),
        ([f"hf:{ast}", "--sample-rate", "44100"], "the model's feature extractor reads 16000 Hz"),
        ([f"hf:{ast}", "--classes", "a,b"], "--classes names 2 classes, the model has 3"),
    ]
    cache = tmp_path / "cache"
    for flags, says in cases:
        assert main(["train", "all", "--data", str(tiny_esc10), "--model", *flags, "--out",
                     str(tmp_path / "b.l2i"), "--cache", str(cache), *TRAIN]) == 2
        assert says in _line(capsys), flags
    assert not cache.exists()  # nothing spent


def test_without_transformers_one_line_says_what_to_install(tiny_esc10, tmp_path, capsys,
                                                            monkeypatch):
    ast = save_ast(tmp_path / "ast")
    monkeypatch.setitem(sys.modules, "transformers", None)  # as if not installed
    assert main(["train", "all", "--data", str(tiny_esc10), "--model", f"hf:{ast}", "--out",
                 str(tmp_path / "b.l2i"), *TRAIN]) == 2
    assert _line(capsys) == ("l2i: error: the hf: models need the transformers package: "
                             "pip install 'l2i-desktop[hf]'")


def test_a_manifest_whose_model_asks_for_code_or_reads_log_mel_is_refused():
    from conftest import random_bundle

    from engine.bundles.manifest import validate_manifest
    from engine.runtime.errors import BundleError

    manifest = random_bundle().manifest
    config = {"model": {"model_type": "wav2vec2"},
              "feature_extractor": {"feature_extractor_type": "Wav2Vec2FeatureExtractor"}}
    manifest["classifier"] = {"architecture": "hf", "input": "waveform", "config": config}
    validate_manifest(manifest)
    for change, says in (
            ({"input": "log_mel"}, "an hf classifier reads the waveform"),
            ({"config": config | {"model": {"model_type": "x", "auto_map": {}}}},
             "asks for code of its own (auto_map)"),
            ({"config": {"model": config["model"]}}, "needs exactly 'model' and"),
            ({"config": config | {"feature_extractor": {"feature_extractor_type": "os.system"}}},
             "has no feature_extractor_type")):
        bad = manifest | {"classifier": manifest["classifier"] | change}
        with pytest.raises(BundleError, match=re.escape(says)):
            validate_manifest(bad)
