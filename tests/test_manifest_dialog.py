"""The bundle manifest dialog: a real trained bundle (with provenance and metrics) and an
untrained one (with neither)."""

from __future__ import annotations

import copy
import json

import pytest
from conftest import random_bundle
from PySide6.QtWidgets import QDialog, QPlainTextEdit, QPushButton, QTextBrowser

from engine.bundles.bundle import load_bundle
from l2i_desktop.manifest_dialog import ManifestDialog


def _value_after(text: str, label: str) -> str:
    """The summary's tables read as 'label' then 'value' lines in plain text."""
    lines = [line.strip() for line in text.splitlines()]
    assert label in lines, f"{label!r} not shown"
    return lines[lines.index(label) + 1]


@pytest.fixture
def trained(tiny_bundle):
    return load_bundle(tiny_bundle)


def _dialog(qtbot, bundle) -> ManifestDialog:
    dlg = ManifestDialog(bundle)
    qtbot.addWidget(dlg)
    return dlg


def test_a_trained_bundle_shows_classes_k_provenance_and_metrics(qtbot, trained):
    m = trained.manifest
    dlg = _dialog(qtbot, trained)
    assert dlg.objectName() == "manifest_dialog"
    summary = dlg.findChild(QTextBrowser, "manifest_summary")
    assert summary is dlg.summary
    text = summary.toPlainText()
    lines = [line.strip() for line in text.splitlines()]

    assert trained.name in dlg.windowTitle() and lines[0] == trained.name
    assert _value_after(text, "K (components)") == str(trained.k) == "16"
    assert _value_after(text, "classes") == str(len(trained.classes)) == "3"
    for c in trained.classes:
        assert c in lines
    fe = m["frontend"]
    assert _value_after(text, "sample rate (Hz)") == str(fe["sample_rate"])
    assert _value_after(text, "STFT size (n_fft)") == str(fe["n_fft"])
    assert _value_after(text, "hop length") == str(fe["hop_length"])
    assert _value_after(text, "mel bands") == str(fe["n_mels"])

    prov = m["provenance"]
    assert _value_after(text, "training data") == prov["data"]
    assert _value_after(text, "test fold") == str(prov["test_fold"]) == "1"
    assert _value_after(text, "created") == prov["created"]
    assert _value_after(text, "clips") == str(prov["clips"])
    assert _value_after(text, "clips evaluated") == str(m["metrics"]["clips"])

    metrics = m["metrics"]
    assert metrics, "the trainer's 'all' writes evaluation metrics into the bundle"
    acc = metrics["classifier"]["accuracy"]
    assert _value_after(text, "classifier accuracy") == f"{acc:.4f}"
    for k in ("top1", "top3", "top5"):
        assert _value_after(text, f"fidelity {k}") == f"{metrics['fidelity'][k]:.4f}"
    # faithfulness: one row per tau, four cells (tau, median, random median, selected)
    header = lines.index("mean selected")
    for tau, row in metrics["faithfulness"].items():
        i = lines.index(tau, header)
        assert lines[i + 1: i + 4] == [f"{row['median']:.4f}", f"{row['random_median']:.4f}",
                                       f"{row['mean_selected']:.1f}"]
    assert "no evaluation metrics" not in text
    assert "no training provenance" not in text


def test_the_raw_tab_holds_the_manifest_and_close_closes(qtbot, trained):
    dlg = _dialog(qtbot, trained)
    raw = dlg.findChild(QPlainTextEdit, "manifest_json")
    assert raw.isReadOnly()
    assert json.loads(raw.toPlainText()) == trained.manifest
    assert dlg.tabs.count() == 2 and dlg.tabs.widget(1) is raw
    dlg.show()
    qtbot.waitExposed(dlg)
    button = dlg.findChild(QPushButton, "manifest_close")
    button.click()
    assert not dlg.isVisible()
    assert dlg.result() == QDialog.DialogCode.Rejected


def test_an_unevaluated_bundle_says_so(qtbot):
    b = random_bundle(n_classes=4, k=7)
    dlg = _dialog(qtbot, b)
    text = dlg.summary.toPlainText()
    assert "This bundle has no evaluation metrics" in text
    assert "This bundle records no training provenance" in text
    assert _value_after(text, "K (components)") == "7"
    assert all(f"class {i}" in text for i in range(4))
    assert "fidelity" not in text and "accuracy" not in text


def test_manifest_text_is_shown_literally_not_as_html(qtbot):
    b = random_bundle()
    m = copy.deepcopy(b.manifest)
    m["classes"][0] = "<b>dog</b> & <i>cat</i>"
    m["name"] = "<script>x</script>"
    m["provenance"] = {"data": "/data/<i>esc</i>"}
    dlg = _dialog(qtbot, m)
    text = dlg.summary.toPlainText()
    lines = [line.strip() for line in text.splitlines()]
    assert "<b>dog</b> & <i>cat</i>" in lines
    assert lines[0] == "<script>x</script>"
    assert _value_after(text, "training data") == "/data/<i>esc</i>"


def test_the_shipped_bundle_shows_its_refinement_and_focus(qtbot):
    from engine.bundles.bundle import read_manifest
    from resources import default_bundle_path

    manifest = read_manifest(default_bundle_path())
    dialog = ManifestDialog(manifest)
    qtbot.addWidget(dialog)
    text = dialog.summary.toPlainText()
    steps = manifest["interpreter"]["refine_iterations"]
    assert f"refined on the input by {steps} NMF steps" in text
    focus = manifest["metrics"]["focus"]
    assert f"Focus on {focus['mixtures']} 0 dB mixtures" in text
    assert f"{focus['median_gain_db']:.2f}" in text
    assert f"{focus['median_gain_other_db']:.2f}" in text
