"""The wizard with the models of #27: a Hugging Face folder (random-config wav2vec2 and
AST written by save_pretrained here) chosen as the classifier, and a transformer brought
as code; the layer table marks token sequences and patch grids, greys out what cannot be
tapped, ticks the suggestions, and the plan records the marked names."""

from __future__ import annotations

import sys
import time

import pytest
import torch
from byo_models import build_token_model
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard
from test_byo_hf import CLASSES, save_ast, save_wav2vec2
from wizard_steps import (
    advance,
    choose_data,
    inspect_entry_point,
    make_wizard,
    tiny_dictionary_and_interpreter,
    wait_inspected,
    wait_run_ends,
)

from engine.bundles.bundle import load_bundle
from engine.models.hf_classifier import INSTALL
from engine.runtime.errors import L2IError

W2V_BLOCKS = ["model.wav2vec2.encoder.layers.0:tokens", "model.wav2vec2.encoder.layers.1:tokens"]
AST_BLOCKS = ["model.audio_spectrogram_transformer.encoder.layer.0:patches",
              "model.audio_spectrogram_transformer.encoder.layer.1:patches"]


def _rows(cp) -> dict[str, tuple[str, bool, str]]:
    """Each listed layer (as shown): its "read as" text, whether it can be ticked, tooltip."""
    t = cp.layers
    return {t.item(i, 0).text(): (t.item(i, 2).text(),
                                  bool(t.item(i, 0).flags() & Qt.ItemFlag.ItemIsEnabled),
                                  t.item(i, 0).toolTip()) for i in range(t.rowCount())}


def _hf_page(qtbot, request, tmp_path, cache_dir, data, folder):
    w = make_wizard(qtbot, request, tmp_path, cache_dir)
    choose_data(qtbot, w, data)
    advance(qtbot, w)
    cp = w.classifier_page
    cp.set_kind("hf")
    cp.hf_box.folder.setText(str(folder))
    return w, cp


def test_a_wav2vec2_folder_marks_its_token_layers_and_trains(qtbot, request, tmp_path,
                                                             cache_dir, tiny_esc10):
    folder = save_wav2vec2(tmp_path / "w2v")
    w, cp = _hf_page(qtbot, request, tmp_path, cache_dir, tiny_esc10, folder)
    assert not cp.hf_box.isHidden() and cp.custom_box.isHidden()
    assert cp.trust.isHidden()  # a folder of JSON and tensors runs no code of its own
    about = cp.hf_box.about.text()
    assert f"3 classes from its id2label: {', '.join(CLASSES)}" in about
    assert "16000 Hz" in about and "Wav2Vec2FeatureExtractor" in about
    cp.inspect()
    wait_inspected(qtbot, w)
    rows = _rows(cp)
    assert cp.inspection.seconds == (5.0, 10.0)  # measured at two lengths
    for name in W2V_BLOCKS:
        read_as, usable, tip = rows[name]
        assert usable and read_as.startswith("token sequence")
        assert f"Tapped as {name}" in tip and "followed the clip's length" in tip
    assert cp.tapped() == W2V_BLOCKS  # the suggestion: its blocks, ticked
    said = cp.status.text()
    assert "transformer token sequences (:tokens)" in said and ":patches" not in said
    assert cp.layers.item(list(rows).index(W2V_BLOCKS[0]), 0).font().bold()
    # its convolutional front end gives channels x time maps, read as they are
    conv = rows["model.wav2vec2.feature_extractor.conv_layers.2"]
    assert conv[:2] == ("time map", True)
    # the head gives one vector per clip; the wrapped model an output object: greyed
    assert rows["model.classifier"][:2] == (
        "not usable: gives a vector of 3 per clip: nothing over time", False)
    assert rows["model"][:2] == ("not usable: gives no tensor", False)
    cp.set_tapped(["model.classifier", "model.wav2vec2.encoder.layers.1"])
    assert cp.tapped() == [W2V_BLOCKS[1]]  # named without its mark, still read as tokens
    cp.show_unusable.setChecked(False)
    hidden = {cp.layers.item(i, 0).text() for i in range(cp.layers.rowCount())
              if cp.layers.isRowHidden(i)}
    assert "model.classifier" in hidden and not hidden & set(W2V_BLOCKS)
    cp.set_tapped(W2V_BLOCKS)

    advance(qtbot, w)
    tiny_dictionary_and_interpreter(w, epochs=1)
    plan = w.plan()
    assert plan.layers == W2V_BLOCKS
    c = plan.classifier
    assert (c.kind, c.hf_folder, c.input, c.classes) == ("hf", str(folder), "waveform",
                                                         CLASSES)
    assert c.frontend["sample_rate"] == 16000 and not c.trust_code
    advance(qtbot, w)
    advance(qtbot, w)
    started = time.monotonic()
    assert wait_run_ends(qtbot, w) == "done", w.run_page.message.text()
    print(f"wizard run with wav2vec2: {time.monotonic() - started:.1f} s")
    b = load_bundle(w.run_page.result.bundle_path)  # no code: no trust needed
    assert b.layers == W2V_BLOCKS and b.classes == CLASSES
    assert b.manifest["classifier"]["architecture"] == "hf"


def test_an_ast_folder_marks_its_patch_grids(qtbot, request, tmp_path, cache_dir,
                                             tiny_esc10):
    w, cp = _hf_page(qtbot, request, tmp_path, cache_dir, tiny_esc10,
                     save_ast(tmp_path / "ast"))
    assert "audio-spectrogram-transformer model" in cp.hf_box.about.text()
    cp.inspect()
    wait_inspected(qtbot, w)
    rows = _rows(cp)
    for name in AST_BLOCKS:
        read_as, usable, tip = rows[name]
        assert usable and read_as.startswith("AST patch grid")
        assert "averaged over frequency" in tip
    assert cp.tapped() == AST_BLOCKS
    assert w.button(QWizard.WizardButton.NextButton).isEnabled()


def test_a_transformer_brought_as_code_marks_its_encoder_layers(qtbot, request, tmp_path,
                                                                cache_dir, tiny_esc10):
    weights = tmp_path / "tokens.pt"
    torch.save(build_token_model().state_dict(), weights)
    w = make_wizard(qtbot, request, tmp_path, cache_dir)
    choose_data(qtbot, w, tiny_esc10)
    advance(qtbot, w)
    cp = inspect_entry_point(qtbot, w, "byo_models:build_token_model", weights, "log_mel")
    rows = _rows(cp)
    blocks = ["encoder.layers.0:tokens", "encoder.layers.1:tokens"]
    assert cp.tapped() == blocks
    assert all(rows[b][:2] == ("token sequence \u2192 over time", True) for b in blocks)
    assert rows["embed"][:2] == ("time map", True)
    assert rows["head"][:2] == ("not usable: gives a vector of 3 per clip: nothing over "
                                "time", False)
    assert rows["head"][2].startswith("head cannot be tapped: it gives a vector")
    cp.set_tapped(["head"])  # greyed rows cannot be ticked: nothing tapped, no Next
    assert cp.tapped() == [] and not w.button(QWizard.WizardButton.NextButton).isEnabled()
    cp.set_tapped(blocks[1:])
    advance(qtbot, w)
    assert w.plan().layers == blocks[1:]


def test_the_folder_says_what_stops_it(qtbot, request, tmp_path, cache_dir, tiny_esc10,
                                       monkeypatch):
    folder = save_wav2vec2(tmp_path / "w2v")
    config = folder / "config.json"
    w, cp = _hf_page(qtbot, request, tmp_path, cache_dir, tiny_esc10, tmp_path / "absent")
    assert "no such folder" in cp.hf_box.about.text()
    # other classes than the data's labels: the way out is to use the clips without them
    config.write_text(config.read_text().replace('"Rain"', '"Thunder"'))
    cp.hf_box.folder.setText(str(folder))
    with pytest.raises(L2IError, match="tick 'No labels' on the data page"):
        cp.choice()
    monkeypatch.setitem(sys.modules, "transformers", None)  # as if not installed
    cp.set_kind("builtin")
    cp.set_kind("hf")
    assert cp.hf_box.about.text().endswith(f"{INSTALL}</span>")
    cp.inspect()
    assert INSTALL in cp.status.text() and cp.inspection is None
    assert not w.button(QWizard.WizardButton.NextButton).isEnabled()
