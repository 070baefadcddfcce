"""The wizard with a classifier the user brings (a model defined in tests/byo_models.py,
as a Python file and as an entry point) and with an existing bundle's classifier."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from byo_models import build_mel_model, build_model
from PySide6.QtWidgets import QWizard
from wizard_steps import (
    TIMEOUT,
    advance,
    choose_data,
    inspect_entry_point,
    make_wizard,
    tiny_dictionary_and_interpreter,
    wait_inspected,
    wait_run_ends,
)

from engine.bundles.bundle import load_bundle
from engine.models.user_classifier import UntrustedCodeError

BYO_FILE = Path(__file__).with_name("byo_models.py")


def _next_enabled(w) -> bool:
    return w.button(QWizard.WizardButton.NextButton).isEnabled()


def test_bring_your_own_python_file_end_to_end(qtbot, request, tmp_path, cache_dir,
                                                tiny_esc10, monkeypatch):
    torch.manual_seed(0)
    weights = tmp_path / "wave.pt"
    torch.save(build_model(3).state_dict(), weights)
    w = make_wizard(qtbot, request, tmp_path, cache_dir)
    choose_data(qtbot, w, tiny_esc10)
    advance(qtbot, w)
    cp = w.classifier_page
    cp.set_kind("custom")
    warning = cp.findChild(type(cp.status), "code_warning")
    assert warning.isVisible() and "runs code" in warning.text()
    assert cp.trust.isVisible() and not cp.trust.isChecked()
    cp.code_file.setText(str(BYO_FILE))
    cp.function.setText("build_model")
    cp.weights.setText(str(weights))
    cp.input_kind.setCurrentIndex(cp.input_kind.findData("waveform"))
    # the data's class names are filled in, in the data's order
    assert cp.class_names.toPlainText().splitlines() == w.data_page.summary.classes
    cp.inspect()
    assert "tick 'I trust this code'" in cp.status.text()  # nothing ran
    assert cp.inspection is None and not _next_enabled(w)
    cp.trust.setChecked(True)
    cp.inspect()
    wait_inspected(qtbot, w)
    shapes = dict(cp.inspection.layers)
    assert shapes["filters"] == (16, 431) and shapes["blocks.2"] == (16, 2, 53)
    assert cp.tapped() == ["blocks.0", "blocks.1", "blocks.2"]
    assert cp.inspection.top_class in w.data_page.summary.classes
    advance(qtbot, w)
    tiny_dictionary_and_interpreter(w)
    advance(qtbot, w)
    advance(qtbot, w)
    assert wait_run_ends(qtbot, w) == "done", w.run_page.message.text()
    assert w.run_page.notes["classifier"].text().startswith("done")
    path = w.run_page.result.bundle_path
    with pytest.raises(UntrustedCodeError):
        load_bundle(path)
    b = load_bundle(path, trust_code=True)
    assert b.classifier_input == "waveform" and b.layers == cp.tapped()
    assert b.classifier_source == BYO_FILE.read_text()
    advance(qtbot, w)
    assert w.results_page.table.rowCount() > 5
    _main_window_asks_before_running_code(qtbot, tmp_path, path, monkeypatch)


def _main_window_asks_before_running_code(qtbot, tmp_path, bundle: Path, monkeypatch):
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QMessageBox

    from l2i_desktop.main_window import MainWindow
    from l2i_desktop.settings import Settings

    win = MainWindow(None, Settings(QSettings(str(tmp_path / "s.ini"),
                                              QSettings.Format.IniFormat)))
    qtbot.addWidget(win)
    asked: list[str] = []

    def answer(reply):
        def question(_parent, _title, text, *args, **kwargs):
            asked.append(text)
            return reply
        return question
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
    win.open_bundle_asking(bundle)
    assert len(asked) == 1 and "classifier.py" in asked[0] and "trust" in asked[0]
    assert win.session.explainer is None  # nothing was asked of the engine
    assert "loading bundle" not in win.statusBar().currentMessage()
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    win.open_bundle_asking(bundle)
    qtbot.waitUntil(lambda: win.session.explainer is not None, timeout=TIMEOUT)
    assert win.session.explainer.bundle.classifier_input == "waveform" and len(asked) == 2
    win.close()


def test_bring_your_own_entry_point_lists_its_blocks(qtbot, request, tmp_path, cache_dir,
                                                     tiny_esc10):
    from safetensors.torch import save_file

    weights = tmp_path / "mel.safetensors"
    save_file(build_mel_model().state_dict(), str(weights))
    w = make_wizard(qtbot, request, tmp_path, cache_dir)
    choose_data(qtbot, w, tiny_esc10)
    advance(qtbot, w)
    cp = inspect_entry_point(qtbot, w, "byo_models:build_mel_model", weights, "log_mel")
    assert cp.tapped() == ["layer2", "layer3", "layer4"]
    assert dict(cp.inspection.layers)["layer4"] == (16, 8, 27)
    plan_choice = cp.choice()
    assert plan_choice.entry_point == "byo_models:build_mel_model"
    assert plan_choice.frontend["n_mels"] == 128 and plan_choice.trust_code
    cp.code_file.setText(str(BYO_FILE))  # both a file and an entry point: refused
    cp.inspect()
    assert "either a Python file or an entry point" in cp.status.text()


def test_an_existing_bundles_classifier(qtbot, request, tmp_path, cache_dir, tiny_esc10,
                                        tiny_bundle):
    w = make_wizard(qtbot, request, tmp_path, cache_dir)
    choose_data(qtbot, w, tiny_esc10)
    advance(qtbot, w)
    cp = w.classifier_page
    cp.set_kind("bundle")
    assert cp.custom_box.isHidden() and not cp.bundle_box.isHidden()
    cp.bundle.setText(str(tiny_bundle))
    cp.inspect()
    wait_inspected(qtbot, w)
    assert cp.tapped() == ["blocks.1", "blocks.2", "blocks.3"]
    advance(qtbot, w)
    tiny_dictionary_and_interpreter(w)
    advance(qtbot, w)
    advance(qtbot, w)
    assert wait_run_ends(qtbot, w) == "done", w.run_page.message.text()
    new, old = load_bundle(w.run_page.result.bundle_path), load_bundle(tiny_bundle)
    for k, v in old.classifier.state_dict().items():  # the same classifier, not retrained
        assert torch.equal(new.classifier.state_dict()[k], v), k
