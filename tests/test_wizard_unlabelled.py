"""The wizard on a folder of audio without labels (#27 item 5): the data page reads it
once 'No labels' is ticked, the classifier page offers only trained classifiers and
asks for the model's class names, and the run's evaluation uses no label."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from byo_models import build_model
from conftest import without_labels
from PySide6.QtWidgets import QWizard
from wizard_steps import (
    advance,
    choose_data,
    make_wizard,
    tiny_dictionary_and_interpreter,
    wait_inspected,
    wait_run_ends,
)

from engine.bundles.bundle import load_bundle
from engine.runtime.errors import L2IError

BYO_FILE = Path(__file__).with_name("byo_models.py")
MINE = ["low", "mid", "high"]


def test_the_wizard_trains_an_interpreter_on_clips_without_labels(
        qtbot, request, tmp_path, cache_dir, tiny_esc10):
    flat = without_labels(tiny_esc10, tmp_path / "flat")
    torch.manual_seed(0)
    weights = tmp_path / "wave.pt"
    torch.save(build_model(3).state_dict(), weights)
    w = make_wizard(qtbot, request, tmp_path, cache_dir)
    next_button = w.button(QWizard.WizardButton.NextButton)

    choose_data(qtbot, w, flat)  # no class folders: refused, with the way out
    assert w.data_page.summary is None and not next_button.isEnabled()
    assert w.data_page.error.text().endswith("(or tick 'No labels')")
    w.data_page.unlabelled.setChecked(True)
    qtbot.waitUntil(lambda: w.data_page.summary is not None, timeout=60_000)
    s = w.data_page.summary
    assert (s.layout, s.clips, s.classes) == ("unlabelled", 12, [])
    assert "no labels: 12 clips" in w.data_page.status.text()
    assert next_button.isEnabled()
    advance(qtbot, w)

    cp = w.classifier_page
    assert not cp.kinds.button(0).isEnabled() and cp.kind == "bundle"
    cp.set_kind("custom")
    cp.code_file.setText(str(BYO_FILE))
    cp.weights.setText(str(weights))
    cp.input_kind.setCurrentIndex(cp.input_kind.findData("waveform"))
    cp.trust.setChecked(True)
    assert cp.class_names.toPlainText() == ""
    with pytest.raises(L2IError, match="the data has no labels: write the model's class"):
        cp.choice()
    cp.class_names.setPlainText("\n".join(MINE))
    cp.inspect()
    wait_inspected(qtbot, w)
    assert cp.inspection.top_class in MINE
    advance(qtbot, w)
    tiny_dictionary_and_interpreter(w, epochs=1)
    advance(qtbot, w)
    advance(qtbot, w)
    assert wait_run_ends(qtbot, w) == "done", w.run_page.message.text()
    b = load_bundle(w.run_page.result.bundle_path, trust_code=True)
    assert b.classes == MINE
    assert b.manifest["provenance"]["labels"] == "not used"
    assert b.manifest["metrics"]["labels"] == "not used"
    assert "classifier" not in b.manifest["metrics"]
    advance(qtbot, w)
    table = w.results_page.table
    rows = {table.item(i, 0).text(): table.item(i, 1).text() for i in range(table.rowCount())}
    assert rows["labels"] == "not used: scored against the classifier's decisions"
    assert not any(name.startswith("classifier") for name in rows)
